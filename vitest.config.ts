import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // CI machines have 2 cores; model tests are CPU-bound.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
