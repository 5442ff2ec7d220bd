#!/usr/bin/env node
// npm install hook: builds the native CPU kernels (src/engine/native/kernels.c) with the system C
// compiler. Never fails the install: without a compiler the tool runs on the portable backends.
import { register } from 'tsx/esm/api';

register();
try {
  const { buildNative } = await import('../src/engine/native/build.ts');
  const path = buildNative();
  console.log(`ko-align: native kernels built (${path})`);
} catch (e) {
  console.log(`ko-align: native kernels not built (${e.message.split('\n')[0]}); the portable backends still work`);
}
