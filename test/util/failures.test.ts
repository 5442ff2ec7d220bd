import { describe, expect, it } from 'vitest';
import { explainFailure, failureLine } from '../../src/util/failures.ts';

/** A real error thrown by the platform. */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

/** A WebAssembly module whose one function executes `unreachable` (what an engine abort() is). */
function wasmAbort(): unknown {
  const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 5, 1, 3, 0, 0, 11]);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  return thrown(() => (inst.exports.f as () => void)());
}

describe('engine aborts and resource failures map to one cause and remedy', () => {
  it('a failed ArrayBuffer allocation is out of memory, with the batch / max_length remedy', () => {
    const e = thrown(() => new ArrayBuffer(2 ** 52));
    expect(explainFailure(e)?.cause).toBe('out of memory in the tensor engine');
    expect(failureLine(e)).toMatch(/^out of memory in the tensor engine; try train LoRA adapters .*gradient_checkpointing: true, a smaller model \(Array buffer allocation failed\)$/);
  });

  it('TensorFlow OOM and a WebGPU device loss are named', () => {
    expect(explainFailure(new Error('OOM when allocating tensor with shape[8,1024,32000]'))?.cause).toBe('out of memory in the tensor engine');
    expect(explainFailure(new Error('GPUDevice was lost: device lost'))?.cause).toMatch(/GPU device was lost/);
  });

  it('a WebAssembly trap (abort) is a native engine abort pointing at --backend', () => {
    const e = wasmAbort();
    const x = explainFailure(e)!;
    expect(x.cause).toMatch(/native tensor engine aborted/);
    expect(x.remedy).toMatch(/--backend wasm/);
    expect(failureLine(e)).not.toContain('\n');
  });

  it('a full disk and a permission error say which path', () => {
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: 'ENOSPC', path: '/data/runs/실험/kept.parquet' });
    expect(failureLine(enospc)).toMatch(/^no space left on the device writing \/data\/runs\/실험\/kept\.parquet; free disk space/);
    const eacces = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', path: '/root/결과.jsonl' });
    expect(explainFailure(eacces)?.cause).toBe('permission denied on /root/결과.jsonl');
  });

  it('a genuine bug stays an internal error', () => {
    expect(explainFailure(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBeNull();
  });
});
