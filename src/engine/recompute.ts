/**
 * Gradient checkpointing on tfjs: y = f(x) is computed without keeping f's intermediates; the
 * backward pass runs f again under a fresh gradient tape and takes dy through it. Memory per
 * layer drops from every activation to the layer's input.
 *
 * tfjs has no public API for this, so two engine details are relied on (and tested):
 * ops inside tf.customGrad's forward are not taped, and a nested engine.gradients() call made
 * from a gradient function resets the engine's active tape, which the outer backward pass
 * still disposes at its end: it is saved and put back around the nested call.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng, RngState } from '../train/rng.ts';

interface EngineInternals {
  state: { activeTape: unknown };
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): { value: tf.Tensor; grads: tf.Tensor[] };
}

/**
 * f(x, consts) with the gradient for x and for `variables` (the trainable tensors f reads)
 * computed by recomputing f in the backward pass. `consts` are other tensors f reads (masks,
 * RoPE tables): they are kept until the backward pass, which may come after the tidy that made
 * them has ended, and f must read them from its argument. `rng`, when f draws from it (dropout),
 * is replayed from the same state so the recompute equals the forward.
 */
export function recomputeInBackward(f: (x: tf.Tensor, consts: tf.Tensor[]) => tf.Tensor, x: tf.Tensor, consts: tf.Tensor[], variables: tf.Variable[], rng?: Rng): tf.Tensor {
  let rngAtForward: RngState | undefined;
  const op = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xi = args[0] as tf.Tensor;
    rngAtForward = rng?.state();
    const value = f(xi, consts);
    save([xi, ...consts]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const engine = tf.engine() as unknown as EngineInternals;
        const outerTape = engine.state.activeTape;
        const rngNow = rng?.state();
        if (rng && rngAtForward) rng.setState(rngAtForward);
        try {
          const [x0, ...keptConsts] = saved;
          const { value: y, grads } = engine.gradients(() => f(x0, keptConsts), [x0, ...variables], dy, true);
          y.dispose();
          // a variable f did not reach gets a zero gradient (customGrad wants one per input)
          return grads.map((g, i) => g ?? tf.zerosLike(i === 0 ? x0 : variables[i - 1]));
        } finally {
          engine.state.activeTape = outerTape;
          if (rng && rngNow) rng.setState(rngNow);
        }
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as (...xs: tf.Tensor[]) => tf.Tensor)(x, ...variables);
}
