import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applySetOverrides, describeSchema, loadConfig, validateConfig, type Schema } from '../../src/config/schema.ts';

const schema: Schema = {
  name: { type: 'string', help: '실행 이름' },
  learning_rate: { type: 'number', min: 0, default: 1e-5, help: 'peak learning rate' },
  steps: { type: 'integer', min: 1, default: 10, help: 'optimizer steps' },
  mode: { type: 'string', enum: ['grid', 'random'], default: 'grid', help: 'search method' },
  packing: { type: 'boolean', default: false, help: 'pack examples' },
  targets: { type: 'string|string[]', default: ['q_proj'], help: 'modules' },
  gate: { type: 'object', help: 'gate', fields: { max_toxic_rate: { type: 'number', default: 0.05, help: 'limit' } } },
  stages: { type: 'array', default: [], help: 'stages', items: { type: 'any', help: 'a stage' } },
};

describe('config schema', () => {
  it('fills defaults and keeps given values', () => {
    const c = validateConfig<Record<string, unknown>>(schema, { name: '한국어-실행', targets: 'v_proj' }, 'c.yaml');
    expect(c).toMatchObject({ name: '한국어-실행', learning_rate: 1e-5, steps: 10, mode: 'grid', packing: false, targets: ['v_proj'], gate: { max_toxic_rate: 0.05 } });
  });

  it('names an unknown key with a did-you-mean hint, nested keys with their path', () => {
    expect(() => validateConfig(schema, { name: 'x', learing_rate: 1 }, 'configs/sft.yaml')).toThrow("configs/sft.yaml: unknown key 'learing_rate' (did you mean 'learning_rate'?)");
    expect(() => validateConfig(schema, { name: 'x', gate: { max_toxic_rat: 1 } }, 'c.yaml')).toThrow("c.yaml: unknown key 'gate.max_toxic_rat' (did you mean 'gate.max_toxic_rate'?)");
  });

  it('names a mistyped value, an out-of-range number, a bad enum and a missing required key', () => {
    expect(() => validateConfig(schema, { name: 'x', steps: 1.5 }, 'c.yaml')).toThrow("c.yaml: key 'steps' must be an integer, got 1.5");
    expect(() => validateConfig(schema, { name: 'x', learning_rate: '빠르게' }, 'c.yaml')).toThrow(`c.yaml: key 'learning_rate' must be a number, got "빠르게"`);
    expect(() => validateConfig(schema, { name: 'x', steps: 0 }, 'c.yaml')).toThrow("c.yaml: key 'steps' must be >= 1, got 0");
    expect(() => validateConfig(schema, { name: 'x', mode: 'bayes' }, 'c.yaml')).toThrow(`c.yaml: key 'mode' must be one of grid | random, got "bayes"`);
    expect(() => validateConfig(schema, {}, 'c.yaml')).toThrow("c.yaml: missing required key 'name' (실행 이름)");
  });

  it('applies --set overrides as YAML scalars, into nested mappings and list items', () => {
    const raw = { name: 'x', stages: [{ type: 'rules', enabled: true }, { type: 'dedup' }] };
    const out = applySetOverrides(raw, ['learning_rate=2e-5', 'packing=true', 'gate.max_toxic_rate=0.1', 'stages.0.enabled=false', 'stages.1.params={mode: near}']);
    expect(out).toEqual({ name: 'x', learning_rate: 2e-5, packing: true, gate: { max_toxic_rate: 0.1 }, stages: [{ type: 'rules', enabled: false }, { type: 'dedup', params: { mode: 'near' } }] });
    expect(raw.stages[0].enabled).toBe(true); // the input is not modified
  });

  it('refuses --set paths that do not fit the config', () => {
    expect(() => applySetOverrides({ stages: [{}] }, ['stages.3.enabled=false'])).toThrow("--set stages.3.enabled=false: 'stages' is a list of 1; '3' is not an index in it");
    expect(() => applySetOverrides({ name: 'x' }, ['name.first=y'])).toThrow("--set name.first=y: 'name' is not a mapping or list");
    expect(() => applySetOverrides({}, ['no-equals'])).toThrow('--set no-equals: expected key=value');
  });

  it('loads a YAML file, reporting a missing file and invalid YAML with the file name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cfg-'));
    const ok = join(dir, 'ok.yaml');
    await writeFile(ok, 'name: 설정\nsteps: 3\n');
    expect(await loadConfig(ok, schema, ['steps=5'])).toMatchObject({ name: '설정', steps: 5 });
    await expect(loadConfig(join(dir, 'none.yaml'), schema)).rejects.toThrow(`${join(dir, 'none.yaml')}: config file not found`);
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'name: [unclosed\n');
    await expect(loadConfig(bad, schema)).rejects.toThrow(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: invalid YAML`));
  });

  it('describes every key with its type, default and help for --help', () => {
    const text = describeSchema(schema);
    expect(text).toContain('learning_rate (number, default 0.00001): peak learning rate');
    expect(text).toContain('    max_toxic_rate (number, default 0.05): limit');
  });
});
