import type { RunnerTestFile } from 'vitest';
import type { Reporter } from 'vitest/node';
import { countResults } from './summary-count.js';

/**
 * Ends the run with one plain line, `tests: N passed, N failed, N skipped`, after vitest's own
 * summary, so CI and humans can read the outcome without parsing the colourful report. A suite
 * or file counts as a failure only when it failed on its own (a hook, a file that failed to
 * load), not when a test in it failed: see countResults.
 */
export default class SummaryLineReporter implements Reporter {
  onFinished(files: RunnerTestFile[] = [], errors: unknown[] = []): void {
    const counts = countResults(files, errors);
    process.stdout.write(`tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}
