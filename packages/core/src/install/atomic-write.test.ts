import { spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, symlink, writeFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../util/log.js';
import { cleanupStaleTempFiles, installFile } from './atomic-write.js';

const logger = silentLogger;
let dir: string;
let target: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cc-install-'));
  target = join(dir, 'upstream.conf');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const tempFiles = async () => (await readdir(dir)).filter((name) => name.endsWith('.tmp'));
const mode = async (path: string) => (await stat(path)).mode & 0o777;
/** A pid that belonged to a process which has exited. */
const deadPid = () => spawnSync('true').pid;

describe('installFile', () => {
  it('creates a new file with mode 0644 regardless of umask', async () => {
    const old = process.umask(0o077);
    try {
      expect(await installFile(target, 'a\n', { logger })).toEqual({ changed: true });
    } finally {
      process.umask(old);
    }
    expect(await readFile(target, 'utf8')).toBe('a\n');
    expect(await mode(target)).toBe(0o644);
    expect(await tempFiles()).toEqual([]);
  });

  it('uses the given mode for a new file, and accepts bytes', async () => {
    expect(await installFile(target, new Uint8Array([1, 2, 3]), { mode: 0o600, logger })).toEqual({ changed: true });
    expect([...(await readFile(target))]).toEqual([1, 2, 3]);
    expect(await mode(target)).toBe(0o600);
  });

  it('does not write when the bytes are the same', async () => {
    await writeFile(target, 'same\n');
    const before = await stat(target);
    await new Promise((r) => setTimeout(r, 20));
    expect(await installFile(target, 'same\n', { logger })).toEqual({ changed: false });
    const after = await stat(target);
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(await tempFiles()).toEqual([]);
  });

  it('replaces a different file with a new inode and keeps its mode', async () => {
    await writeFile(target, 'old\n');
    await chmod(target, 0o600);
    const before = await stat(target);
    expect(await installFile(target, 'new\n', { logger, mode: 0o644 })).toEqual({ changed: true });
    expect(await readFile(target, 'utf8')).toBe('new\n');
    expect((await stat(target)).ino).not.toBe(before.ino);
    expect(await mode(target)).toBe(0o600);
  });

  it.runIf(process.getuid?.() === 0)('keeps the owner of an existing file (as root)', async () => {
    await writeFile(target, 'old\n');
    await chown(target, 1234, 2345);
    await installFile(target, 'new\n', { logger });
    const after = await stat(target);
    expect([after.uid, after.gid]).toEqual([1234, 2345]);
  });

  it('writes through a symlink, keeping the link', async () => {
    const real = join(dir, 'real.conf');
    await writeFile(real, 'old\n');
    await symlink(real, target);
    expect(await installFile(target, 'new\n', { logger })).toEqual({ changed: true });
    expect((await lstat(target)).isSymbolicLink()).toBe(true);
    expect(await readFile(real, 'utf8')).toBe('new\n');
  });

  describe('check', () => {
    const grepOk = { argv: ['sh', '-c', 'grep -q ok "$1"', 'sh', '{src}'], timeoutMs: 5000 };

    it('installs when the check passes, and runs it on the staged file in the same directory', async () => {
      const seen = join(dir, 'seen');
      const check = { argv: ['sh', '-c', 'grep -q ok "$1" && echo "$1" > "$2"', 'sh', '{src}', seen], timeoutMs: 5000 };
      expect(await installFile(target, 'ok\n', { logger, check })).toEqual({ changed: true });
      expect(await readFile(target, 'utf8')).toBe('ok\n');
      const staged = (await readFile(seen, 'utf8')).trim();
      expect(dirname(staged)).toBe(await realpath(dir));
      expect(basename(staged)).toMatch(new RegExp(`^\\.upstream\\.conf\\.${process.pid}\\.[0-9a-f]+\\.tmp$`));
    });

    it('replaces {src} inside a larger argument', async () => {
      const check = { argv: ['sh', '-c', 'case "$1" in --file=/*) test -f "${1#--file=}";; *) exit 1;; esac', 'sh', '--file={src}'], timeoutMs: 5000 };
      expect(await installFile(target, 'x', { logger, check })).toEqual({ changed: true });
    });

    it('leaves the target untouched and no temp file when the check fails, and logs the output', async () => {
      await writeFile(target, 'ok old\n');
      const before = await stat(target);
      const lines: string[] = [];
      const check = { argv: ['sh', '-c', 'echo "syntax error in $1" >&2; exit 1', 'sh', '{src}'], timeoutMs: 5000 };
      const result = await installFile(target, 'bad\n', { logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }), check });
      expect(result).toMatchObject({ changed: false, checkFailed: true });
      expect('output' in result && result.output).toMatch(/exited with code 1[\s\S]*syntax error in/);
      expect(lines.join('\n')).toContain('syntax error in');
      expect(await readFile(target, 'utf8')).toBe('ok old\n');
      expect((await stat(target)).ino).toBe(before.ino);
      expect(await tempFiles()).toEqual([]);

      // The same change is tried again next time, and goes through once it is valid.
      expect(await installFile(target, 'ok new\n', { logger, check: grepOk })).toEqual({ changed: true });
    });

    it('treats a check that times out or cannot start as failed', async () => {
      const slow = await installFile(target, 'x', { logger, check: { argv: ['sleep', '5'], timeoutMs: 100 } });
      expect(slow).toMatchObject({ changed: false, checkFailed: true, output: expect.stringContaining('timed out') });
      const missing = await installFile(target, 'x', { logger, check: { argv: ['/nonexistent/cc-check', '{src}'], timeoutMs: 1000 } });
      expect(missing).toMatchObject({ changed: false, checkFailed: true, output: expect.stringContaining('ENOENT') });
      await expect(stat(target)).rejects.toThrow(/ENOENT/);
      expect(await tempFiles()).toEqual([]);
    });
  });

  it('removes the temp file and rethrows when the rename fails', async () => {
    // The check passes but turns the target into a directory, so the rename fails with EISDIR.
    const check = { argv: ['mkdir', target], timeoutMs: 5000 };
    await expect(installFile(target, 'x', { logger, check })).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(await tempFiles()).toEqual([]);
  });

  it('fails cleanly when the directory does not exist', async () => {
    await expect(installFile(join(dir, 'missing', 'f'), 'x', { logger })).rejects.toThrow(/ENOENT/);
  });

  it('never lets a concurrent reader see a partial file', async () => {
    const a = Buffer.alloc(1024 * 1024, 'A');
    const b = Buffer.alloc(1024 * 1024, 'B');
    await installFile(target, a, { logger });
    let done = false;
    let reads = 0;
    const reader = (async () => {
      while (!done) {
        const seen = await readFile(target);
        if (!seen.equals(a) && !seen.equals(b)) throw new Error(`partial read of ${seen.length} bytes`);
        reads += 1;
      }
    })();
    try {
      for (let i = 0; i < 50; i += 1) {
        expect(await installFile(target, i % 2 === 0 ? b : a, { logger })).toEqual({ changed: true });
      }
    } finally {
      done = true;
      await reader;
    }
    expect(reads).toBeGreaterThan(0);
    expect(await tempFiles()).toEqual([]);
  }, 30_000);
});

