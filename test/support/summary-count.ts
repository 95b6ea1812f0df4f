/** The part of a vitest task (test, suite or file) that the summary line counts. */
export interface CountedTask {
  type: string;
  result?: { state?: string };
  tasks?: readonly CountedTask[];
}

export interface SummaryCounts {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * The numbers of the summary line: every test by its state (neither passed nor failed counts as
 * skipped), plus one failure for each suite or file that failed on its own, and one for each
 * unhandled error.
 *
 * A suite (or file) whose test or sub-suite failed is marked failed too; that failure is already
 * counted, so the suite is not counted again. A suite that failed with no failed test under it
 * failed on its own: a beforeAll hook threw (its tests are then skipped), an afterAll hook threw,
 * or the file failed to load (no tests at all).
 */
export function countResults(files: readonly CountedTask[], errors: readonly unknown[] = []): SummaryCounts {
  const counts: SummaryCounts = { passed: 0, failed: 0, skipped: 0 };
  /** Counts `task` and everything under it; whether anything failed there. */
  const visit = (task: CountedTask): boolean => {
    const state = task.result?.state;
    if (task.type === 'suite' || task.tasks !== undefined) {
      let failedUnder = false;
      for (const child of task.tasks ?? []) if (visit(child)) failedUnder = true;
      if (state === 'fail' && !failedUnder) counts.failed++;
      return failedUnder || state === 'fail';
    }
    if (state === 'pass') counts.passed++;
    else if (state === 'fail') counts.failed++;
    else counts.skipped++;
    return state === 'fail';
  };
  for (const file of files) visit(file);
  counts.failed += errors.length;
  return counts;
}
