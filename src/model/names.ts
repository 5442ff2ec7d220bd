/**
 * Parameter names inside the engine are the Hugging Face Llama ones (model.layers.N.self_attn.
 * q_proj.weight, ...). Checkpoints of other layouts with the same maths are renamed at the file
 * boundary only (loading and saving weights, PEFT adapters), so every trainer, hook and pattern
 * works unchanged and what is written back loads in the model's own code.
 *
 * EXAONE 3.0 / 3.5 / Deep (ExaoneForCausalLM, LG AI Research's remote code): a Llama decoder
 * (RMSNorm, rotate-half RoPE, grouped-query attention, SwiGLU with c_fc_0 as the gate and c_fc_1
 * as the up projection) under GPT-2 style names: transformer.wte, transformer.h.N.ln_1,
 * attn.attention.{q,k,v,out}_proj, ln_2, mlp.{c_fc_0,c_fc_1,c_proj}, transformer.ln_f, lm_head.
 * (vLLM model_executor/models/exaone.py stacks c_fc_0, c_fc_1 into gate_up_proj for SiluAndMul;
 * llama.cpp maps them to ffn_gate and ffn_up.)
 */
import type { ModelConfig } from './config.ts';

type Rule = [internal: RegExp, checkpoint: string, checkpointRe: RegExp, internalOut: string];

const rule = (internal: string, checkpoint: string): Rule => {
  // both sides use $1 for the layer index; the mapping is a bijection
  const esc = (s: string) => `^${s.replace(/\./g, '\\.').replace('N', '(\\d+)')}$`;
  return [new RegExp(esc(internal)), checkpoint.replace('N', '$1'), new RegExp(esc(checkpoint)), internal.replace('N', '$1')];
};

/** Module paths (no .weight / .bias): engine name <-> EXAONE 3.x checkpoint name. */
const EXAONE_MODULES: Rule[] = [
  rule('model.embed_tokens', 'transformer.wte'),
  rule('model.norm', 'transformer.ln_f'),
  rule('model.layers.N.input_layernorm', 'transformer.h.N.ln_1'),
  rule('model.layers.N.post_attention_layernorm', 'transformer.h.N.ln_2'),
  rule('model.layers.N.self_attn.q_proj', 'transformer.h.N.attn.attention.q_proj'),
  rule('model.layers.N.self_attn.k_proj', 'transformer.h.N.attn.attention.k_proj'),
  rule('model.layers.N.self_attn.v_proj', 'transformer.h.N.attn.attention.v_proj'),
  rule('model.layers.N.self_attn.o_proj', 'transformer.h.N.attn.attention.out_proj'),
  rule('model.layers.N.mlp.gate_proj', 'transformer.h.N.mlp.c_fc_0'),
  rule('model.layers.N.mlp.up_proj', 'transformer.h.N.mlp.c_fc_1'),
  rule('model.layers.N.mlp.down_proj', 'transformer.h.N.mlp.c_proj'),
];

/** Projection short names (LoRA target_modules): engine -> EXAONE. */
const EXAONE_SHORT: Record<string, string> = { q_proj: 'q_proj', k_proj: 'k_proj', v_proj: 'v_proj', o_proj: 'out_proj', gate_proj: 'c_fc_0', up_proj: 'c_fc_1', down_proj: 'c_proj' };

const isExaone = (c: ModelConfig) => c.architecture === 'ExaoneForCausalLM';

function mapModule(path: string, rules: Rule[], toCheckpoint: boolean): string {
  for (const [inRe, ckpt, ckptRe, inOut] of rules) {
    const re = toCheckpoint ? inRe : ckptRe;
    if (re.test(path)) return path.replace(re, toCheckpoint ? ckpt : inOut);
  }
  return path;
}

function mapName(name: string, c: ModelConfig, toCheckpoint: boolean): string {
  if (!isExaone(c)) return name;
  const m = /^(.*)\.(weight|bias)$/.exec(name);
  return m ? `${mapModule(m[1]!, EXAONE_MODULES, toCheckpoint)}.${m[2]}` : mapModule(name, EXAONE_MODULES, toCheckpoint);
}

/** The name a parameter (or module path) has in this model's checkpoint files. */
export function checkpointName(engineName: string, c: ModelConfig): string {
  return mapName(engineName, c, true);
}

/** The engine's name for a parameter (or module path) named `name` in a checkpoint file. */
export function engineName(name: string, c: ModelConfig): string {
  return mapName(name, c, false);
}

/** A LoRA target short name as the checkpoint's own code calls it (o_proj -> out_proj on EXAONE). */
export function checkpointTarget(engineShort: string, c: ModelConfig): string {
  return isExaone(c) ? (EXAONE_SHORT[engineShort] ?? engineShort) : engineShort;
}

/** The engine's short name for a target written either way (out_proj or o_proj on EXAONE). */
export function engineTarget(short: string, c: ModelConfig): string {
  if (!isExaone(c)) return short;
  const hit = Object.entries(EXAONE_SHORT).find(([, v]) => v === short);
  return hit ? hit[0] : short;
}
