import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

// The checked-in API reports (packages/*/api/*.api.md) must match what the built packages export:
// a change to a public name or signature is then visible in review. Reads the built .d.ts files,
// so it runs with the integration tests (after `turbo run build`).
describe('API report', () => {
  it('is up to date with the built packages', async () => {
    const { stdout } = await run(process.execPath, [join(ROOT, 'scripts/api-report.mjs'), '--json'], { cwd: ROOT, maxBuffer: 16 << 20, timeout: 60_000 });
    const reports = JSON.parse(stdout) as Record<string, string>;
    expect(Object.keys(reports).sort()).toEqual(['packages/cli/api/cli.api.md', 'packages/core/api/core.api.md', 'packages/handlers/api/handlers.api.md']);
    for (const [path, text] of Object.entries(reports)) {
      const checkedIn = await readFile(join(ROOT, path), 'utf8').catch(() => '(missing)');
      expect(checkedIn, `${path} is out of date: run \`pnpm api:report\` and commit the result`).toBe(text);
    }
  }, 60_000);
});
