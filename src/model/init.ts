/**
 * Random tiny models in Hugging Face layout (for tests, the quickstart and benchmarks).
 * Initialisation follows llama_ref.py `make`: every weight N(0, 0.08^2), norms 1 + N(0, 0.08^2).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSafetensors, type HostTensor } from './safetensors.ts';
import { writeModelDir } from './checkpoint.ts';
import { buildTokenizer } from './tokenizer-builder.ts';
import { parseConfig, paramShapes, type ModelConfig } from './config.ts';
import { checkpointName } from './names.ts';
import { UserError } from '../util/errors.ts';

export type InitArch = 'llama' | 'qwen2' | 'qwen3' | 'exaone';

export interface TinyModelSpec {
  arch: InitArch;
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  /** Per-head size; default hidden / heads. */
  headDim?: number;
  tie?: boolean;
  ropeTheta?: number;
  maxPositionEmbeddings?: number;
  bosTokenId?: number;
  eosTokenId?: number;
  padTokenId?: number;
}

const ARCH_NAMES: Record<InitArch, string> = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM', exaone: 'ExaoneForCausalLM' };

/** A config.json object for the spec (same keys llama_ref.py make writes). */
export function tinyConfigJson(s: TinyModelSpec): Record<string, unknown> {
  if (!(s.arch in ARCH_NAMES)) throw new UserError(`--arch: unknown architecture '${s.arch}' (expected llama, qwen2, qwen3 or exaone)`);
  for (const [k, v] of Object.entries({ vocab: s.vocab, hidden: s.hidden, layers: s.layers, heads: s.heads, 'kv-heads': s.kvHeads, intermediate: s.intermediate })) {
    if (!Number.isInteger(v) || v <= 0) throw new UserError(`--${k}: expected a positive integer, got ${v}`);
  }
  if (s.heads % s.kvHeads !== 0) throw new UserError(`--heads (${s.heads}) must be a multiple of --kv-heads (${s.kvHeads})`);
  const headDim = s.headDim ?? s.hidden / s.heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new UserError(`--hidden (${s.hidden}) / --heads (${s.heads}) must be an even integer head size`);
  // what transformers itself refuses or cannot run: a RoPE base <= 0 (modeling_rope_utils
  // computes base ** (-2i/d)), a context length < 1, and special token ids outside the vocabulary
  // (configuration_utils validate_token_ids: *_token_id must be in [0, vocab_size - 1]; the
  // embedding lookup of such an id fails)
  if (s.ropeTheta !== undefined && !(s.ropeTheta > 0)) throw new UserError(`--rope-theta: expected a positive number, got ${s.ropeTheta}`);
  if (s.maxPositionEmbeddings !== undefined && !(Number.isInteger(s.maxPositionEmbeddings) && s.maxPositionEmbeddings > 0)) {
    throw new UserError(`--max-position-embeddings: expected a positive integer, got ${s.maxPositionEmbeddings}`);
  }
  for (const [k, v] of Object.entries({ bos_token_id: s.bosTokenId, eos_token_id: s.eosTokenId, pad_token_id: s.padTokenId })) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v < s.vocab)) throw new UserError(`${k} ${v} is outside the vocabulary [0, ${s.vocab - 1}] (--vocab ${s.vocab})`);
  }
  const cfg: Record<string, unknown> = {
    architectures: [ARCH_NAMES[s.arch]],
    model_type: s.arch,
    vocab_size: s.vocab,
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    head_dim: headDim,
    rms_norm_eps: 1e-6,
    rope_theta: s.ropeTheta ?? 10000,
    max_position_embeddings: s.maxPositionEmbeddings ?? 2048,
    tie_word_embeddings: s.tie ?? false,
    hidden_act: 'silu',
    attention_bias: s.arch === 'qwen2',
    torch_dtype: 'float32',
  };
  if (s.arch === 'exaone') {
    // EXAONE 3.x's own keys (configuration_exaone.py), as its released config.json files write them
    cfg.num_layers = cfg.num_hidden_layers;
    delete cfg.num_hidden_layers;
    cfg.layer_norm_epsilon = cfg.rms_norm_eps;
    delete cfg.rms_norm_eps;
    cfg.activation_function = cfg.hidden_act;
    delete cfg.hidden_act;
    delete cfg.attention_bias;
  }
  if (s.bosTokenId !== undefined) cfg.bos_token_id = s.bosTokenId;
  if (s.eosTokenId !== undefined) cfg.eos_token_id = s.eosTokenId;
  if (s.padTokenId !== undefined) cfg.pad_token_id = s.padTokenId;
  return cfg;
}

