import type { RunnerTask, RunnerTestFile } from 'vitest';
import type { Reporter } from 'vitest/node';

/**
 * Ends the run with one plain line, `tests: N passed, N failed, N skipped`, after vitest's own
 * summary, so CI and humans can read the outcome without parsing the colourful report.
 */
export default class SummaryLineReporter implements Reporter {
  onFinished(files: RunnerTestFile[] = [], errors: unknown[] = []): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const visit = (task: RunnerTask) => {
      if (task.type === 'suite') {
        // A suite whose hook failed (beforeAll) leaves its tests skipped: the suite is a failure.
        if (task.result?.state === 'fail') counts.failed++;
        return task.tasks.forEach(visit);
      }
      const state = task.result?.state;
      if (state === 'pass') counts.passed++;
      else if (state === 'fail') counts.failed++;
      else counts.skipped++;
    };
    for (const file of files) {
      if (file.tasks.length === 0 && file.result?.state === 'fail') counts.failed++; // failed to load
      file.tasks.forEach(visit);
    }
    counts.failed += errors.length;
    process.stdout.write(`tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}
