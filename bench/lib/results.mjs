// @ts-check
// Where results go: one JSON file per run, pretty-printed, directories created as needed.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes a suite's report ({ name, title, lines, result, targets }) as JSON. */
export function writeResult(path, report) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(report, null, 2) + '\n');
}
