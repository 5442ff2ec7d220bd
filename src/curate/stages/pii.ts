/**
 * pii: find e-mails, phone numbers, 주민등록번호, card numbers and IP addresses in every text
 * column; `mask` replaces them with typed placeholders ([EMAIL], [PHONE], ...) and keeps the row,
 * `drop` rejects the row. Either way the row records `pii_types` (the types found, sorted).
 */
import type { Schema } from '../../config/schema.ts';
import type { Row } from '../../data/io.ts';
import { findPii, maskPii, PII_TYPES, type PiiType } from '../../text/pii.ts';
import { UserError } from '../../util/errors.ts';
import { mapRowStrings } from '../rows.ts';
import type { Decision, Stage, StageFactory } from '../stage.ts';
import { stageParams } from './params.ts';

export const piiSchema: Schema = {
  mode: { type: 'string', enum: ['mask', 'drop'], default: 'mask', help: 'mask: replace PII with typed placeholders and keep the row; drop: reject the row' },
  types: { type: 'string|string[]', default: [...PII_TYPES], help: `PII types to look for (${PII_TYPES.join(', ')})` },
  rrn_checksum: { type: 'boolean', default: true, help: 'resident registration numbers must pass the checksum (false: any YYMMDD-Gxxxxxx with a valid date)' },
};

export interface PiiParams {
  mode: 'mask' | 'drop';
  types: string[];
  rrn_checksum: boolean;
}

export const piiStage: StageFactory = (params, where): Stage => {
  const p = stageParams<PiiParams>(piiSchema, params, where);
  for (const t of p.types) {
    if (!PII_TYPES.includes(t as PiiType)) throw new UserError(`${where}: key 'params.types' has unknown type '${t}' (expected ${PII_TYPES.join(', ')})`);
  }
  const opts = { types: p.types as PiiType[], rrnChecksum: p.rrn_checksum };
  return {
    name: 'pii',
    async *process(rows: AsyncIterable<Row>): AsyncIterable<Decision> {
      for await (const row of rows) {
        const found = new Set<PiiType>();
        let out: Row;
        if (p.mode === 'mask') {
          out = mapRowStrings(row, (s) => {
            const m = maskPii(s, opts);
            for (const sp of m.spans) found.add(sp.type);
            return m.text;
          });
        } else {
          mapRowStrings(row, (s) => {
            for (const sp of findPii(s, opts)) found.add(sp.type);
            return s;
          });
          out = { ...row };
        }
        const types = [...found].sort();
        out.pii_types = types;
        if (types.length > 0 && p.mode === 'drop') yield { row: out, keep: false, reason: `pii: ${types.join(', ')}` };
        else yield { row: out, keep: true };
      }
    },
  };
};
