import { spawnSync } from 'node:child_process';
import { chmod, chown, lchown, lstat, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../util/log.js';
import { cleanupStaleTempFiles, installFile, UnsafeTargetError } from './atomic-write.js';

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
const asRoot = process.getuid?.() === 0;
/** A uid that is neither root nor us (only root can give files to it). */
const OTHER = 1234;
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

  it.runIf(asRoot)('keeps the owner and group of an existing root-owned file (as root)', async () => {
    await writeFile(target, 'old\n', { mode: 0o640 });
    await chown(target, 0, 2345);
    await chmod(target, 0o640);
    await installFile(target, 'new\n', { logger });
    const after = await stat(target);
    expect([after.uid, after.gid, after.mode & 0o7777]).toEqual([0, 2345, 0o640]);
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
      expect(missing).toMatchObject({ changed: false, checkFailed: true, output: expect.stringContaining('command not found: /nonexistent/cc-check (exit 127)') });
      await expect(stat(target)).rejects.toThrow(/ENOENT/);
      expect(await tempFiles()).toEqual([]);
    });
  });

  it('checkOnly runs the check on a staged copy and never replaces the target', async () => {
    await writeFile(target, 'ok old\n');
    const before = await stat(target);
    const check = { argv: ['sh', '-c', 'grep -q ok "$1"', 'sh', '{src}'], timeoutMs: 5000 };
    expect(await installFile(target, 'ok new\n', { logger, check, checkOnly: true })).toEqual({ changed: false });
    expect(await installFile(target, 'ok old\n', { logger, check, checkOnly: true })).toEqual({ changed: false });
    expect(await installFile(target, 'bad\n', { logger, check, checkOnly: true })).toMatchObject({ changed: false, checkFailed: true });
    expect(await readFile(target, 'utf8')).toBe('ok old\n');
    expect((await stat(target)).ino).toBe(before.ino);
    expect(await tempFiles()).toEqual([]);
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

  it('never removes a symlink or a file it does not own, even with a stale temp name', async () => {
    const victim = join(dir, 'victim');
    await writeFile(victim, 'keep');
    const link = `.upstream.conf.${deadPid()}.abc123.tmp`;
    await symlink(victim, join(dir, link));
    const foreign = `.upstream.conf.${deadPid()}.def456.tmp`;
    await writeFile(join(dir, foreign), 'theirs');
    if (asRoot) await chown(join(dir, foreign), OTHER, OTHER);
    const removed = await cleanupStaleTempFiles(target);
    expect(removed).toEqual(asRoot ? [] : [join(dir, foreign)]);
    expect(await readlink(join(dir, link))).toBe(victim);
    expect(await readFile(victim, 'utf8')).toBe('keep');
  });
});

