/**
 * Side effects tfjs-core needs before training: its gradient functions (and chained tensor
 * methods) are registered by the full @tensorflow/tfjs package, which we do not depend on.
 * Import this module once (the engine and the model do) before calling tf.grad / variableGrads.
 *
 * The registration modules ship only as ES modules with extensionless relative imports
 * ('./gradients/Abs_grad'), which Node's own resolver refuses. A tiny resolve hook, limited to
 * files inside @tensorflow/tfjs-core/dist, adds the '.js'.
 */
import { register } from 'node:module';

const HOOK = `
export async function resolve(specifier, context, next) {
  const parent = context.parentURL || '';
  if (parent.includes('/@tensorflow/tfjs-core/dist/') && specifier.startsWith('.') && !/\\.[cm]?js$/.test(specifier)) {
    try { return await next(specifier + '.js', context); } catch {}
  }
  return next(specifier, context);
}`;

const g = globalThis as { __koAlignTfjsHook?: boolean };
if (!g.__koAlignTfjsHook && typeof register === 'function') {
  register(`data:text/javascript,${encodeURIComponent(HOOK)}`, import.meta.url);
  g.__koAlignTfjsHook = true;
}

await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
await import('@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js');

// The memory-lean backward pass (frees each op's saved tensors and output gradients once used).
const { installLeanBackprop } = await import('./backprop.ts');
installLeanBackprop();
