/** `ko-align curate`: run the curation pipeline of a config (stages, kept/rejected, manifest). */
import { Option, type Command } from 'commander';
import { describeSchema } from '../config/schema.ts';
import { curateSchema } from '../curate/config.ts';
import { DATA_FORMATS } from '../data/formats.ts';
import { runCuration } from '../curate/pipeline.ts';
import type { ProgressMode } from '../curate/progress.ts';
import type { Schema } from '../config/schema.ts';
import { normalizeSchema } from '../curate/stages/normalize.ts';
import { rulesSchema } from '../curate/stages/rules.ts';
import { piiSchema } from '../curate/stages/pii.ts';
import { dedupSchema } from '../curate/stages/dedup.ts';
import { perplexitySchema } from '../curate/stages/perplexity.ts';
import { judgeStageSchema } from '../curate/stages/judge.ts';
import { toxicitySchema } from '../curate/stages/toxicity.ts';

/** Each stage type's params, for --help. */
const STAGE_PARAMS: [string, Schema][] = [
  ['normalize', normalizeSchema],
  ['pii', piiSchema],
  ['rules', rulesSchema],
  ['dedup', dedupSchema],
  ['perplexity', perplexitySchema],
  ['judge', judgeStageSchema],
  ['toxicity', toxicitySchema],
];

export function register(program: Command): void {
  program
    .command('curate')
    .description('Curate instruction data: normalize -> pii -> rules -> dedup -> [perplexity] -> judge -> toxicity, as the config lists; writes kept.parquet, rejected.parquet (with stage + reason) and manifest.json; unchanged stages are reused')
    .requiredOption('--config <file>', 'curation config (YAML), e.g. configs/curate.yaml')
    .option('--set <key=value>', 'override a config key (repeatable), e.g. --set output_dir=runs/x', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .addOption(new Option('--progress <mode>', 'progress on stderr').choices(['auto', 'bar', 'lines', 'off']))
    .option('--format <name>', `row format of every input, overriding inputs[i].format: auto | ${DATA_FORMATS.join(' | ')}`)
    .option('--json', 'print the manifest as JSON on stdout')
    .addHelpText('after', () => {
      const stages = STAGE_PARAMS.map(([type, schema]) => `  ${type}:\n${describeSchema(schema, '    ')}`).join('\n');
      const items = (key: string) => {
        const f = curateSchema[key];
        return f.type === 'array' && f.items.type === 'object' ? `\n  ${key}[i]:\n${describeSchema(f.items.fields, '    ')}` : '';
      };
      return `\nConfig keys:\n${describeSchema(curateSchema)}${items('inputs')}${items('stages')}\n\nStage params (stages[i].params) by type:\n${stages}\n`;
    })
    .action(async (o: { config: string; set: string[]; progress?: ProgressMode; format?: string; json?: boolean }) => {
      const m = await runCuration(o.config, { sets: o.set, progress: o.progress, format: o.format });
      if (o.json) {
        process.stdout.write(JSON.stringify(m, null, 2) + '\n');
        return;
      }
      const lines = [`curated ${m.totals.in} rows: ${m.totals.kept} kept, ${m.totals.rejected} rejected`];
      for (const s of m.stages) {
        const why = Object.entries(s.reasons).map(([k, n]) => `${k} ${n}`).join(', ');
        lines.push(`  ${String(s.index).padStart(2)} ${s.name.padEnd(12)} in ${String(s.in).padStart(7)}  kept ${String(s.kept).padStart(7)}  rejected ${String(s.rejected).padStart(6)}${why ? `  (${why})` : ''}${s.cached ? '  [cached]' : ''}`);
      }
      lines.push(`kept:     ${m.outputs.kept}`, `rejected: ${m.outputs.rejected}`, `manifest: ${m.outputs.manifest}`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}
