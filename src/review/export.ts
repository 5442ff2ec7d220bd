/**
 * `review export`: curated / scored rows -> files a reviewer opens in Label Studio, Argilla, a
 * spreadsheet, or a browser (the offline page).
 */
import { basename, dirname, extname, join } from 'node:path';
import { readRows, type Row } from '../data/io.ts';
import { UserError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/fs.ts';
import { DEFAULT_THRESHOLD, rowToItem, stratifiedSample, stratumOf, type ReviewItem } from './items.ts';
import { labelStudioConfig, toLabelStudioTasks } from './labelstudio.ts';
import { argillaSettings, toArgillaRecords } from './argilla.ts';
import { toReviewCsv } from './csv.ts';
import { exportIdOf, reviewPage } from './html.ts';

export const REVIEW_FORMATS = ['label-studio', 'argilla', 'csv', 'html'] as const;
export type ReviewFormat = (typeof REVIEW_FORMATS)[number];

export interface ExportReviewOptions {
  /** Curated or scored rows (jsonl | json | parquet | arrow | csv; any supported dataset format). */
  input: string;
  /**
   * Where to write. csv / html: the file. label-studio / argilla: a directory (tasks.json +
   * label_config.xml, or records.json + settings.json), or a .json file with the companion file
   * beside it (<name>.label_config.xml / <name>.settings.json).
   */
  output: string;
  format: ReviewFormat;
  /** Draw this many items (all items when omitted). */
  sample?: number;
  /** Column to stratify the sample on (e.g. judge_score; numbers bucketed by integer part). */
  stratifyBy?: string;
  /** Sampling seed (default 0). */
  seed?: string | number;
  /** The judge accepts at judge_score >= threshold (default 7). */
  threshold?: number;
  allocation?: 'proportional' | 'equal';
}

export interface ExportReviewResult {
  format: ReviewFormat;
  /** Files written, main file first. */
  files: string[];
  /** Rows read from the input. */
  rows: number;
  /** Distinct items (rows with the same prompt and answer share one item). */
  distinct: number;
  /** Items exported. */
  exported: number;
  /** Per-stratum counts when the sample was stratified. */
  strata?: Record<string, { available: number; drawn: number }>;
  exportId: string;
  threshold: number;
}

export function parseReviewFormat(v: string): ReviewFormat {
  if ((REVIEW_FORMATS as readonly string[]).includes(v)) return v as ReviewFormat;
  throw new UserError(`--format: unknown review format '${v}', expected one of ${REVIEW_FORMATS.join(', ')}`);
}

/** Reads the input into distinct review items (first occurrence of each content hash). */
export async function loadReviewItems(
  input: string,
  threshold: number,
  stratifyBy?: string,
): Promise<{ items: ReviewItem[]; rows: number }> {
  const seen = new Set<string>();
  const items: ReviewItem[] = [];
  let rows = 0;
  let hasColumn = false;
  for await (const row of readRows(input) as AsyncIterable<Row>) {
    rows++;
    const it = rowToItem(row, rows, threshold, `${input}: row ${rows}`);
    if (stratifyBy !== undefined) {
      if (stratifyBy in row) hasColumn = true;
      it.stratum = stratumOf(row[stratifyBy]);
    }
    if (seen.has(it.id)) continue;
    seen.add(it.id);
    items.push(it);
  }
  if (rows === 0) throw new UserError(`${input}: no rows to review`);
  if (stratifyBy !== undefined && !hasColumn) {
    throw new UserError(`--stratify-by: column '${stratifyBy}' is not in ${input}`);
  }
  return { items, rows };
}

function companionPaths(output: string, mainName: string, sideName: string, sideSuffix: string): [string, string] {
  if (extname(output).toLowerCase() === '.json') {
    const stem = basename(output, extname(output));
    return [output, join(dirname(output), `${stem}${sideSuffix}`)];
  }
  return [join(output, mainName), join(output, sideName)];
}

export async function exportReview(opts: ExportReviewOptions): Promise<ExportReviewResult> {
  const format = parseReviewFormat(opts.format);
  const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
  if (!Number.isFinite(threshold)) throw new UserError(`--threshold: expected a number, got ${opts.threshold}`);
  if (opts.stratifyBy !== undefined && opts.sample === undefined) {
    throw new UserError('--stratify-by needs --sample N (how many items to draw)');
  }
  const { items: all, rows } = await loadReviewItems(opts.input, threshold, opts.stratifyBy);
  let items = all;
  let strata: ExportReviewResult['strata'];
  if (opts.sample !== undefined) {
    const drawn = stratifiedSample(
      all,
      { n: opts.sample, stratifyBy: opts.stratifyBy, seed: opts.seed ?? 0, allocation: opts.allocation },
      (it) => it.stratum,
    );
    items = drawn.sample;
    if (opts.stratifyBy !== undefined) strata = drawn.strata;
  }
  const files: string[] = [];
  switch (format) {
    case 'label-studio': {
      const [tasksPath, configPath] = companionPaths(opts.output, 'tasks.json', 'label_config.xml', '.label_config.xml');
      await writeFileAtomic(tasksPath, JSON.stringify(toLabelStudioTasks(items, threshold), null, 2) + '\n');
      await writeFileAtomic(configPath, labelStudioConfig());
      files.push(tasksPath, configPath);
      break;
    }
    case 'argilla': {
      const [recordsPath, settingsPath] = companionPaths(opts.output, 'records.json', 'settings.json', '.settings.json');
      await writeFileAtomic(recordsPath, JSON.stringify(toArgillaRecords(items), null, 2) + '\n');
      await writeFileAtomic(settingsPath, JSON.stringify(argillaSettings(), null, 2) + '\n');
      files.push(recordsPath, settingsPath);
      break;
    }
    case 'csv':
      await writeFileAtomic(opts.output, toReviewCsv(items));
      files.push(opts.output);
      break;
    case 'html':
      await writeFileAtomic(opts.output, reviewPage(items, { threshold, title: basename(opts.input) }));
      files.push(opts.output);
      break;
  }
  return { format, files, rows, distinct: all.length, exported: items.length, strata, exportId: exportIdOf(items, threshold), threshold };
}
