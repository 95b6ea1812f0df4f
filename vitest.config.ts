import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure logic, fast, no servers) and `integration` (real etcd and friends,
// driving the built packages). Integration files are named *.integration.test.ts.
export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-line-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts'],
          exclude: ['**/*.integration.test.ts', '**/node_modules/**', '**/dist/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['packages/*/src/**/*.integration.test.ts', 'apps/*/src/**/*.integration.test.ts', 'demo/**/*.integration.test.ts', 'test/**/*.integration.test.ts'],
          exclude: ['**/node_modules/**', '**/dist/**'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Each file starts its own etcd; two cores, so don't oversubscribe.
          maxWorkers: 2,
          minWorkers: 1,
        },
      },
    ],
  },
});
