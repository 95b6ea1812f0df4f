import { existsSync } from 'node:fs';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeFailure, OUTPUT_LIMIT, runCommand } from './run-command.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cc-run-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('runCommand', () => {
  it('reports success', async () => {
    const result = await runCommand(['true'], { timeoutMs: 5000 });
    expect(result).toMatchObject({ ok: true, code: 0, signal: null, timedOut: false, output: '' });
    expect(result.error).toBeUndefined();
  });

  it('reports a non-zero exit with stdout and stderr combined', async () => {
    const result = await runCommand(['sh', '-c', 'echo out; echo err >&2; exit 3'], { timeoutMs: 5000 });
    expect(result).toMatchObject({ ok: false, code: 3, timedOut: false });
    expect(result.output).toContain('out');
    expect(result.output).toContain('err');
    expect(describeFailure(result, 5000)).toBe('exited with code 3');
  });

  it('does not use a shell: arguments are passed verbatim', async () => {
    const result = await runCommand(['printf', '%s|', 'a b', '$HOME', '; rm -rf /'], { timeoutMs: 5000 });
    expect(result.output).toBe('a b|$HOME|; rm -rf /|');
  });

  it('reports a command that cannot be started instead of throwing, with the exit code a shell gives', async () => {
    const result = await runCommand(['/nonexistent/cc-no-such-command'], { timeoutMs: 5000 });
    expect(result).toMatchObject({ ok: false, code: 127, signal: null, error: 'command not found: /nonexistent/cc-no-such-command' });
    expect(describeFailure(result, 5000)).toBe('could not be started: command not found: /nonexistent/cc-no-such-command (exit 127)');
    expect(await runCommand(['cc-no-such-command-in-path'], { timeoutMs: 5000 })).toMatchObject({ code: 127, error: 'command not found: cc-no-such-command-in-path' });
    expect((await runCommand([], { timeoutMs: 5000 })).error).toBe('empty command');
  });

  it('reports a file that is not executable, or a directory, as 126', async () => {
    const script = join(dir, 'reload.sh');
    await writeFile(script, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    expect(await runCommand([script], { timeoutMs: 5000 })).toMatchObject({ ok: false, code: 126, error: `permission denied: ${script}` });
    const result = await runCommand([dir], { timeoutMs: 5000 });
    expect(result).toMatchObject({ ok: false, code: 126, error: `permission denied: ${dir}` });
    expect(describeFailure(result, 5000)).toBe(`could not be started: permission denied: ${dir} (exit 126)`);
  });

  it('passes env and cwd', async () => {
    const result = await runCommand(['sh', '-c', 'echo "$CC_TEST_VAR"; pwd'], { timeoutMs: 5000, env: { ...process.env, CC_TEST_VAR: 'hello' }, cwd: dir });
    expect(result.output).toBe(`hello\n${await realpath(dir)}\n`);
  });

  it('caps the output at 64 KiB', async () => {
    const result = await runCommand(['sh', '-c', "head -c 200000 /dev/zero | tr '\\0' a"], { timeoutMs: 5000 });
    expect(result.ok).toBe(true);
    expect(result.output.startsWith('a'.repeat(OUTPUT_LIMIT))).toBe(true);
    expect(result.output).toContain(`${200000 - OUTPUT_LIMIT} more bytes`);
    expect(result.output.length).toBeLessThan(OUTPUT_LIMIT + 100);
  });

  it('on timeout kills the whole process group, not just the shell', async () => {
    const marker = join(dir, 'late');
    const started = Date.now();
    // The background subshell would write the marker after 1 s if it survived the timeout.
    const result = await runCommand(['sh', '-c', `(sleep 1; echo late > '${marker}') & sleep 5; wait`], { timeoutMs: 200 });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(result).toMatchObject({ ok: false, timedOut: true, signal: 'SIGTERM' });
    expect(describeFailure(result, 200)).toBe('timed out after 200 ms');
    await new Promise((r) => setTimeout(r, 1300));
    expect(existsSync(marker)).toBe(false);
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const result = await runCommand(['sh', '-c', 'trap "" TERM; sleep 10'], { timeoutMs: 100 });
    expect(result).toMatchObject({ ok: false, timedOut: true, signal: 'SIGKILL' });
  }, 10_000);

  it('does not wait for a daemon that keeps the output pipe open', async () => {
    const started = Date.now();
    const result = await runCommand(['sh', '-c', 'sleep 3 & echo started'], { timeoutMs: 5000 });
    expect(result).toMatchObject({ ok: true, code: 0 });
    expect(result.output).toContain('started');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