describe('cleanupStaleTempFiles', () => {
  it('removes temp files of dead processes only', async () => {
    const dead = `.upstream.conf.${deadPid()}.abc123.tmp`;
    const live = `.upstream.conf.${process.ppid}.def456.tmp`;
    const other = `.other.conf.${deadPid()}.abc123.tmp`;
    const unrelated = `.upstream.conf.notapid.tmp`;
    for (const name of [dead, live, other, unrelated]) await writeFile(join(dir, name), 'partial');
    expect(await cleanupStaleTempFiles(target)).toEqual([join(dir, dead)]);
    expect((await readdir(dir)).sort()).toEqual([live, other, unrelated].sort());
  });

  it('runs on the first install of a target, even when nothing changes', async () => {
    await writeFile(target, 'same');
    const dead = `.upstream.conf.${deadPid()}.abc123.tmp`;
    await writeFile(join(dir, dead), 'partial');
    expect(await installFile(target, 'same', { logger })).toEqual({ changed: false });
    expect(await tempFiles()).toEqual([]);
  });

  it('ignores a missing directory', async () => {
    expect(await cleanupStaleTempFiles(join(dir, 'nope', 'f'))).toEqual([]);
    await mkdir(join(dir, 'empty'));
    expect(await cleanupStaleTempFiles(join(dir, 'empty', 'f'))).toEqual([]);
  });
});
