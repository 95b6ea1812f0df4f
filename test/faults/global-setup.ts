import { formatSummary, readResults, resetResults } from './results.js';

// Clears the results before the fault suite and prints the summary table after it.
export function setup(): void {
  resetResults();
}

export function teardown(): void {
  const results = readResults();
  if (results.length > 0) process.stdout.write('\n' + formatSummary(results) + '\n');
}
