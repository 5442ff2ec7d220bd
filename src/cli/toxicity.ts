/**
 * `ko-align toxicity ...`: score rows for toxicity (embedded classifier, safety judge, or the
 * OpenAI moderation endpoint) and train the embedded classifier. A thin shell over src/safety.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { resolve } from 'node:path';
import { defaultModelDir } from '../safety/classifier.ts';
import { evaluateToxicityFile, formatEvalTable } from '../safety/evaluate.ts';
import { scoreToxicityFile, SCORERS, type ToxicityOptions } from '../safety/scorers.ts';
import { trainOnSources } from '../safety/train-sources.ts';

const DEFAULT_DATA = ['../shared/data/korean-hate-speech', '../shared/data/toxicity-ko'];

function num(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got '${v}'`);
    return n;
  };
}

function int(name: string, min = 0) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
}

/** The scorer flags `toxicity score` and `toxicity eval` share. */
function withScorerOptions(cmd: Command): Command {
  return cmd
    .option('--scorer <name>', `${SCORERS.join(' | ')}`, 'classifier')
    .option('--field <name>', 'column holding the text to score', 'text')
    .option('--threshold <x>', 'toxic when toxicity >= x (default: the classifier threshold in models/toxicity-ko/model.json; 0.5 for judge and moderation)', num('--threshold'))
    .option('--model-dir <dir>', 'classifier: model directory (default: the committed models/toxicity-ko)')
    .option('--rubric <file>', 'judge: rubric YAML (default judges/safety-ko.yaml)')
    .option('--model <name>', 'judge: judge model; moderation: moderation model (default omni-moderation-latest)')
    .option('--base-url <url>', 'judge / moderation: OpenAI-compatible base URL (default $OPENAI_BASE_URL)')
    .option('--prompt-field <name>', 'judge: column with the prompt the text answers')
    .option('--concurrency <n>', 'judge / moderation: requests in flight', int('--concurrency', 1))
    .option('--max-retries <n>', 'judge / moderation: retries on 429 / 5xx / timeouts', int('--max-retries'))
    .option('--cache <file>', 'judge: durable judge cache file')
    .option('--combine <how>', 'combined: max | mean of the classifier and judge scores', 'max');
}

/** The scorer flags as ToxicityOptions. */
function scorerOptions(o: Record<string, unknown>): ToxicityOptions {
  return {
    scorer: o.scorer as string,
    combine: o.combine as ToxicityOptions['combine'],
    field: o.field as string,
    threshold: o.threshold as number | undefined,
    modelDir: o.modelDir as string | undefined,
    rubricPath: o.rubric as string | undefined,
    model: o.model as string | undefined,
    baseURL: o.baseUrl as string | undefined,
    promptField: o.promptField as string | undefined,
    concurrency: o.concurrency as number | undefined,
    maxRetries: o.maxRetries as number | undefined,
    cachePath: o.cache as string | undefined,
  };
}

export function register(program: Command): void {
  const tox = program.command('toxicity').description('toxicity scoring (classifier | judge | moderation | combined) and the embedded classifier');

  const score = tox
    .command('score')
    .description('add toxicity (0..1) and toxic (bool at the threshold) to every row')
    .requiredOption('--input <file>', 'rows to score (jsonl | json | parquet | arrow | csv)')
    .requiredOption('--output <file>', 'output rows: input columns + toxicity, toxic, toxicity_scorer (+ toxicity_category, toxicity_error)');
  withScorerOptions(score).action(async (o) => {
    const s = await scoreToxicityFile(o.input, o.output, scorerOptions(o));
    const failed = s.failed > 0 ? `, ${s.failed} not scored` : '';
    process.stdout.write(
      `toxicity: ${s.toxic}/${s.scored} toxic (${(s.toxicRate * 100).toFixed(1)}%)${failed}, mean ${s.meanToxicity === null ? 'n/a' : s.meanToxicity.toFixed(4)}, ` +
        `scorer ${s.scorerId}, threshold ${s.threshold.toFixed(4)} -> ${o.output}\n`,
    );
  });

  const evalCmd = tox
    .command('eval')
    .description('measure a scorer on labelled rows: AUROC, F1, precision, recall, FPR at the threshold, calibration error (ECE), overall and per group')
    .requiredOption('--input <file>', 'labelled rows (jsonl | json | parquet | arrow | csv)')
    .option('--label-field <name>', 'column with the ground truth: true/false, 1/0 or toxic/clean', 'toxic')
    .option('--group-by <name>', 'column to break the metrics down by (e.g. source)')
    .option('--output <file>', 'also write the scored rows here')
    .option('--report <file>', 'also write the metrics as JSON here');
  withScorerOptions(evalCmd).action(async (o) => {
    const r = await evaluateToxicityFile({ input: o.input, labelField: o.labelField, groupBy: o.groupBy, output: o.output, report: o.report, ...scorerOptions(o) });
    process.stdout.write(`${formatEvalTable(r)}\n`);
  });

  tox
    .command('train')
    .description('train the embedded classifier on several Korean sources (deterministic: same data, same weights)')
    .option('--data <paths...>', 'sources: a BEEP! folder (train.tsv + dev.tsv), folders of text/label .tsv files, or .tsv files', DEFAULT_DATA)
    .option('--out <dir>', 'model directory to write (model.json, weights.f16, README.md, LICENSE.md)', defaultModelDir())
    .option('--target-fpr <x>', 'default threshold: false-positive rate on clean calibration rows (calibrated scores)', num('--target-fpr'), 0.1)
    .action(async (o) => {
      const data = o.data as string[];
      const argv = ['ko-align toxicity train'];
      argv.push(`--data ${data.join(' ')}`);
      if (resolve(o.out) !== resolve(defaultModelDir())) argv.push(`--out ${o.out}`);
      if (o.targetFpr !== 0.1) argv.push(`--target-fpr ${o.targetFpr}`);
      const r = await trainOnSources({
        data,
        outDir: o.out,
        targetFpr: o.targetFpr,
        commandLine: argv.join(' '),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      const p = r.evaluation.pooled;
      process.stdout.write(
        `toxicity train: wrote ${o.out} (${r.header.weights.length} float16 weights, sha256 ${r.header.weights.sha256.slice(0, 12)}, threshold ${r.header.threshold.toFixed(4)}) in ${r.seconds.toFixed(1)} s` +
          `; test AUROC ${p.auroc.toFixed(4)} F1 ${p.f1.toFixed(4)} precision ${p.precision.toFixed(4)} ECE ${p.ece.toFixed(4)}\n`,
      );
    });
}
