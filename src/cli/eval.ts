/** `ko-align eval mc`: multiple-choice accuracy by log-likelihood. */
import { InvalidArgumentError, type Command } from 'commander';
import { evalMcFile } from '../eval/score.ts';
import { MC_TASKS, type McTask } from '../eval/mc.ts';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be an integer >= 0, got '${v}'`);
  return n;
};

export function register(program: Command): void {
  const ev = program.command('eval').description('evaluation');
  ev.command('mc')
    .description('multiple-choice accuracy by option log-likelihood (generic question/choices/answer as CLIcK, HAE-RAE, KMMLU, KoBEST, KorMedMCQA layouts)')
    .requiredOption('--model <dir>', 'Hugging Face model directory')
    .requiredOption('--data <file>', 'test split (jsonl | parquet | ...) as published on the Hugging Face hub')
    .option('--dev <file>', 'dev split for few-shot examples')
    .option('--shots <k>', 'few-shot examples', int('--shots'), 0)
    .option('--task <name>', `auto (detects the layout and says which) | ${MC_TASKS.join(' | ')}`, 'auto')
    .option('--answer-base <n>', 'generic layout: numeric answers are 0- or 1-based (default: told from the rows, else 0)', (v: string) => {
      if (v !== '0' && v !== '1') throw new InvalidArgumentError(`--answer-base must be 0 or 1, got '${v}'`);
      return Number(v) as 0 | 1;
    })
    .option('--limit <n>', 'evaluate only the first n items (0 = all)', int('--limit'), 0)
    .option('--seed <n>', 'seed for picking few-shot examples', int('--seed'), 1234)
    .option('--backend <name>', 'auto | tensorflow | webgpu | native | wasm | cpu', 'auto')
    .option('--json', 'print the result as JSON')
    .action(async (o) => {
      const r = await evalMcFile({ model: o.model, data: o.data, dev: o.dev, shots: o.shots, task: o.task as McTask | 'auto', limit: o.limit, seed: o.seed, backend: o.backend, answerBase: o.answerBase });
      if (o.json) console.log(JSON.stringify(r));
      else console.log(`${r.task} (${r.shots}-shot, n=${r.n}): acc ${r.acc.toFixed(4)}  acc_norm ${r.acc_norm.toFixed(4)}`);
    });
}
