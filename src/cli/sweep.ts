/** `ko-align sweep` and `ko-align kto precompute-ref`: thin shells over src/sweep and src/train/kto. */
import type { Command } from 'commander';
import { describeSchema } from '../config/schema.ts';
import { defaultSweepDeps } from '../sweep/deps.ts';
import { sweepSchema } from '../sweep/config.ts';
import { runSweep } from '../sweep/runner.ts';
import { loadKtoConfig, precomputeReference } from '../train/kto.ts';

const collect = (v: string, prev: string[]) => [...prev, v];

export function register(program: Command): void {
  program
    .command('sweep')
    .description('KTO hyperparameter rounds from one cached reference, each gated on red-team toxicity')
    .requiredOption('--config <file>', 'sweep config (configs/sweeps/*.yaml)')
    .option('--set <key=value>', 'override a config key (repeatable)', collect, [])
    .addHelpText('after', `\nConfig keys:\n${describeSchema(sweepSchema)}`)
    .action(async (o) => {
      const res = await runSweep(o.config, defaultSweepDeps(), { sets: o.set });
      const passed = res.rounds.filter((r) => r.verdict === 'pass').length;
      console.log(`${res.rounds.length} rounds, ${passed} passed the gate (baseline toxic rate ${res.baselineToxicRate.toFixed(3)})`);
      console.log(res.best ? `best: round ${res.best.round} ${res.best.params}` : 'best: none (no round passed)');
      console.log(`rounds: ${res.roundsPath}`);
      console.log(`report: ${res.reportPath}`);
    });

  const kto = program.command('kto').description('KTO utilities');
  kto
    .command('precompute-ref')
    .description('compute the reference log-probs of a KTO config once and store them in ref_logps_cache')
    .requiredOption('--config <file>', 'KTO config (configs/kto.yaml)')
    .option('--set <key=value>', 'override a config key (repeatable)', collect, [])
    .action(async (o) => {
      const cfg = await loadKtoConfig(o.config, o.set);
      const r = await precomputeReference(cfg);
      console.log(`reference cache ${r.status}: key ${r.key} in ${r.dir}`);
    });
}
