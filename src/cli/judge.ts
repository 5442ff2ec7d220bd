/**
 * `ko-align judge ...`: score rows with an LLM judge (or the embedded heuristic), turn scores
 * into KTO labels, and run large jobs through the OpenAI Batch API. A thin shell over src/judge.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ModelPrice } from '../judge/client.ts';
import { writeFileAtomic } from '../util/fs.ts';
import { UserError } from '../util/errors.ts';

// The library (openai client, data readers) is imported when a judge command runs, so the other
// commands do not pay for loading it.
const judgesDefault = () => import('../judge/rubric.ts').then((m) => m.defaultRubricPath);

function int(name: string, min = 0) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
}

function num(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got '${v}'`);
    return n;
  };
}

function prices(model: string | undefined, o: { priceInput?: number; priceOutput?: number }): Record<string, ModelPrice> | undefined {
  if (o.priceInput === undefined && o.priceOutput === undefined) return undefined;
  return { [model ?? process.env.KO_ALIGN_JUDGE_MODEL ?? 'gpt-4o-mini']: { input: o.priceInput ?? 0, output: o.priceOutput ?? 0 } };
}

export function register(program: Command): void {
  const judge = program.command('judge').description('LLM-as-judge: score rows with a rubric, make KTO labels, batch jobs');

  judge
    .command('score')
    .description('score every row with a judge rubric (OpenAI-compatible endpoint, else the embedded heuristic judge)')
    .requiredOption('--input <file>', 'rows to judge (jsonl | json | parquet | arrow | csv)')
    .requiredOption('--output <file>', 'output rows: input columns + judge_score, judge_reason, judge_status, judge_raw, judge_model, judge_rubric, judge_flags')
    .option('--rubric <file>', 'rubric YAML (default judges/quality-ko.yaml)')
    .option('--model <name>', 'judge model (default $KO_ALIGN_JUDGE_MODEL or gpt-4o-mini)')
    .option('--base-url <url>', 'OpenAI-compatible base URL (default $OPENAI_BASE_URL)')
    .option('--concurrency <n>', 'requests in flight', int('--concurrency', 1), 8)
    .option('--max-retries <n>', 'retries per request on 429 / 5xx / timeouts', int('--max-retries'), 4)
    .option('--timeout-ms <n>', 'per-request timeout in ms', int('--timeout-ms', 1), 60_000)
    .option('--max-parse-retries <n>', 'extra requests when an answer has no parsable score', int('--max-parse-retries'), 2)
    .option('--cache <file>', 'durable judge cache (default <output>.cache.jsonl)')
    .option('--no-cache', 'do not read or write a judge cache')
    .option('--prompt-field <name>', 'column with the prompt')
    .option('--answer-field <name>', 'column with the answer')
    .option('--structured <mode>', 'response_format json_schema: auto | json_schema | off', 'auto')
    .option('--token-limit-param <name>', 'how the answer limit is sent: max_completion_tokens (OpenAI) | max_tokens (servers that need the old name)', 'max_completion_tokens')
    .option('--temperature-param <mode>', 'send the rubric temperature: auto (not to o1/o3/o4/gpt-5 reasoning models) | always | never', 'auto')
    .option('--price-input <usd>', 'USD per 1M prompt tokens of the judge model (cost accounting)', num('--price-input'))
    .option('--price-output <usd>', 'USD per 1M completion tokens of the judge model', num('--price-output'))
    .option('--heuristic', 'use the embedded heuristic judge even when an endpoint is configured')
    .option('--retry-failed', 'ask again for samples whose cached judgement is a failure')
    .option('--summary <file>', 'also write the job summary JSON here')
    .option('--max-failed-fraction <f>', 'exit non-zero (output still written) when more than this fraction of rows failed; all failing always does', num('--max-failed-fraction'), 0.5)
    .action(async (o) => {
      if (!['auto', 'json_schema', 'off'].includes(o.structured)) throw new UserError(`--structured must be auto, json_schema or off, got '${o.structured}'`);
      if (!(o.maxFailedFraction >= 0 && o.maxFailedFraction <= 1)) throw new UserError(`--max-failed-fraction must be in [0, 1], got ${o.maxFailedFraction}`);
      if (!['max_completion_tokens', 'max_tokens'].includes(o.tokenLimitParam)) throw new UserError(`--token-limit-param must be max_completion_tokens or max_tokens, got '${o.tokenLimitParam}'`);
      if (!['auto', 'always', 'never'].includes(o.temperatureParam)) throw new UserError(`--temperature-param must be auto, always or never, got '${o.temperatureParam}'`);
      let last = 0;
      const { judgeFile } = await import('../judge/job.ts');
      const summary = await judgeFile(o.input, o.output, {
        rubricPath: o.rubric ?? (await judgesDefault()),
        model: o.model,
        baseURL: o.baseUrl,
        concurrency: o.concurrency,
        maxRetries: o.maxRetries,
        timeoutMs: o.timeoutMs,
        maxParseRetries: o.maxParseRetries,
        cachePath: o.cache === false ? undefined : (o.cache ?? `${o.output}.cache.jsonl`),
        promptField: o.promptField,
        answerField: o.answerField,
        structured: o.structured,
        tokenLimitParam: o.tokenLimitParam,
        temperature: o.temperatureParam,
        prices: prices(o.model, o),
        heuristic: o.heuristic === true,
        retryFailed: o.retryFailed === true,
        maxFailedFraction: o.maxFailedFraction,
        onProgress: (done, total) => {
          const now = Date.now();
          if (done === total || now - last > 2000) {
            last = now;
            process.stderr.write(`judge: ${done}/${total}\n`);
          }
        },
      });
      if (o.summary) await writeFileAtomic(o.summary, JSON.stringify(summary, null, 2) + '\n');
      const cost = summary.costUsd === null ? 'cost unknown (no --price-input/--price-output)' : `$${summary.costUsd.toFixed(4)}`;
      process.stderr.write(
        `judge: ${summary.rows} rows with ${summary.rubric} by ${summary.model}${summary.heuristic ? ' (embedded heuristic judge, not an LLM)' : ''}: ` +
          `${summary.ok} ok, ${summary.failed} failed, ${summary.cached} from cache, ${summary.flagged} flagged; ` +
          `${summary.httpRequests} requests, ${summary.retries} retries, ${summary.promptTokens}+${summary.completionTokens} tokens, ${cost}\n`,
      );
      process.stdout.write(JSON.stringify(summary) + '\n');
    });

  judge
    .command('label')
    .description('make KTO rows (prompt, completion, label) from judge scores')
    .requiredOption('--input <file>', 'rows scored by `judge score`')
    .requiredOption('--output <file>', 'KTO rows')
    .option('--desirable-min <score>', 'judge_score >= this is desirable', num('--desirable-min'), 8)
    .option('--undesirable-max <score>', 'judge_score <= this is undesirable', num('--undesirable-max'), 4)
    .option('--prompt-field <name>', 'column with the prompt')
    .option('--answer-field <name>', 'column with the answer')
    .action(async (o) => {
      const { labelFile } = await import('../judge/label.ts');
      const s = await labelFile(o.input, o.output, { desirableMin: o.desirableMin, undesirableMax: o.undesirableMax, promptField: o.promptField, answerField: o.answerField });
      const total = s.desirable + s.undesirable;
      process.stdout.write(
        `labelled ${total} of ${s.rows} rows: desirable ${s.desirable} (${((100 * s.desirable) / total).toFixed(1)}%), ` +
          `undesirable ${s.undesirable} (${((100 * s.undesirable) / total).toFixed(1)}%), ratio ${Number.isFinite(s.ratio) ? s.ratio.toFixed(2) : 'inf'}:1; ` +
          `left out ${s.middle} between thresholds, ${s.unscored} unscored\n`,
      );
    });

  const batch = judge.command('batch').description('OpenAI Batch API: submit | status | collect');
  batch
    .command('submit')
    .description('upload one chat-completions request per row and create a batch')
    .requiredOption('--input <file>', 'rows to judge')
    .requiredOption('--state <file>', 'batch state file to write (used by status / collect)')
    .option('--rubric <file>', 'rubric YAML (default judges/quality-ko.yaml)')
    .option('--model <name>', 'judge model')
    .option('--base-url <url>', 'OpenAI-compatible base URL (default $OPENAI_BASE_URL)')
    .option('--prompt-field <name>', 'column with the prompt')
    .option('--answer-field <name>', 'column with the answer')
    .option('--requests <file>', 'also write the request JSONL here')
    .option('--cache <file>', 'judge cache: rows already scored in it are not sent (collect fills them in)')
    .option('--force', 'submit a new batch even when --state names a live one (pays every row again)')
    .action(async (o) => {
      const { submitBatch } = await import('../judge/batch.ts');
      const s = await submitBatch({ input: o.input, statePath: o.state, rubricPath: o.rubric ?? (await judgesDefault()), model: o.model, baseURL: o.baseUrl, promptField: o.promptField, answerField: o.answerField, requestsPath: o.requests, cachePath: o.cache, force: o.force === true });
      const what = s.batchId ? `batch ${s.batchId}` : 'no batch';
      const cached = s.cached ? `, ${s.cached} rows from the cache` : '';
      process.stdout.write(`${s.reused ? 'reused' : 'submitted'} ${what} (${s.sent} requests${cached}, ${s.rubric}, ${s.model}); state in ${o.state}\n`);
    });
  batch
    .command('status')
    .description('show a submitted batch\'s status')
    .requiredOption('--state <file>', 'batch state file from submit')
    .option('--base-url <url>', 'OpenAI-compatible base URL (default $OPENAI_BASE_URL)')
    .action(async (o) => {
      const { batchStatus } = await import('../judge/batch.ts');
      const s = await batchStatus({ statePath: o.state, baseURL: o.baseUrl });
      process.stdout.write(`batch ${s.id}: ${s.status}, ${s.completed}/${s.total} completed, ${s.failed} failed\n`);
    });
  batch
    .command('collect')
    .description('download a finished batch and join results back onto the input rows')
    .requiredOption('--state <file>', 'batch state file from submit')
    .requiredOption('--output <file>', 'output rows (same columns as `judge score`)')
    .option('--base-url <url>', 'OpenAI-compatible base URL (default $OPENAI_BASE_URL)')
    .option('--cache <file>', 'also record the results in this judge cache')
    .action(async (o) => {
      const { collectBatch } = await import('../judge/batch.ts');
      const s = await collectBatch({ statePath: o.state, output: o.output, baseURL: o.baseUrl, cachePath: o.cache });
      process.stdout.write(`collected batch ${s.batchId} (${s.status}): ${s.ok} ok, ${s.failed} failed (${s.missing} without a result) of ${s.rows} rows; ${s.promptTokens}+${s.completionTokens} tokens\n`);
    });
}
