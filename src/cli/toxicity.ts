/**
 * `ko-align toxicity ...`: score rows for toxicity (embedded classifier, safety judge, or the
 * OpenAI moderation endpoint) and train the embedded classifier. A thin shell over src/safety.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { resolve } from 'node:path';
import { defaultModelDir } from '../safety/classifier.ts';
import { scoreToxicityFile, SCORERS } from '../safety/scorers.ts';
import { trainToxicityModel } from '../safety/train.ts';

const DEFAULT_DATA = '../shared/data/korean-hate-speech';

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

export function register(program: Command): void {
  const tox = program.command('toxicity').description('toxicity scoring (classifier | judge | moderation) and the embedded classifier');

  tox
    .command('score')
    .description('add toxicity (0..1) and toxic (bool at the threshold) to every row')
    .requiredOption('--input <file>', 'rows to score (jsonl | json | parquet | arrow | csv)')
    .requiredOption('--output <file>', 'output rows: input columns + toxicity, toxic, toxicity_scorer (+ toxicity_category, toxicity_error)')
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
    .action(async (o) => {
      const s = await scoreToxicityFile(o.input, o.output, {
        scorer: o.scorer,
        field: o.field,
        threshold: o.threshold,
        modelDir: o.modelDir,
        rubricPath: o.rubric,
        model: o.model,
        baseURL: o.baseUrl,
        promptField: o.promptField,
        concurrency: o.concurrency,
        maxRetries: o.maxRetries,
        cachePath: o.cache,
      });
      const failed = s.failed > 0 ? `, ${s.failed} not scored` : '';
      process.stdout.write(
        `toxicity: ${s.toxic}/${s.scored} toxic (${(s.toxicRate * 100).toFixed(1)}%)${failed}, mean ${s.meanToxicity === null ? 'n/a' : s.meanToxicity.toFixed(4)}, ` +
          `scorer ${s.scorerId}, threshold ${s.threshold.toFixed(4)} -> ${o.output}\n`,
      );
    });

  tox
    .command('train')
    .description('train the embedded classifier on the Korean hate-speech corpus (deterministic: same data, same weights)')
    .option('--data <dir>', 'folder with train.tsv (+ dev.tsv for metrics, LICENSE.md)', DEFAULT_DATA)
    .option('--out <dir>', 'model directory to write (model.json, weights.f16, README.md, LICENSE.md)', defaultModelDir())
    .option('--target-fpr <x>', 'default threshold: false-positive rate on clean training comments (out-of-fold)', num('--target-fpr'), 0.1)
    .option('--limit <n>', 'use only the first N training rows', int('--limit', 1))
    .action(async (o) => {
      const argv = ['ko-align toxicity train'];
      argv.push(`--data ${o.data}`);
      if (resolve(o.out) !== resolve(defaultModelDir())) argv.push(`--out ${o.out}`);
      if (o.targetFpr !== 0.1) argv.push(`--target-fpr ${o.targetFpr}`);
      if (o.limit !== undefined) argv.push(`--limit ${o.limit}`);
      const r = await trainToxicityModel({
        dataDir: o.data,
        outDir: o.out,
        targetFpr: o.targetFpr,
        limit: o.limit,
        commandLine: argv.join(' '),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      const d = r.dev?.all;
      process.stdout.write(
        `toxicity train: wrote ${r.outDir} (${r.header.weights.length} float16 weights, sha256 ${r.header.weights.sha256.slice(0, 12)}, threshold ${r.header.threshold.toFixed(4)}) in ${r.seconds.toFixed(1)} s` +
          (d ? `; dev precision ${d.precision.toFixed(4)} recall ${d.recall.toFixed(4)} F1 ${d.f1.toFixed(4)} AUROC ${d.auroc.toFixed(4)}` : '') +
          '\n',
      );
    });
}
