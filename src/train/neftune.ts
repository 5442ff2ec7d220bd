/**
 * NEFTune (Jain et al. 2023): during training only, uniform noise is added to the token
 * embeddings: embeds += uniform(-1, 1) * alpha / sqrt(L * d), with L the example's unpadded
 * length (each packed segment's own length when packing) and d the hidden size; padding gets
 * none. It is a `embedHook` for LlamaModel.forward; eval, log-probs and generation never pass it.
 * The noise comes from the trainer's seeded Rng, so a resumed run draws the same noise.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from './rng.ts';

/**
 * The noise tensor [B, T, d] for one batch: `tokenSegLen` [B*T] holds each token's segment length
 * (0 on padding).
 */
export function neftuneNoise(B: number, T: number, d: number, tokenSegLen: Float32Array, alpha: number, rng: Rng): tf.Tensor3D {
  const data = rng.fillUniform(new Float32Array(B * T * d), -1, 1);
  for (let i = 0; i < B * T; i++) {
    const L = tokenSegLen[i];
    const scale = L > 0 ? alpha / Math.sqrt(L * d) : 0;
    const base = i * d;
    for (let k = 0; k < d; k++) data[base + k] *= scale;
  }
  return tf.tensor3d(data, [B, T, d]);
}

/** An embedHook that adds NEFTune noise (or undefined when alpha is 0). */
export function neftuneHook(alpha: number, tokenSegLen: Float32Array, rng: Rng): ((e: tf.Tensor3D) => tf.Tensor3D) | undefined {
  if (!(alpha > 0)) return undefined;
  return (e) => {
    const [B, T, d] = e.shape;
    return tf.add(e, neftuneNoise(B, T, d, tokenSegLen, alpha, rng));
  };
}
