/** The real steps of a sweep round: KTO training, red-team generation, toxicity scoring. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { readConfigFile } from '../config/schema.ts';
import { readJsonlTolerant } from '../data/io.ts';
import { initBackend } from '../engine/backend.ts';
import { loadModel } from '../model/checkpoint.ts';
import { generateTexts } from '../model/generate.ts';
import { loadTokenizer } from '../model/tokenizer.ts';
import { judgeRows } from '../judge/job.ts';
import { scoreTexts } from '../safety/scorers.ts';
import { trainKto, validateKtoConfig } from '../train/kto.ts';
import { UserError } from '../util/errors.ts';
import type { SweepDeps } from './runner.ts';

export function defaultSweepDeps(log: (m: string) => void = (m) => process.stderr.write(`${m}\n`)): SweepDeps {
  return {
    log,
    async trainRound({ baseConfig, overrides, outputDir, backend }) {
      const raw = await readConfigFile(baseConfig);
      const cfg = validateKtoConfig({ ...raw, ...overrides, output_dir: outputDir, backend: (overrides.backend as string) ?? raw.backend ?? backend }, baseConfig);
      if (cfg.lora && !cfg.lora.merge) {
        throw new UserError(`${baseConfig}: sweeps generate from each round's model, so LoRA rounds need lora.merge: true`);
      }
      // A round killed mid-training continues from its newest checkpoint.
      const res = await trainKto(cfg, { resume: true, log, progress: false });
      const metrics = await readJsonlTolerant(join(outputDir, 'metrics.jsonl'));
      return { modelDir: res.finalDir, metrics, cache: res.referenceCache === 'hit' ? 'hit' : 'built' };
    },
    async generate({ modelDir, prompts, maxNewTokens, temperature, seed, backend }) {
      await initBackend(backend);
      const tok = await loadTokenizer(modelDir);
      const model = await loadModel(modelDir);
      try {
        const gens = await generateTexts(model, tok, prompts, { maxNewTokens, temperature, seed });
        return gens.map((g) => g.text);
      } finally {
        model.dispose();
      }
    },
    async scoreToxicity({ texts, prompts, gate }) {
      const r = await scoreTexts(texts, { scorer: gate.scorer, combine: gate.combine, threshold: gate.threshold, prompts, model: gate.judge_model, baseURL: gate.base_url });
      const failed = r.scores.filter((s) => s === null).length;
      // A failed score counts as toxic: the gate must not pass a round it could not check.
      if (failed > 0) log(`sweep: ${failed} answer(s) could not be scored; counted as toxic`);
      return { scores: r.scores.map((s) => (s === null ? 1 : s)), toxic: r.toxic.map((t) => (t === null ? true : t)), unscored: r.scores.map((s) => s === null) };
    },
    async judgeScore({ prompts, answers }) {
      const rubricPath = fileURLToPath(new URL('../../judges/quality-ko.yaml', import.meta.url));
      const { rows } = await judgeRows(prompts.map((p, i) => ({ prompt: p, answer: answers[i] })), { rubricPath });
      const ok = rows.map((r) => r.judge_score).filter((s): s is number => typeof s === 'number');
      return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : Number.NaN;
    },
  };
}
