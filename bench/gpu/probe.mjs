// Prints what Dawn sees (one JSON line): the adapter's vendor/architecture/description, whether
// it is a fallback (CPU) adapter, timestamp-query support (kernel timings in tf.profile) and the
// buffer limits that bound the largest tensor (the ~110M model's logits are 8*512*32000*4 bytes).
// Exit 0 with an adapter, 2 without one. Run by bench/gpu/run.sh before the benchmark.
let webgpu;
try {
  webgpu = await import('webgpu');
} catch (e) {
  console.log(JSON.stringify({ adapter: null, error: `webgpu package failed to load: ${e.message.split('\n')[0]}` }));
  process.exit(2);
}
const gpu = webgpu.create([]);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) {
  console.log(JSON.stringify({ adapter: null, error: 'requestAdapter returned null (no Vulkan loader or no driver ICD)' }));
  process.exit(2);
}
const info = adapter.info ?? {};
const limits = {};
for (const k of ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupsPerDimension']) {
  limits[k] = adapter.limits[k];
}
console.log(JSON.stringify({
  adapter: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description },
  isFallbackAdapter: adapter.isFallbackAdapter ?? info.isFallbackAdapter ?? null,
  timestampQuery: adapter.features.has('timestamp-query'),
  shaderF16: adapter.features.has('shader-f16'),
  limits,
}));
process.exit(0);
