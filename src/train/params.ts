/**
 * Which parameters train, and at what learning rate (RedWhale-style staged training).
 * Pattern syntax, matched against Hugging Face parameter names:
 *   embed_tokens | lm_head | norm   the embedding table, the output head, every norm weight
 *   layers.odd | layers.even        every parameter of odd / even decoder layers
 *   layers.N | layers.N-M           one layer / an inclusive range of layers
 *   anything else                   a regular expression searched in the name
 * With tied embeddings, `lm_head` selects model.embed_tokens.weight (the same tensor).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../util/errors.ts';
import { decaysByDefault, type OptimParam } from './optim.ts';
import type { ParamGroupConfig } from './sft-config.ts';
import type { ForwardOptions } from '../model/llama.ts';
import type { Rng } from './rng.ts';

const LAYER_RE = /^model\.layers\.(\d+)\./;

export function compilePattern(pattern: string, key: string, tied = false): (name: string) => boolean {
  const layerOf = (n: string): number | undefined => {
    const m = LAYER_RE.exec(n);
    return m ? Number(m[1]) : undefined;
  };
  if (pattern === 'embed_tokens') return (n) => n.includes('embed_tokens');
  if (pattern === 'lm_head') return (n) => n.startsWith('lm_head') || (tied && n === 'model.embed_tokens.weight');
  if (pattern === 'norm') return (n) => /norm\.weight$/.test(n);
  if (pattern === 'layers.odd') return (n) => (layerOf(n) ?? -2) % 2 === 1;
  if (pattern === 'layers.even') return (n) => (layerOf(n) ?? -1) % 2 === 0;
  const one = /^layers\.(\d+)$/.exec(pattern);
  if (one) return (n) => layerOf(n) === Number(one[1]);
  const range = /^layers\.(\d+)-(\d+)$/.exec(pattern);
  if (range) {
    const [lo, hi] = [Number(range[1]), Number(range[2])];
    return (n) => {
      const l = layerOf(n);
      return l !== undefined && l >= lo && l <= hi;
    };
  }
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (e) {
    throw new UserError(`${key}: '${pattern}' is not a valid pattern or regular expression (${(e as Error).message})`);
  }
  return (n) => re.test(n);
}

export interface SelectOptions {
  trainable?: string[];
  paramGroups: ParamGroupConfig[];
  learningRate: number;
  weightDecay: number;
  tied: boolean;
  /** Config file name for error messages. */
  source: string;
  /** The checkpoint's own name of a parameter (EXAONE: transformer.h.N...): regexes match either. */
  alias?: (name: string) => string;
}

/**
 * Builds the optimizer's parameter list from the model parameters: those matching `trainable`
 * (all when absent), each with its group's learning rate and the HF decay rule.
 * A pattern that matches nothing is an error naming the key.
 */
const either = (f: (n: string) => boolean, alias?: (n: string) => string) => (alias ? (n: string) => f(n) || f(alias(n)) : f);

export function selectParams(params: Map<string, tf.Variable>, o: SelectOptions): OptimParam[] {
  const names = [...params.keys()];
  let chosen = names;
  if (o.trainable && o.trainable.length > 0) {
    const set = new Set<string>();
    o.trainable.forEach((p, i) => {
      const f = either(compilePattern(p, `${o.source}: key 'trainable[${i}]'`, o.tied), o.alias);
      const hit = names.filter(f);
      if (hit.length === 0) throw new UserError(`${o.source}: key 'trainable[${i}]': pattern '${p}' matches no parameter of the model`);
      hit.forEach((h) => set.add(h));
    });
    chosen = names.filter((n) => set.has(n));
  }
  const groups = o.paramGroups.map((g, i) => ({ ...g, f: either(compilePattern(g.pattern, `${o.source}: key 'param_groups[${i}].pattern'`, o.tied), o.alias), used: false }));
  const out = chosen.map((name) => {
    const g = groups.find((gr) => gr.f(name));
    if (g) g.used = true;
    return { name, variable: params.get(name)!, lr: g ? g.learning_rate : o.learningRate, weightDecay: decaysByDefault(name) ? o.weightDecay : 0 };
  });
  groups.forEach((g, i) => {
    if (!g.used) throw new UserError(`${o.source}: key 'param_groups[${i}].pattern': '${g.pattern}' matches no trainable parameter`);
  });
  return out;
}

/**
 * The forward pass's gradient-checkpointing option for a set of trainable parameters: layer i
 * recomputes its activations in backward and gets the gradients of the parameters named
 * model.layers.<i>.* (weights or LoRA adapters). Undefined when checkpointing is off.
 */
export function checkpointOption(enabled: boolean, params: readonly OptimParam[], rng: Rng): ForwardOptions['checkpoint'] {
  if (!enabled) return undefined;
  const byLayer = new Map<number, tf.Variable[]>();
  for (const p of params) {
    const m = /^model\.layers\.(\d+)\./.exec(p.name);
    if (!m) continue;
    const i = Number(m[1]);
    byLayer.set(i, [...(byLayer.get(i) ?? []), p.variable]);
  }
  return { variables: (i) => byLayer.get(i) ?? [], rng };
}
