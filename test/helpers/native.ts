/**
 * Whether the native backend can load here. Its tests skip where it cannot (a machine without a
 * C compiler or OpenBLAS), except when KO_ALIGN_REQUIRE_NATIVE=1 (.ci/run sets it after
 * installing OpenBLAS), where a missing native backend fails them instead.
 */
import { loadNative } from '../../src/engine/native/lib.ts';

export function nativeAvailable(): boolean {
  if (process.env.KO_ALIGN_REQUIRE_NATIVE === '1') return true;
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}

/** The CPU backends to run numerical tests on: the portable ones, and native where it loads. */
export const CPU_BACKENDS = (nativeAvailable() ? ['native', 'wasm', 'cpu'] : ['wasm', 'cpu']) as readonly ('native' | 'wasm' | 'cpu')[];
