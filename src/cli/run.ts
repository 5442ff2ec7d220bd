/** `ko-align run configs/<pipeline>.yaml`: the whole pipeline. */
import type { Command } from 'commander';
import { describeSchema } from '../config/schema.ts';
import { pipelineSchema } from '../pipeline/config.ts';
import { runPipeline } from '../pipeline/run.ts';

const collect = (v: string, prev: string[]) => [...prev, v];

export function register(program: Command): void {
  program
    .command('run')
    .description('curate -> judge -> review export -> SFT (NEFTune) -> reference cache -> gated KTO sweep -> eval -> report')
    .argument('<config>', 'pipeline config (configs/quickstart.yaml)')
    .option('--set <key=value>', 'override a config key (repeatable)', collect, [])
    .addHelpText('after', `\nConfig keys:\n${describeSchema(pipelineSchema)}`)
    .action(async (config: string, o) => {
      const t0 = Date.now();
      const r = await runPipeline(config, { sets: o.set });
      const best = r.sweep.best;
      console.log(`run directory: ${r.runDir}`);
      console.log(`rounds: ${r.sweep.rounds.map((x) => `${x.round}:${x.verdict}`).join(' ')}; promoted: ${best ? `round ${best.round} ${best.params}` : 'none'}`);
      for (const e of r.eval) console.log(`eval ${e.task} ${e.model}: acc ${e.acc.toFixed(3)}`);
      console.log(`report: ${r.reportPath}`);
      console.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
}