/** A small deterministic PRNG (mulberry32) with Gaussian samples (Box-Muller). */
export class SeededRandom {
  private state: number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.state = (seed >>> 0) ^ 0x9e3779b9;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/** Random weights for `config`: N(0, std^2), norm weights 1 + N(0, std^2). */
export function randomWeights(config: ModelConfig, seed = 0, std = 0.08): Map<string, HostTensor> {
  const rng = new SeededRandom(seed);
  const out = new Map<string, HostTensor>();
  for (const [name, shape] of paramShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNorm = /norm\.weight$/.test(name);
    for (let i = 0; i < n; i++) data[i] = (isNorm ? 1 : 0) + std * rng.normal();
    out.set(name, { shape, data });
  }
  return out;
}

/** Config + random weights for a spec. */
export function randomModelTensors(spec: TinyModelSpec, seed = 0): { config: ModelConfig; tensors: Map<string, HostTensor> } {
  const config = parseConfig(tinyConfigJson(spec), 'model init');
  return { config, tensors: randomWeights(config, seed) };
}

/* ------------------------------------------------------------------------------------------ */
/* `ko-align model init`: a random tiny model + a small tokenizer, in Hugging Face layout        */
/* ------------------------------------------------------------------------------------------ */

/** Korean paragraphs used to train the tokenizer when no dataset is around. */
export const BUILTIN_KOREAN_CORPUS: readonly string[] = [
  '안녕하세요. 오늘은 날씨가 맑고 바람이 선선해서 산책하기 좋은 날입니다.',
  '대한민국의 수도는 서울이며, 인구는 약 천만 명입니다. 한강이 도시를 가로질러 흐릅니다.',
  '한글은 세종대왕이 1443년에 창제하였고, 1446년에 훈민정음이라는 이름으로 반포되었습니다.',
  '김치는 배추와 무에 고춧가루, 마늘, 젓갈 등을 넣어 발효시킨 한국의 대표적인 음식입니다.',
  '질문: 사과 세 개와 배 두 개가 있으면 과일은 모두 몇 개인가요? 답변: 모두 다섯 개입니다.',
  '인공지능 모델을 학습할 때에는 데이터의 품질이 결과에 큰 영향을 미칩니다.',
  '회의는 오후 세 시에 시작합니다. 자료는 미리 읽어 오시고, 궁금한 점은 메일로 보내 주세요.',
  '봄에는 벚꽃이 피고, 여름에는 장마가 오며, 가을에는 단풍이 들고, 겨울에는 눈이 내립니다.',
  '도서관에서는 조용히 해 주시기 바랍니다. 휴대전화는 진동으로 바꿔 주세요.',
  '저는 매일 아침 일곱 시에 일어나서 물 한 잔을 마시고 간단히 운동을 합니다.',
  '친절하고 정확한 답변을 드리기 위해 최선을 다하겠습니다. 더 궁금한 점이 있으신가요?',
  '부산은 바다와 항구로 유명하며, 해운대 해수욕장에는 여름마다 많은 사람이 찾아옵니다.',
  '건강을 위해서는 충분한 수면, 규칙적인 식사, 꾸준한 운동이 중요합니다.',
  '이 문장은 토크나이저 학습을 위한 예시입니다. The quick brown fox jumps over the lazy dog. 12345',
];

/** Every string value in a row (nested messages included). */
function stringsOf(v: unknown, out: string[]): void {
  if (typeof v === 'string') {
    if (v.length > 0) out.push(v);
  } else if (Array.isArray(v)) {
    for (const x of v) stringsOf(x, out);
  } else if (v && typeof v === 'object') {
    for (const x of Object.values(v)) stringsOf(x, out);
  }
}

/** Texts for the tokenizer: the built-in paragraphs plus strings from datasets/*.jsonl when present. */
export function defaultTokenizerCorpus(datasetsDir: string, limit = 4000): string[] {
  const texts = [...BUILTIN_KOREAN_CORPUS];
  if (!existsSync(datasetsDir)) return texts;
  for (const f of readdirSync(datasetsDir).filter((n) => n.endsWith('.jsonl')).sort()) {
    for (const line of readFileSync(join(datasetsDir, f), 'utf8').split('\n')) {
      if (texts.length >= limit) return texts;
      if (!line.trim()) continue;
      try {
        stringsOf(JSON.parse(line), texts);
      } catch {
        // a broken line in a sample file only costs a few tokenizer texts
      }
    }
  }
  return texts.slice(0, limit);
}

export interface InitModelOptions extends TinyModelSpec {
  out: string;
  /** Replace `out` even when it holds files that are not a model directory's. */
  force?: boolean;
  seed?: number;
  /** Tokenizer training texts (default: defaultTokenizerCorpus of the package's datasets/). */
  corpus?: string[];
}

export interface InitModelResult {
  dir: string;
  params: number;
  tokenizerVocab: number;
  config: Record<string, unknown>;
}

/** Files a model directory written by this tool (init, SFT, KTO saves) may hold. */
const MODEL_DIR_FILE = /^(config\.json|generation_config\.json|model\.safetensors|model-\d+-of-\d+\.safetensors|model\.safetensors\.index\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|chat_template\.jinja|README\.md)$/;

/**
 * Refuses to replace `dir` when it exists and is not empty and not a model directory (only model
 * files, config.json among them): `--out ~/data` must not delete ~/data.
 */
function refuseForeignDir(dir: string): void {
  if (!existsSync(dir)) return;
  let st;
  try {
    st = statSync(dir);
  } catch {
    return;
  }
  if (!st.isDirectory()) throw new UserError(`--out ${dir}: exists and is not a directory; choose a new directory`);
  const entries = readdirSync(dir);
  if (entries.length === 0) return;
  const foreign = entries.filter((e) => !MODEL_DIR_FILE.test(e));
  if (foreign.length === 0 && entries.includes('config.json')) return;
  const shown = (foreign.length ? foreign : entries).slice(0, 3).map((e) => `'${e}'`).join(', ');
  throw new UserError(
    `--out ${dir}: not empty and not a model directory (holds ${shown}${(foreign.length || entries.length) > 3 ? ', ...' : ''}); ` +
      `refusing to replace it: choose a new directory, or pass --force to replace it`,
  );
}

/**
 * Writes a random model in Hugging Face layout to `out` (atomically): config.json,
 * model.safetensors, generation_config.json and a small byte-level BPE tokenizer with a chat
 * template trained on Korean text (tokenizer.json, tokenizer_config.json, special_tokens_map.json).
 */
export async function initModelDir(opts: InitModelOptions): Promise<InitModelResult> {
  const here = dirname(fileURLToPath(import.meta.url));
  const corpus = opts.corpus ?? defaultTokenizerCorpus(join(here, '..', '..', 'datasets'));
  tinyConfigJson(opts); // validate the spec before the (slower) tokenizer training
  if (!opts.force) refuseForeignDir(opts.out);
  let result: InitModelResult | undefined;
  await writeModelDir(opts.out, async (tmp) => {
    const tok = await buildTokenizer({ vocabSize: opts.vocab, corpus, outDir: tmp });
    const eos = tok.specialTokenIds['<|im_end|>'];
    const pad = tok.specialTokenIds['<|endoftext|>'];
    // as Qwen2.5's config.json: bos_token_id = <|endoftext|> (151643), eos_token_id = <|im_end|> (151645)
    const raw = tinyConfigJson({ ...opts, bosTokenId: opts.bosTokenId ?? pad, eosTokenId: eos, padTokenId: pad });
    const config = parseConfig(raw, 'model init');
    const tensors = randomWeights(config, opts.seed ?? 0);
    await writeFile(join(tmp, 'config.json'), `${JSON.stringify(raw, null, 2)}\n`);
    await writeFile(join(tmp, 'generation_config.json'), `${JSON.stringify({ bos_token_id: raw.bos_token_id, eos_token_id: eos, pad_token_id: pad, do_sample: false }, null, 2)}\n`);
    await writeSafetensors(join(tmp, 'model.safetensors'), new Map([...tensors].map(([n, t]) => [checkpointName(n, config), t] as const)));
    let params = 0;
    for (const t of tensors.values()) params += t.data.length;
    result = { dir: opts.out, params, tokenizerVocab: tok.vocabSize, config: raw };
  });
  return result!;
}
