import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import test/support as `#test-support/<file>.js` (tsconfig.base.json's `paths` has the same
// mapping). Each project lists it: an inline project does not inherit the root config's `resolve`.
const resolve = { alias: [{ find: /^#test-support\//, replacement: fileURLToPath(new URL('./test/support/', import.meta.url)) }] };

// Four projects: `unit` (pure logic, fast, no servers), `integration` (real etcd and friends,
// driving the built packages; *.integration.test.ts), `exe` (some of those again, against the
// single executable) and `faults` (test/faults: real failures under churn, with a summary table
// at the end; *.fault.test.ts).
export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-line-reporter.ts'],
    projects: [
      {
        resolve,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'test/support/**/*.test.ts'],
          exclude: ['**/*.integration.test.ts', '**/node_modules/**', '**/dist/**'],
        },
      },
      {
        resolve,
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
      {
        resolve,
        test: {
          // The single executable (`pnpm build:exe`, built by npm test) run through the CLI tests
          // that cover every one-shot command, watch, heartbeat, run, status, both transports and
          // a custom handler module; test/support/cli.ts runs it instead of `node bin.cjs`.
          name: 'exe',
          include: [
            'packages/cli/src/php-startup-flow.integration.test.ts',
            'packages/cli/src/run.integration.test.ts',
            'packages/cli/src/status.integration.test.ts',
            'packages/cli/src/transports.integration.test.ts',
            'packages/cli/src/custom-handler.integration.test.ts',
          ],
          env: { CLUSTER_CONTROL_EXE: fileURLToPath(new URL('./packages/cli/dist/exe/cluster-control', import.meta.url)) },
          testTimeout: 60_000,
          hookTimeout: 60_000,
          maxWorkers: 2,
          minWorkers: 1,
        },
      },
      {
        resolve,
        test: {
          name: 'faults',
          include: ['test/faults/**/*.fault.test.ts'],
          globalSetup: ['./test/faults/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          // Scenarios kill and freeze servers and measure convergence: one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
