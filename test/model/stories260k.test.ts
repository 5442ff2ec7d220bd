/**
 * A real trained Llama (Karpathy's stories260K from llama2.c, in ../shared/data/models; see its
 * README) reproduces its documented greedy text on every CPU backend: weights that were trained,
 * not random, so a wrong kernel shows as wrong words, not as a small numeric drift.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend.ts';
import { loadModel } from '../../src/model/checkpoint.ts';
import { generate } from '../../src/model/generate.ts';
import { loadTokenizer } from '../../src/model/tokenizer.ts';
import { repoRoot } from '../helpers/cli.ts';
import { CPU_BACKENDS } from '../helpers/native.ts';

const DIR = join(repoRoot, '..', 'shared', 'data', 'models', 'stories260K');
// llama2.c's README: greedy decoding from BOS alone begins with this.
const DOCUMENTED = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';

describe.each(CPU_BACKENDS)('stories260K on %s', (backend) => {
  it('greedy decoding from BOS reproduces the documented opening, with and without the KV cache', async () => {
    await initBackend(backend, { log: () => {} });
    const model = await loadModel(DIR, { trainable: false });
    const tok = await loadTokenizer(DIR);
    for (const useCache of [true, false]) {
      const [g] = await generate(model, [[1]], { maxNewTokens: 40, useCache, eosTokenIds: [2] });
      const text = tok.decode(g.tokens, { skipSpecialTokens: true }).trim();
      expect(text.startsWith(DOCUMENTED), `${backend}, cache ${useCache}: ${text}`).toBe(true);
    }
    model.dispose();
  });
});
