/** The list of command groups. Each group file exports `register(program)`. */
import type { Command } from 'commander';
import { register as registerTokenizer } from './tokenizer.ts';
import { register as registerConvert } from './convert.ts';
import { register as registerCurate } from './curate.ts';
import { register as registerJudge } from './judge.ts';
import { register as registerToxicity } from './toxicity.ts';
import { register as registerReview } from './review.ts';
import { register as registerSweep } from './sweep.ts';
import { register as registerEval } from './eval.ts';
import { register as registerRun } from './run.ts';
import { register as registerModel } from './model.ts';
import { register as registerTrain } from './train.ts';

export function registerCommands(program: Command): void {
  registerTokenizer(program);
  registerConvert(program);
  registerCurate(program);
  registerJudge(program);
  registerToxicity(program);
  registerReview(program);
  registerSweep(program);
  registerEval(program);
  registerRun(program);
  registerModel(program);
  registerTrain(program);
  void program;
}
