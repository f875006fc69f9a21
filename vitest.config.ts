import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: integration tests open many sockets; keep parallelism modest so timings stay sane.
    maxWorkers: 2,
  },
});
