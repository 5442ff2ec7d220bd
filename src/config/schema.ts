/**
 * A small config schema: every key carries a type, a default and a one-line help text. The help
 * texts are what `--help` and the config errors show. Validation names the key path and the file.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { UserError } from '../util/errors.ts';

export type Field =
  | { type: 'number' | 'integer'; help: string; default?: number; min?: number; max?: number; optional?: boolean }
  | { type: 'string'; help: string; default?: string; enum?: readonly string[]; optional?: boolean }
  | { type: 'boolean'; help: string; default?: boolean; optional?: boolean }
  | { type: 'object'; help: string; fields: Schema; optional?: boolean }
  | { type: 'array'; help: string; items: Field; default?: unknown[]; optional?: boolean }
  /** A free-form value (e.g. a stage's own parameters validated elsewhere). */
  | { type: 'any'; help: string; default?: unknown; optional?: boolean }
  /** Either a scalar or a list of one type, e.g. `trainable: embed_tokens` or a list. */
  | { type: 'string|string[]'; help: string; default?: string[]; optional?: boolean };

export type Schema = Record<string, Field>;

/** Validates `raw` against `schema`, fills defaults, and returns a fresh object. */
export function validateConfig<T = Record<string, unknown>>(schema: Schema, raw: unknown, source: string, prefix = ''): T {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UserError(`${source}: ${prefix || 'config'} must be a mapping of keys to values`);
  }
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!(key in schema)) {
      const hint = closest(key, Object.keys(schema));
      throw new UserError(
        `${source}: unknown key '${prefix}${key}'${hint ? ` (did you mean '${prefix}${hint}'?)` : ''}`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) {
    const path = `${prefix}${key}`;
    const value = obj[key];
    if (value === undefined || value === null) {
      if (field.type === 'object' && !field.optional) {
        out[key] = validateConfig(field.fields, {}, source, `${path}.`);
      } else if ('default' in field && field.default !== undefined) {
        out[key] = structuredClone(field.default);
      } else if (!field.optional) {
        throw new UserError(`${source}: missing required key '${path}' (${field.help})`);
      }
      continue;
    }
    out[key] = checkValue(field, value, source, path);
  }
  return out as T;
}

function checkValue(field: Field, value: unknown, source: string, path: string): unknown {
  const bad = (expected: string) =>
    new UserError(`${source}: key '${path}' must be ${expected}, got ${JSON.stringify(value)}`);
  switch (field.type) {
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw bad(field.type === 'integer' ? 'an integer' : 'a number');
      if (field.type === 'integer' && !Number.isInteger(value)) throw bad('an integer');
      if (field.min !== undefined && value < field.min) throw bad(`>= ${field.min}`);
      if (field.max !== undefined && value > field.max) throw bad(`<= ${field.max}`);
      return value;
    }
    case 'string':
      if (typeof value !== 'string') throw bad('a string');
      if (field.enum && !field.enum.includes(value)) throw bad(`one of ${field.enum.join(' | ')}`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw bad('true or false');
      return value;
    case 'object':
      return validateConfig(field.fields, value, source, `${path}.`);
    case 'array':
      if (!Array.isArray(value)) throw bad('a list');
      return value.map((v, i) => checkValue(field.items, v, source, `${path}[${i}]`));
    case 'string|string[]':
      if (typeof value === 'string') return [value];
      if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
      throw bad('a string or a list of strings');
    case 'any':
      return value;
  }
}

/** Levenshtein-closest key within distance 3, for "did you mean" hints. */
function closest(key: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 4;
  for (const c of candidates) {
    const d = editDistance(key, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

/**
 * Applies `--set a.b=value` overrides onto a raw (unvalidated) config object. The value is
 * parsed as a YAML scalar, so `--set learning_rate=1e-5` is a number and `--set packing=true`
 * a boolean; validation afterwards catches unknown keys and wrong types.
 */
export function applySetOverrides(raw: Record<string, unknown>, sets: string[]): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UserError(`--set ${s}: expected key=value`);
    const path = s.slice(0, eq).split('.');
    const value = parseYaml(s.slice(eq + 1));
    // Walk mappings by key and lists by index (`stages.2.enabled=false`).
    let node: Record<string, unknown> | unknown[] = out;
    for (let k = 0; k < path.length; k++) {
      const part = path[k];
      const last = k === path.length - 1;
      if (Array.isArray(node)) {
        const i = Number(part);
        if (!Number.isInteger(i) || i < 0 || i >= node.length) {
          throw new UserError(`--set ${s}: '${path.slice(0, k).join('.')}' is a list of ${node.length}; '${part}' is not an index in it`);
        }
        if (last) node[i] = value;
        else {
          if (node[i] === null || typeof node[i] !== 'object') throw new UserError(`--set ${s}: '${path.slice(0, k + 1).join('.')}' is not a mapping or list`);
          node = node[i] as Record<string, unknown> | unknown[];
        }
        continue;
      }
      if (last) {
        node[part] = value;
        break;
      }
      const next = node[part];
      if (next === undefined || next === null) node[part] = {};
      else if (typeof next !== 'object') throw new UserError(`--set ${s}: '${path.slice(0, k + 1).join('.')}' is not a mapping or list`);
      node = node[part] as Record<string, unknown> | unknown[];
    }
  }
  return out;
}

/** Reads a YAML (or JSON) config file into a raw object, with file-named parse errors. */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UserError(`${path}: config file not found`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new UserError(`${path}: invalid YAML: ${msg}`);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new UserError(`${path}: config must be a mapping of keys to values`);
  return raw as Record<string, unknown>;
}

/** Reads, overrides and validates a config file in one step. */
export async function loadConfig<T>(path: string, schema: Schema, sets: string[] = []): Promise<T> {
  const raw = applySetOverrides(await readConfigFile(path), sets);
  return validateConfig<T>(schema, raw, path);
}

/** Renders the schema as indented `key (type, default): help` lines for --help output. */
export function describeSchema(schema: Schema, indent = '  '): string {
  const lines: string[] = [];
  for (const [key, f] of Object.entries(schema)) {
    const def = 'default' in f && f.default !== undefined ? `, default ${JSON.stringify(f.default)}` : '';
    lines.push(`${indent}${key} (${f.type}${def}): ${f.help}`);
    if (f.type === 'object') lines.push(describeSchema(f.fields, indent + '  '));
  }
  return lines.join('\n');
}
