/** report.md helpers: the same tables as report.html, as GitHub-flavoured Markdown. */
import { chartTable, type Chart } from './svg.ts';

/**
 * One table cell. Text is untrusted (model answers, prompts, dataset names): HTML is escaped so a
 * Markdown renderer shows `<script>` as text, pipes are escaped, and line breaks become spaces.
 */
export function mdCell(c: unknown): string {
  return String(c ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n|\r/g, ' ');
}

export function mdTable(header: string[], rows: unknown[][]): string {
  return [`| ${header.map(mdCell).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`)].join('\n');
}

/** A chart in Markdown: its title and its numbers (the HTML report's details table). */
export function chartMd(c: Chart, level = 3): string {
  const t = chartTable(c);
  return `${'#'.repeat(level)} ${mdCell(c.title)}\n\n${t.rows.length ? mdTable(t.header, t.rows) : '(no data)'}\n`;
}
