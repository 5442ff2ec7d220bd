/**
 * A leaner backward pass for tfjs. tfjs's engine.gradients() keeps, until the whole backward
 * pass ends, every op's saved forward tensors and every intermediate gradient, so its peak is
 * "all activations + all their gradients" (a 0.5B LoRA step: ~10 GB). This replacement walks
 * the same filtered tape in the same order with the same checks, but frees what a processed op
 * no longer needs: the gradients of its outputs (each output's consumers all come later on the
 * tape, so they were processed already) and the tensors it saved for its gradient. The peak is
 * then about the forward's saved tensors alone, and it falls as the backward proceeds.
 *
 * Installed once by engine/tfjs.ts on the engine singleton. Nothing is freed early when
 * gradients are nested in a way that needs the tape (gradientDepth > 0 after the forward), and
 * the caller's dy and the returned gradients are never freed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getFilteredNodesXToY } from '@tensorflow/tfjs-core/dist/tape.js';

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
  gradients: (f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean) => { value: tf.Tensor; grads: tf.Tensor[] };
  __koLeanBackprop?: boolean;
}

function backprop(grads: Record<number, tf.Tensor>, tape: TapeNode[], engine: EngineInternals, keep: Set<number>, seed: tf.Tensor | undefined, freeEarly: boolean): void {
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    const dys = node.outputs.map((o) => grads[o.id] ?? null);
    if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    const inputGradients = node.gradient(dys);
    const produced: tf.Tensor[] = [];
    for (const inputName in node.inputs) {
      if (!(inputName in inputGradients)) {
        throw new Error(`Cannot backprop through input ${inputName}. Available gradients found: ${Object.keys(inputGradients)}.`);
      }
      const dx = engine.tidy(() => inputGradients[inputName]());
      if (dx.dtype !== 'float32') {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${inputName} must have 'float32' dtype, but has '${dx.dtype}'`);
      }
      const x = node.inputs[inputName];
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${inputName}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
      }
      const cur = grads[x.id];
      if (cur == null) grads[x.id] = dx;
      else {
        grads[x.id] = tf.add(cur, dx);
        cur.dispose();
        // dx was only an addend (unless it aliases a tensor this op still reads)
        if (freeEarly && dx !== grads[x.id] && !dys.includes(dx) && !(node.saved ?? []).includes(dx)) dx.dispose();
      }
      produced.push(grads[x.id]);
    }
    if (!freeEarly) continue;
    // This op is done: its outputs' gradients and its saved tensors have no other reader.
    for (const o of node.outputs) {
      const g = grads[o.id];
      if (!g || keep.has(o.id) || g === seed || produced.includes(g)) continue;
      g.dispose();
      delete grads[o.id];
    }
    for (const s of node.saved ?? []) if (!produced.includes(s)) s.dispose();
  }
}

/** tfjs's own engine.gradients, kept for tests that compare the two. */
export let tfjsGradients: EngineInternals['gradients'] | undefined;

/** Replaces engine.gradients with the memory-lean version (idempotent). */
export function installLeanBackprop(): void {
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.__koLeanBackprop) return;
  engine.__koLeanBackprop = true;
  tfjsGradients = engine.gradients;
  engine.gradients = function gradients(this: EngineInternals, f, xs, dy, allowNoGradients = false) {
    tf.util.assert(xs.length > 0, () => 'gradients() received an empty list of xs.');
    if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    const y = this.scopedRun(() => this.startTape(), () => this.endTape(), () => this.tidy('forward', f));
    tf.util.assert(y instanceof tf.Tensor, () => 'The result y returned by f() must be a tensor.');
    const filtered = getFilteredNodesXToY(this.state.activeTape as never, xs, y) as unknown as TapeNode[];
    if (!allowNoGradients && filtered.length === 0 && xs.length > 0) {
      throw new Error('Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.');
    }
    return this.tidy('backward', () => {
      const acc: Record<number, tf.Tensor> = {};
      acc[y.id] = dy == null ? tf.ones(y.shape) : dy;
      const keep = new Set(xs.map((x) => x.id));
      backprop(acc, filtered, this, keep, dy, this.state.gradientDepth === 0);
      const grads = xs.map((x) => acc[x.id]);
      if (this.state.gradientDepth === 0) {
        // As tfjs: the tape's saved tensors go (those freed early are already disposed).
        this.state.activeTape?.forEach((node) => {
          for (const t of node.saved ?? []) t.dispose();
        });
        this.state.activeTape = null;
      }
      return { value: y, grads } as unknown as tf.TensorContainer;
    }) as unknown as { value: tf.Tensor; grads: tf.Tensor[] };
  };
}
