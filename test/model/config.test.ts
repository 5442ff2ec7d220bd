import { describe, expect, it } from 'vitest';
import { parseConfig, usesSlidingWindow } from '../../src/model/config.ts';
import { ropeInvFreq } from '../../src/model/llama.ts';

// Llama-3.2-1B's config.json keys (meta-llama/Llama-3.2-1B), shrunk to a tiny shape.
const llama = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 128,
  hidden_size: 128,
  intermediate_size: 256,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 64,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 131072,
  hidden_act: 'silu',
};
const llama3Scaling = { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' };

describe('RoPE settings in both config.json forms', () => {
  // transformers >= 5 writes `rope_parameters` with rope_theta inside it and no top-level
  // rope_theta / rope_scaling (modeling_rope_utils.py, RotaryEmbeddingConfigMixin.
  // convert_rope_params_to_dict: rope_scaling is popped into rope_parameters and rope_theta is
  // set default inside it; standardize_rope_params sets rope_type from `type`, default "default").
  const modern = { ...llama, rope_parameters: { ...llama3Scaling, rope_theta: 500000.0 } };
  const legacy = { ...llama, rope_theta: 500000.0, rope_scaling: llama3Scaling };

  it('rope_parameters (today) and rope_theta + rope_scaling (before) give the same llama3 frequencies', () => {
    const a = parseConfig(modern, 'Llama-3.2-1B/config.json');
    const b = parseConfig(legacy, 'Llama-3.2-1B/config.json');
    expect(a.ropeTheta).toBe(500000);
    expect(a.ropeScaling).toEqual({ type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    expect(b.ropeScaling).toEqual(a.ropeScaling);
    const inv = ropeInvFreq(a);
    expect(Array.from(ropeInvFreq(b))).toEqual(Array.from(inv));
    // transformers' _compute_llama3_parameters evaluated in float64 (python3 -c, same formula) at i = 0, 10, 20, 31
    const expected = [1.0, 0.016560440080994446, 8.570255489881478e-6, 9.418306725434909e-8];
    [0, 10, 20, 31].forEach((i, k) => expect(Math.abs(inv[i] / expected[k] - 1)).toBeLessThan(1e-7)); // float32 output
  });

  it('rope_parameters with rope_type default carries only the theta (Qwen3 in transformers 5 form)', () => {
    const c = parseConfig({ ...llama, rope_parameters: { rope_theta: 1000000.0, rope_type: 'default' } });
    expect(c.ropeTheta).toBe(1000000);
    expect(c.ropeScaling).toBeUndefined();
    expect(ropeInvFreq(c)[1]).toBe(Math.fround(1 / 1000000 ** (2 / 64)));
  });

  it('a value inside rope_parameters wins over a stale top-level rope_theta, as setdefault does', () => {
    expect(parseConfig({ ...llama, rope_theta: 10000, rope_parameters: { rope_theta: 500000, rope_type: 'default' } }).ropeTheta).toBe(500000);
    expect(parseConfig({ ...llama, rope_theta: 250000, rope_parameters: { rope_type: 'linear', factor: 2 } }).ropeTheta).toBe(250000);
  });

  it('the legacy `type` key (rope_scaling: {type: linear}) still reads', () => {
    const c = parseConfig({ ...llama, rope_scaling: { type: 'linear', factor: 4.0 } });
    expect(c.ropeScaling).toMatchObject({ type: 'linear', factor: 4 });
  });

  it('rope types not implemented here are refused by name, in either form', () => {
    // yarn: Qwen2.5 long-context README's rope_scaling {"factor": 4.0, "original_max_position_embeddings": 32768, "type": "yarn"}
    expect(() => parseConfig({ ...llama, rope_scaling: { factor: 4.0, original_max_position_embeddings: 32768, type: 'yarn' } }, 'q/config.json')).toThrow(
      /q\/config\.json: "rope_scaling" rope_type 'yarn' is not implemented \(implemented: default, linear, llama3\)/,
    );
    expect(() => parseConfig({ ...llama, rope_parameters: { rope_type: 'dynamic', factor: 2.0, rope_theta: 10000 } })).toThrow(/"rope_parameters" rope_type 'dynamic' is not implemented/);
    expect(() => parseConfig({ ...llama, rope_parameters: { rope_type: 'longrope', rope_theta: 10000, short_factor: [1], long_factor: [1] } })).toThrow(/rope_type 'longrope'/);
  });

  it('per-layer-type rope_parameters and a partial rotary factor are refused, not silently read as plain RoPE', () => {
    const perLayer = { full_attention: { rope_type: 'default', rope_theta: 1000000 }, sliding_attention: { rope_type: 'default', rope_theta: 10000 } };
    expect(() => parseConfig({ ...llama, rope_parameters: perLayer })).toThrow(/keyed by layer type \(full_attention, sliding_attention\)/);
    expect(() => parseConfig({ ...llama, rope_parameters: { rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 0.5 } })).toThrow(/"partial_rotary_factor" 0\.5 is not implemented/);
  });
});

describe('Qwen2 / Qwen3 sliding window per layer', () => {
  // transformers models/qwen2/configuration_qwen2.py (commit 008e574), Qwen2Config.__post_init__
  // lines 84-93: sliding_window = sliding_window if use_sliding_window else None; layer_types[i] =
  // "sliding_attention" if sliding_window is not None and i >= max_window_layers else "full_attention".
  // Qwen2.5-7B-Instruct's config.json: "sliding_window": 131072, "max_window_layers": 28, "use_sliding_window": false.
  const qwen = { ...llama, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', num_hidden_layers: 4, sliding_window: 4096, max_window_layers: 2 };

  it('use_sliding_window false (every released Qwen2.5 / Qwen3): no layer has a window', () => {
    const c = parseConfig({ ...qwen, use_sliding_window: false });
    expect(c.slidingWindow).toBeUndefined();
    expect([0, 1, 2, 3].map((i) => usesSlidingWindow(c, i))).toEqual([false, false, false, false]);
  });

  it('use_sliding_window true: only layers >= max_window_layers slide', () => {
    const c = parseConfig({ ...qwen, use_sliding_window: true });
    expect(c.slidingWindow).toBe(4096);
    expect([0, 1, 2, 3].map((i) => usesSlidingWindow(c, i))).toEqual([false, false, true, true]);
    const q3 = parseConfig({ ...qwen, architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', use_sliding_window: true, max_window_layers: 3 });
    expect([0, 1, 2, 3].map((i) => usesSlidingWindow(q3, i))).toEqual([false, false, false, true]);
  });

  it('max_window_layers at or above the layer count means no window at all; its default is 28', () => {
    expect(parseConfig({ ...qwen, use_sliding_window: true, max_window_layers: 4 }).slidingWindow).toBeUndefined();
    const { max_window_layers: _m, ...noMwl } = qwen;
    expect(parseConfig({ ...noMwl, use_sliding_window: true }).slidingWindow).toBeUndefined();
  });

  it('an explicit layer_types list decides, as transformers reads it', () => {
    const c = parseConfig({ ...qwen, use_sliding_window: true, layer_types: ['sliding_attention', 'full_attention', 'full_attention', 'sliding_attention'] });
    expect([0, 1, 2, 3].map((i) => usesSlidingWindow(c, i))).toEqual([true, false, false, true]);
    expect(() => parseConfig({ ...qwen, use_sliding_window: true, layer_types: ['full_attention'] }, 'c.json')).toThrow(/c\.json: "layer_types" must list/);
  });

  it('Mistral: sliding_window applies to every layer', () => {
    const c = parseConfig({ ...llama, architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 4096 });
    expect([0, 1].map((i) => usesSlidingWindow(c, i))).toEqual([true, true]);
  });
});
