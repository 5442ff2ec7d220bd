/**
 * `ko-align train <method> --config <yaml> [--set key=value ...] [--resume]`: thin shells over
 * the trainers. Each method is one block below: `train sft` (this file's owner) and, beside it,
 * `train kto` (added the same way: loadXConfig -> trainX -> print).
 */
import type { Command } from 'commander';
import { describeSchema } from '../config/schema.ts';
import { loadSftConfig, trainSft } from '../train/sft.ts';
import { SFT_SCHEMA } from '../train/sft-config.ts';
import { loadKtoConfig, trainKto } from '../train/kto.ts';
import { KTO_SCHEMA } from '../train/kto-config.ts';
import type { TrainResult } from '../train/trainer.ts';

const collect = (v: string, prev: string[]) => [...prev, v];

/** `--format X` is `--set dataset.format=X` (validated like the config key). */
const formatOverride = (sets: string[], format?: string) => (format === undefined ? sets : [...sets, `dataset.format=${format}`]);

/** The one-line summary every train command prints on success. */
export function printTrainResult(method: string, r: TrainResult): void {
  const last = [...r.metrics].reverse().find((m) => m.loss !== undefined);
  const evalLine = [...r.metrics].reverse().find((m) => m.eval_loss !== undefined);
  const parts = [`${method}: ${r.steps} step(s)`];
  if (r.resumedFrom > 0) parts.push(`resumed from step ${r.resumedFrom}`);
  if (last?.loss !== undefined) parts.push(`final loss ${last.loss.toFixed(4)}`);
  if (evalLine?.eval_loss !== undefined) parts.push(`eval_loss ${evalLine.eval_loss.toFixed(4)}`);
  parts.push(`model ${r.finalDir}`);
  process.stdout.write(`${parts.join(', ')}\n`);
}

export function register(program: Command): void {
  const trainCmd = program.command('train').description('Fine-tune a model: sft (NEFTune, LoRA, staged training), kto');

  // ---- train sft ----
  trainCmd
    .command('sft')
    .description('Supervised fine-tuning with NEFTune, packing, LoRA and staged training (TRL SFTTrainer semantics)')
    .requiredOption('--config <yaml>', 'SFT config file (see configs/sft.yaml)')
    .option('--set <key=value>', 'override a config key (repeatable), e.g. --set learning_rate=1e-5', collect, [])
    .option('--resume', 'continue from the newest checkpoint in output_dir')
    .option('--format <name>', 'row format of the dataset, overriding dataset.format (auto detects per row)')
    .option('--adapter <dir>', 'continue training this PEFT LoRA adapter (sets the adapter key)')
    .addHelpText('after', `\nConfig keys:\n${describeSchema(SFT_SCHEMA)}`)
    .action(async (o: { config: string; set: string[]; resume?: boolean; format?: string; adapter?: string }) => {
      const sets = formatOverride(o.set, o.format);
      const cfg = await loadSftConfig(o.config, o.adapter ? [...sets, `adapter=${o.adapter}`] : sets);
      const r = await trainSft(cfg, { resume: o.resume === true, source: o.config });
      printTrainResult('sft', r);
    });

  // ---- train kto ----
  trainCmd
    .command('kto')
    .description('KTO on unpaired desirable / undesirable examples (TRL KTOTrainer semantics), reference log-probs from the cache')
    .requiredOption('--config <yaml>', 'KTO config file (see configs/kto.yaml)')
    .option('--set <key=value>', 'override a config key (repeatable), e.g. --set beta=0.2', collect, [])
    .option('--resume', 'continue from the newest checkpoint in output_dir')
    .option('--format <name>', 'row format of the dataset, overriding dataset.format (auto detects per row)')
    .addHelpText('after', `\nConfig keys:\n${describeSchema(KTO_SCHEMA)}`)
    .action(async (o: { config: string; set: string[]; resume?: boolean; format?: string }) => {
      const cfg = await loadKtoConfig(o.config, formatOverride(o.set, o.format));
      const r = await trainKto(cfg, { resume: o.resume === true, source: o.config });
      printTrainResult('kto', r);
      process.stdout.write(`reference cache: ${r.referenceCache} (key ${r.referenceCacheKey})\n`);
    });
}
