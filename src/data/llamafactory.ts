/**
 * LLaMA-Factory datasets: an entry of `dataset_info.json` (file_name, formatting, ranking,
 * columns, tags) names a data file and how its columns and roles are spelled; the rows are
 * rewritten into the formats the rest of the project reads (alpaca keys, `messages`, kto_tag,
 * prompt/chosen/rejected, {text}). Schema: LLaMA-Factory data/README.md (the dataset_info.json
 * description, "Alpaca Format" and "Sharegpt Format"). Hub datasets (hf_hub_url, ms_hub_url,
 * script_url) are not downloaded; they are refused by name.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { readAllRows, type Row } from './io.ts';

export interface DatasetInfoEntry {
  file_name: string;
  formatting: 'alpaca' | 'sharegpt';
  ranking: boolean;
  columns: Record<string, string>;
  tags: Record<string, string>;
}

const ALPACA_COLUMNS = { prompt: 'instruction', query: 'input', response: 'output' };
const SHAREGPT_COLUMNS = { messages: 'conversations' };
const SHAREGPT_TAGS = {
  role_tag: 'from',
  content_tag: 'value',
  user_tag: 'human',
  assistant_tag: 'gpt',
  observation_tag: 'observation',
  function_tag: 'function_call',
  system_tag: 'system',
};

/** Reads entry `name` of a dataset_info.json (the file, or the folder holding it). */
export function readDatasetInfo(pathOrDir: string, name: string): { entry: DatasetInfoEntry; dataPath: string } {
  const file = existsSync(pathOrDir) && statSync(pathOrDir).isDirectory() ? join(pathOrDir, 'dataset_info.json') : pathOrDir;
  if (!existsSync(file)) throw new UserError(`${file}: dataset_info.json not found`);
  let info: Record<string, unknown>;
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new UserError(`${file}: invalid JSON (${(e as Error).message})`);
  }
  const raw = info[name] as Record<string, unknown> | undefined;
  if (!raw || typeof raw !== 'object') throw new UserError(`${file}: no dataset '${name}' (entries: ${Object.keys(info).join(', ') || 'none'})`);
  const where = `${file}: '${name}'`;
  for (const k of ['hf_hub_url', 'ms_hub_url', 'om_hub_url', 'script_url', 'cloud_file_name']) {
    if (raw[k] != null && raw.file_name == null) throw new UserError(`${where}: '${k}' datasets are not downloaded here; give a local 'file_name'`);
  }
  if (typeof raw.file_name !== 'string') throw new UserError(`${where}: 'file_name' must be a string`);
  const formatting = raw.formatting ?? 'alpaca';
  if (formatting !== 'alpaca' && formatting !== 'sharegpt') throw new UserError(`${where}: 'formatting' ${JSON.stringify(formatting)} (expected alpaca or sharegpt)`);
  const obj = (k: string): Record<string, string> => {
    const v = raw[k];
    if (v == null) return {};
    if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) throw new UserError(`${where}: '${k}' must map names to strings`);
    return v as Record<string, string>;
  };
  const entry: DatasetInfoEntry = {
    file_name: raw.file_name,
    formatting,
    ranking: raw.ranking === true,
    columns: { ...(formatting === 'alpaca' ? ALPACA_COLUMNS : SHAREGPT_COLUMNS), ...obj('columns') },
    tags: { ...SHAREGPT_TAGS, ...obj('tags') },
  };
  return { entry, dataPath: join(dirname(file), entry.file_name) };
}

type Msg = { role: string; content: unknown };

/** LLaMA-Factory sharegpt turns -> {role, content} with the roles the chat templates know. */
function sharegptTurns(list: unknown, entry: DatasetInfoEntry, where: string): Msg[] {
  if (!Array.isArray(list)) throw new UserError(`${where}: '${entry.columns.messages}' must be a list of turns`);
  const t = entry.tags;
  const roles: Record<string, string> = {
    [t.user_tag]: 'user',
    [t.assistant_tag]: 'assistant',
    [t.observation_tag]: 'tool',
    [t.function_tag]: 'assistant', // a function call is the assistant's output
    [t.system_tag]: 'system',
  };
  return list.map((turn, i) => {
    const tr = turn as Record<string, unknown>;
    const role = roles[String(tr?.[t.role_tag])];
    if (!role) throw new UserError(`${where}: turn ${i} has ${t.role_tag} ${JSON.stringify(tr?.[t.role_tag])} (expected one of ${Object.keys(roles).join(', ')})`);
    return { role, content: tr[t.content_tag] };
  });
}

/** One LLaMA-Factory row in the project's own formats. */
export function convertLlamaFactoryRow(row: Row, entry: DatasetInfoEntry, where: string): Row {
  const c = entry.columns;
  const out: Row = {};
  if (c.system && row[c.system] != null) out.system = row[c.system];
  if (c.tools && row[c.tools] != null) out.tools = row[c.tools];
  if (c.kto_tag && row[c.kto_tag] != null) out.kto_tag = row[c.kto_tag];
  if (entry.formatting === 'alpaca') {
    const prompt = row[c.prompt];
    const query = c.query ? row[c.query] : undefined;
    if (entry.ranking) {
      const text = [prompt, query].filter((x) => typeof x === 'string' && x !== '').join('\n');
      return { ...out, prompt: text, chosen: row[c.chosen ?? 'chosen'], rejected: row[c.rejected ?? 'rejected'] };
    }
    if (c.response === undefined || row[c.response] === undefined) {
      if (typeof prompt === 'string' && !(c.history && row[c.history] != null)) return { ...out, text: prompt }; // pre-training {prompt: text}
    }
    Object.assign(out, { instruction: prompt, input: query ?? '', output: row[c.response] });
    if (c.history && row[c.history] != null) out.history = row[c.history];
    return out;
  }
  const turns = sharegptTurns(row[c.messages], entry, where);
  const sys = turns[0]?.role === 'system' ? turns.shift() : undefined;
  if (sys) out.system = sys.content; // a system turn overrides the system column, as the tags say
  if (entry.ranking) {
    const one = (k: 'chosen' | 'rejected') => sharegptTurns([row[c[k] ?? k]], entry, `${where}: ${k}`);
    return { ...out, prompt: turns, chosen: one('chosen'), rejected: one('rejected') };
  }
  return { ...out, messages: turns };
}

/** Reads the rows of dataset `name` from a dataset_info.json, in the project's formats. */
export async function readLlamaFactoryDataset(infoPath: string, name: string): Promise<Row[]> {
  const { entry, dataPath } = readDatasetInfo(infoPath, name);
  const rows = await readAllRows(dataPath);
  return rows.map((r, i) => convertLlamaFactoryRow(r, entry, `${dataPath}: row ${i + 1}`));
}

/** Rows of a trainer's dataset: a LLaMA-Factory entry when `name` is given, else the file / folder itself. */
export async function readDatasetRows(ds: { path: string; name?: string }): Promise<Row[]> {
  return ds.name ? readLlamaFactoryDataset(ds.path, ds.name) : readAllRows(ds.path);
}
