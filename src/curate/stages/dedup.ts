/**
 * dedup: exact duplicates (sha256 of the simplified text: NFC, lowercase, no punctuation,
 * collapsed spaces) and near-duplicates (MinHash LSH on character 5-grams, 14 bands x 8 rows by
 * default). Streaming: each row is compared with the rows kept before it; the first row of a
 * cluster is kept, later members are rejected. Every row gets `dup_cluster` = the id of its
 * cluster's first row (its own id when it starts a cluster). Short texts are compared too.
 */
import type { Schema } from '../../config/schema.ts';
import type { Row } from '../../data/io.ts';
import { LshIndex, MinHasher } from '../../text/minhash.ts';
import { simplifyForDedup } from '../../text/normalize.ts';
import { sha256 } from '../../util/fs.ts';
import { answerOf, promptOf } from '../rows.ts';
import type { Decision, Stage, StageFactory } from '../stage.ts';
import { stageParams } from './params.ts';

export const dedupSchema: Schema = {
  field: { type: 'string', enum: ['prompt', 'answer', 'both'], default: 'both', help: 'which text is compared: the prompt, the answer, or both joined' },
  exact: { type: 'boolean', default: true, help: 'drop exact duplicates of the simplified text' },
  near: { type: 'boolean', default: true, help: 'drop near-duplicates found by MinHash LSH' },
  ngram: { type: 'integer', default: 5, min: 1, help: 'character n-gram size of the shingles' },
  bands: { type: 'integer', default: 14, min: 1, help: 'LSH bands' },
  rows: { type: 'integer', default: 8, min: 1, help: 'MinHash values per band' },
  seed: { type: 'integer', default: 42, help: 'seed of the MinHash permutations (deterministic)' },
};

export interface DedupParams {
  field: 'prompt' | 'answer' | 'both';
  exact: boolean;
  near: boolean;
  ngram: number;
  bands: number;
  rows: number;
  seed: number;
}

export function dedupText(row: Row, field: DedupParams['field']): string {
  if (field === 'prompt') return simplifyForDedup(promptOf(row));
  if (field === 'answer') return simplifyForDedup(answerOf(row));
  return `${simplifyForDedup(promptOf(row))}\n${simplifyForDedup(answerOf(row))}`;
}

export const dedupStage: StageFactory = (params, where): Stage => {
  const p = stageParams<DedupParams>(dedupSchema, params, where);
  return {
    name: 'dedup',
    async *process(rows: AsyncIterable<Row>): AsyncIterable<Decision> {
      const exact = new Map<string, string>();
      const hasher = new MinHasher({ bands: p.bands, rows: p.rows, ngram: p.ngram, seed: p.seed });
      const lsh = new LshIndex(hasher);
      let n = 0;
      for await (const row of rows) {
        n++;
        const id = typeof row.id === 'string' ? row.id : `row${n}`;
        const text = dedupText(row, p.field);
        let key: string | undefined;
        if (p.exact) {
          key = sha256(text).slice(0, 32);
          const first = exact.get(key);
          if (first !== undefined) {
            yield { row: { ...row, dup_cluster: first }, keep: false, reason: `exact_dup: same text as ${first}` };
            continue;
          }
        }
        let keys: number[] | undefined;
        if (p.near) {
          keys = hasher.bandKeys(hasher.signature(text));
          const first = lsh.query(keys);
          if (first !== undefined) {
            yield { row: { ...row, dup_cluster: first }, keep: false, reason: `near_dup: MinHash LSH match with ${first}` };
            continue;
          }
          lsh.insert(keys, id);
        }
        if (key !== undefined) exact.set(key, id);
        yield { row: { ...row, dup_cluster: id }, keep: true };
      }
    },
  };
};
