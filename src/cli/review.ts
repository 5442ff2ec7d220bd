/**
 * `ko-align review export|import`: hand curated / scored rows to human reviewers (Label Studio,
 * Argilla, CSV, or an offline HTML page) and bring their decisions back. A thin shell over
 * src/review.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { exportReview, parseReviewFormat, REVIEW_FORMATS } from '../review/export.ts';
import { importReview } from '../review/import.ts';
import { formatAgreement } from '../review/agreement.ts';
import { DEFAULT_THRESHOLD } from '../review/items.ts';
import { UserError } from '../util/errors.ts';

function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got '${v}'`);
    return n;
  };
}

function num(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got '${v}'`);
    return n;
  };
}

const LIST_MAX = 10;

export function register(program: Command): void {
  const review = program.command('review').description('human review: export samples to review tools, import the decisions back');

  review
    .command('export')
    .description('write curated / scored rows for human review (Label Studio, Argilla, CSV, offline HTML page)')
    .requiredOption('--input <file>', 'curated or scored rows (jsonl | json | parquet | arrow | csv)')
    .requiredOption(
      '--output <path>',
      'csv / html: the file; label-studio / argilla: a directory (tasks.json + label_config.xml / records.json + settings.json) or a .json file with its companion beside it',
    )
    .requiredOption('--format <format>', `one of ${REVIEW_FORMATS.join(', ')}`, (v: string) => {
      try {
        return parseReviewFormat(v);
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message.replace(/^--format: /, ''));
      }
    })
    .option('--sample <n>', 'draw N items (default: every item)', positiveInt('--sample'))
    .option('--stratify-by <column>', 'stratify the sample on this column (e.g. judge_score; numbers bucketed by integer part)')
    .option('--seed <seed>', 'sampling seed: the same seed and rows give the same sample', '0')
    .option('--allocation <mode>', 'stratified allocation: proportional (at least one per bucket) | equal', 'proportional')
    .option('--threshold <score>', `the judge accepts at judge_score >= this (shown to reviewers)`, num('--threshold'), DEFAULT_THRESHOLD)
    .action(async (o) => {
      if (o.allocation !== 'proportional' && o.allocation !== 'equal') {
        throw new UserError(`--allocation must be proportional or equal, got '${o.allocation}'`);
      }
      const r = await exportReview({
        input: o.input,
        output: o.output,
        format: o.format,
        sample: o.sample,
        stratifyBy: o.stratifyBy,
        seed: o.seed,
        threshold: o.threshold,
        allocation: o.allocation,
      });
      const dup = r.rows - r.distinct;
      process.stdout.write(
        `exported ${r.exported} of ${r.distinct} items (${r.rows} rows${dup ? `, ${dup} duplicate rows share an item` : ''}) as ${r.format}\n`,
      );
      if (r.strata) {
        const parts = Object.entries(r.strata).map(([k, s]) => `${k}: ${s.drawn}/${s.available}`);
        process.stdout.write(`strata (${o.stratifyBy}): ${parts.join(', ')}\n`);
      }
      for (const f of r.files) process.stdout.write(`wrote ${f}\n`);
    });

  review
    .command('import')
    .description('join reviewers\' decisions back onto the rows; human decisions override the judge')
    .requiredOption(
      '--decisions <files...>',
      'decisions: Label Studio JSON export, Argilla records, the filled review CSV, or the review page\'s decisions JSON (several files: one per reviewer)',
    )
    .requiredOption('--input <file>', 'the rows that were exported (or the whole curated file)')
    .requiredOption('--output <file>', 'rows + review_id, review_status, review_decision, review_rating, review_comment, reviewer, reviewed_at, label, label_source; report at <output>.review.json')
    .option('--threshold <score>', 'the judge accepts at judge_score >= this (for the agreement)', num('--threshold'), DEFAULT_THRESHOLD)
    .action(async (o) => {
      const r = await importReview({ decisions: o.decisions, input: o.input, output: o.output, threshold: o.threshold });
      const out = process.stdout;
      for (const s of r.sources) out.write(`read ${s.decisions} decisions from ${s.file} (${s.format})\n`);
      const c = r.counts;
      out.write(
        `${r.rows} rows, ${r.items} items: ${c.accepted} accepted, ${c.rejected} rejected, ${c.conflict} in conflict, ` +
          `${c.incomplete} rated or commented only, ${c.unreviewed} not reviewed\n`,
      );
      if (r.superseded) out.write(`${r.superseded} earlier decisions replaced by the same reviewer's later one\n`);
      out.write(`${formatAgreement(r.agreement)}\n`);
      if (r.conflicts.length) {
        out.write(`conflicts (${r.conflicts.length}; not resolved, the judge's label is kept):\n`);
        for (const cf of r.conflicts.slice(0, LIST_MAX)) {
          const who = cf.decisions.map((d) => `${d.reviewer ?? '?'}=${cf.kind === 'decision' ? d.decision : d.rating}`).join(', ');
          out.write(`  ${cf.id} ${cf.kind}: ${who}\n`);
        }
        if (r.conflicts.length > LIST_MAX) out.write(`  ... ${r.conflicts.length - LIST_MAX} more in ${r.report}\n`);
      }
      if (r.unknown.length) {
        out.write(`unknown ids (${r.unknown.length} decisions match no input row):\n`);
        for (const u of r.unknown.slice(0, LIST_MAX)) out.write(`  ${u.id} (${u.source})\n`);
        if (r.unknown.length > LIST_MAX) out.write(`  ... ${r.unknown.length - LIST_MAX} more in ${r.report}\n`);
      }
      out.write(`wrote ${r.output}\nwrote ${r.report}\n`);
    });
}