describe('installFile refuses unsafe targets (the rules of a careful root daemon)', () => {
  /** The refusal installFile throws for `path`, checked to be one line naming the target. */
  async function refusal(path: string, content = 'new\n'): Promise<UnsafeTargetError> {
    const err: unknown = await installFile(path, content, { logger }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UnsafeTargetError);
    const e = err as UnsafeTargetError;
    expect(e.code).toBe('ERR_UNSAFE_TARGET');
    expect(e.target).toBe(path);
    expect(e.message).not.toContain('\n');
    expect(e.message.startsWith(`refusing to write ${path}: `)).toBe(true);
    expect(await tempFiles()).toEqual([]);
    return e;
  }

  const snapshot = async (path: string) => {
    const s = await lstat(path);
    return { ino: s.ino, mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, mtimeMs: s.mtimeMs, text: s.isFile() ? await readFile(path, 'utf8') : '' };
  };

  it('refuses a FIFO at the target promptly, without opening it for reading', async () => {
    expect(spawnSync('mkfifo', [target]).status).toBe(0);
    const started = Date.now();
    expect((await refusal(target)).message).toBe(`refusing to write ${target}: not a regular file (a FIFO)`);
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await lstat(target)).isFIFO()).toBe(true);
  });

  it('refuses a symlink to /dev/zero (a device), without reading it', async () => {
    await symlink('/dev/zero', target);
    expect((await refusal(target)).message).toBe(`refusing to write ${target}: its destination /dev/zero is not a regular file (a character device)`);
    expect(await readlink(target)).toBe('/dev/zero');
  });

  it.runIf(asRoot)('refuses a character device at the target (mknod, as root)', async (ctx) => {
    if (spawnSync('mknod', [target, 'c', '1', '5']).status !== 0) ctx.skip(); // no CAP_MKNOD here
    expect((await refusal(target)).reason).toBe('not a regular file (a character device)');
  });

  it('refuses a directory and a socket at the target', async () => {
    await mkdir(target);
    expect((await refusal(target)).reason).toBe('not a regular file (a directory)');
    await rm(target, { recursive: true });
    const server = createServer();
    await new Promise<void>((r) => server.listen(target, r));
    try {
      expect((await refusal(target)).reason).toBe('not a regular file (a socket)');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('refuses a directory writable by group or others without the sticky bit, and writes nothing in it', async () => {
    for (const [m, who] of [
      [0o775, 'group'],
      [0o757, 'others'],
      [0o777, 'others'],
    ] as const) {
      const open = join(dir, `open-${m.toString(8)}`);
      await mkdir(open);
      await chmod(open, m);
      const e = await refusal(join(open, 'f.conf'));
      expect(e.reason).toBe(`its directory ${open} is writable by ${who} without the sticky bit (mode 0${m.toString(8)})`);
      expect(await readdir(open)).toEqual([]);
    }
  });

  it('refuses a target below a directory that others may write, even when its own directory is fine', async () => {
    const open = join(dir, 'open');
    await mkdir(join(open, 'conf.d'), { recursive: true });
    await chmod(open, 0o777);
    expect((await refusal(join(open, 'conf.d', 'f.conf'))).reason).toBe(`directory ${open} is writable by others without the sticky bit (mode 0777)`);
  });

  it('writes in a sticky world-writable directory (like /tmp)', async () => {
    const sticky = join(dir, 'sticky');
    await mkdir(sticky);
    await chmod(sticky, 0o1777);
    const file = join(sticky, 'f.conf');
    expect(await installFile(file, 'a\n', { logger })).toEqual({ changed: true });
    expect(await installFile(file, 'b\n', { logger })).toEqual({ changed: true });
    expect(await readFile(file, 'utf8')).toBe('b\n');
  });

  it('stages the file 0600 and gives it its final mode only after the check', async () => {
    const seen = join(dir, 'seen');
    const check = { argv: ['sh', '-c', 'stat -c %a "$1" >> "$2"', 'sh', '{src}', seen], timeoutMs: 5000 };
    const old = process.umask(0);
    try {
      expect(await installFile(target, 'a\n', { logger, check })).toEqual({ changed: true });
      expect(await mode(target)).toBe(0o644);
      await chmod(target, 0o640);
      expect(await installFile(target, 'b\n', { logger, check, mode: 0o666 })).toEqual({ changed: true });
      expect(await mode(target)).toBe(0o640);
    } finally {
      process.umask(old);
    }
    expect((await readFile(seen, 'utf8')).split('\n').filter(Boolean)).toEqual(['600', '600']);
  });

  it('follows a symlink chain owned by us to our file, and writes through it', async () => {
    const real = join(dir, 'real.conf');
    await writeFile(real, 'old\n', { mode: 0o640 });
    await chmod(real, 0o640);
    await symlink(real, join(dir, 'middle'));
    await symlink('middle', target);
    expect(await installFile(target, 'new\n', { logger })).toEqual({ changed: true });
    expect(await readFile(real, 'utf8')).toBe('new\n');
    expect(await mode(real)).toBe(0o640);
    expect(await readlink(target)).toBe('middle');
    // And to a file that does not exist yet: created at the destination.
    await symlink(join(dir, 'later.conf'), join(dir, 'dangling'));
    expect(await installFile(join(dir, 'dangling'), 'x', { logger })).toEqual({ changed: true });
    expect(await readFile(join(dir, 'later.conf'), 'utf8')).toBe('x');
  });

  it.runIf(asRoot)('follows a root-owned symlink to a root-owned file in a sticky directory (as root)', async () => {
    const protectedDir = join(dir, 'etc');
    await mkdir(protectedDir, { mode: 0o700 });
    const real = join(protectedDir, 'real.conf');
    await writeFile(real, 'old\n', { mode: 0o600 });
    const sticky = join(dir, 'sticky');
    await mkdir(sticky);
    await chmod(sticky, 0o1777);
    await symlink(real, join(sticky, 'f.conf'));
    expect(await installFile(join(sticky, 'f.conf'), 'new\n', { logger })).toEqual({ changed: true });
    expect(await readFile(real, 'utf8')).toBe('new\n');
    expect(await mode(real)).toBe(0o600);
  });

  describe.runIf(asRoot)('files and links of another user (as root)', () => {
    let sticky: string;
    let secret: string;
    beforeEach(async () => {
      // What an attacker would like us to overwrite: root's 0600 file in a root-only directory.
      const etc = join(dir, 'etc');
      await mkdir(etc, { mode: 0o700 });
      secret = join(etc, 'secret');
      await writeFile(secret, 'root only\n', { mode: 0o600 });
      sticky = join(dir, 'sticky');
      await mkdir(sticky);
      await chmod(sticky, 0o1777);
    });

    it('refuses a symlink owned by another user, and leaves its destination alone', async () => {
      const file = join(sticky, 'f.conf');
      await symlink(secret, file);
      await lchown(file, OTHER, OTHER);
      const before = await snapshot(secret);
      expect((await refusal(file)).reason).toBe(`${file} is a symlink owned by uid ${OTHER} (not root or us)`);
      expect(await snapshot(secret)).toEqual(before);
    });

    it('refuses a symlinked directory owned by another user on the way to the target', async () => {
      await symlink(dirname(secret), join(sticky, 'd'));
      await lchown(join(sticky, 'd'), OTHER, OTHER);
      const before = await snapshot(secret);
      expect((await refusal(join(sticky, 'd', 'secret'))).reason).toBe(`${join(sticky, 'd')} is a symlink owned by uid ${OTHER} (not root or us)`);
      expect(await snapshot(secret)).toEqual(before);
    });

    it('refuses our symlink to a file owned by another user', async () => {
      const theirs = join(dir, 'theirs.conf');
      await writeFile(theirs, 'theirs\n');
      await chown(theirs, OTHER, OTHER);
      await chmod(theirs, 0o666);
      await symlink(theirs, target);
      const before = await snapshot(theirs);
      expect((await refusal(target)).reason).toBe(`its destination ${theirs} is owned by uid ${OTHER} (not root or us)`);
      expect(await snapshot(theirs)).toEqual(before);
    });

    it('refuses an existing file owned by another user (its owner and mode are never copied)', async () => {
      for (const d of [dir, sticky]) {
        const file = join(d, 'planted.conf');
        await writeFile(file, 'planted\n');
        await chown(file, OTHER, OTHER);
        await chmod(file, 0o4666);
        const before = await snapshot(file);
        expect((await refusal(file)).reason).toBe(`the file is owned by uid ${OTHER} (not root or us)`);
        expect(await snapshot(file)).toEqual(before);
      }
    });

    it('refuses a directory owned by another user, even if only its owner may write it', async () => {
      const home = join(dir, 'home');
      await mkdir(home, { mode: 0o755 });
      await chown(home, OTHER, OTHER);
      expect((await refusal(join(home, 'f.conf'))).reason).toBe(`its directory ${home} is owned by uid ${OTHER} (not root or us)`);
      await mkdir(join(home, 'sub'), { mode: 0o755 });
      expect((await refusal(join(home, 'sub', 'f.conf'))).reason).toBe(`directory ${home} is owned by uid ${OTHER} (not root or us)`);
      expect(await readdir(join(home, 'sub'))).toEqual([]);
    });

    it('refuses cleanupStaleTempFiles where it would refuse the install', async () => {
      const home = join(dir, 'home');
      await mkdir(home, { mode: 0o755 });
      await chown(home, OTHER, OTHER);
      const stale = join(home, `.f.conf.${deadPid()}.abc123.tmp`);
      await writeFile(stale, 'x');
      await expect(cleanupStaleTempFiles(join(home, 'f.conf'))).rejects.toBeInstanceOf(UnsafeTargetError);
      expect(await readFile(stale, 'utf8')).toBe('x');
    });
  });

  it('keeps a refusal on one line even when a path has a newline in it', async () => {
    const odd = join(dir, 'a\nb');
    await mkdir(odd);
    await chmod(odd, 0o777);
    const e = (await installFile(join(odd, 'f'), 'x', { logger }).then(
      () => undefined,
      (err: unknown) => err,
    )) as UnsafeTargetError;
    expect(e).toBeInstanceOf(UnsafeTargetError);
    expect(e.message).not.toContain('\n');
    expect(e.message).toContain('a\\x0ab');
  });
});
