import { randomBytes } from 'node:crypto';
import {
  close,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fdatasync,
  fstatSync,
  fsync,
  lstatSync,
  openSync,
  readlinkSync,
  readSync,
  renameSync,
  type Stats,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ErrorCode } from '../util/error-codes.js';
import type { Logger } from '../util/log.js';
import { describeFailure, runCommand, truncateOutput } from './run-command.js';

export interface InstallOptions {
  /**
   * Mode for a file that does not exist yet; an existing file owned by root or by us keeps its mode.
   * Default 0o644.
   */
  mode?: number;
  /** Validation run on the staged file before it replaces the target; `{src}` in an argument is the staged path. */
  check?: { argv: string[]; timeoutMs: number };
  /**
   * Stage the content and run `check` on it, then remove it: never replaces the target (a trial:
   * would this content pass?). The result is `{ changed: false }` or the check's failure; the same
   * safety rules apply, as the staged file is written next to the target.
   */
  checkOnly?: boolean;
  logger: Logger;
}

export type InstallResult = { changed: boolean } | { changed: false; checkFailed: true; output: string };

/**
 * A target `installFile` will not write because writing it could hand control of a file to
 * someone else (a symlink or file planted by another user, a directory others can write, a FIFO
 * or device at the target). Nothing was written. The message is one line: the target and why.
 */
export class UnsafeTargetError extends Error {
  /** Stable, like a system error's code, so callers can tell a refusal from an I/O failure. */
  readonly code = ErrorCode.ERR_UNSAFE_TARGET;

  constructor(
    /** The target as the caller named it. */
    readonly target: string,
    /** Why, e.g. "not a regular file (a FIFO)". */
    readonly reason: string,
  ) {
    super(`refusing to write ${printable(target)}: ${reason}`);
    this.name = 'UnsafeTargetError';
  }
}

const DEFAULT_MODE = 0o644;
/** The mode of a staged file until it passed the check: nobody else reads a file that may not be valid or meant for them. */
const STAGED_MODE = 0o600;
/** As many symlinks as Linux follows in one path before ELOOP. */
const MAX_SYMLINKS = 40;
/** Targets whose directory was already swept for leftovers by this process. */
const swept = new Set<string>();

/**
 * Replaces `target` with `content` atomically, and only if the bytes differ: readers see the old file
 * or the new one, never a mix, even if this process dies mid-write.
 *
 * As a watcher often runs as root, this follows the rules of a careful root daemon (README, "Files a
 * root daemon may touch"); it throws UnsafeTargetError, having written nothing, when:
 * - the target is not a regular file (FIFO, device, directory, socket): it is never read (lstat says
 *   so first; one swapped in afterwards is opened O_NONBLOCK for an fstat only), so a FIFO cannot
 *   make us hang and a device cannot feed us endless bytes;
 * - a symlink on the way (at the target or in a directory of its path) is not owned by root or by
 *   us; a symlinked target is otherwise written through: the link's destination is replaced, the
 *   link stays;
 * - the file (or the link's destination) is owned by another user: its owner and mode are never
 *   copied onto the file we write;
 * - its directory, or a directory above it, is owned by another user, or writable by group or
 *   others without the sticky bit (someone else could swap the file or a directory under us).
 * The temp file is created `O_EXCL|O_NOFOLLOW`, mode 0600, next to the target, and gets its final
 * mode (and the old file's owner and group) only once it passed the check.
 *
 * Why synchronous fs calls: an install is a dozen metadata calls that each take a few
 * microseconds, while a round trip through libuv's thread pool costs 50-100 µs on a busy machine;
 * done async they were most of the time from etcd event to installed file (see bench/). Only the
 * two flushes to disk (fdatasync of the file, fsync of the directory) run on the thread pool.
 */
export async function installFile(target: string, content: string | Uint8Array, options: InstallOptions): Promise<InstallResult> {
  const { logger } = options;
  // A string is written as it is (no copy as bytes first: at 10k members that copy cost more than
  // the write); its bytes are made only to compare them with a file of the same size.
  const size = typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : content.length;
  let bytes = typeof content === 'string' ? undefined : content;
  const encoded = () => (bytes ??= Buffer.from(content as string, 'utf8'));
  const { path, found } = checkTarget(target);
  const dir = dirname(path);

  // Once per target per process: a previous run killed mid-write may have left a temp file behind.
  if (!swept.has(path)) {
    swept.add(path);
    await sweep(path, logger).catch((err: unknown) => logger.warn(`could not clean up temp files next to ${target}: ${errorMessage(err)}`));
  }

  const current = found ? readCurrent(target, path, found, size, encoded) : undefined;
  // The old file stays open until it was replaced and the rename is on disk: then its last close
  // (freeing its blocks, which rename would otherwise do while we wait) runs on the thread pool,
  // once the caller has had the result (setImmediate: after the promise callbacks run now).
  const releaseOld = () => {
    if (current) setImmediate(() => close(current.fd, () => {}));
  };
  if ((options.checkOnly && !options.check) || (current?.same && !options.checkOnly)) {
    if (current) closeSync(current.fd);
    if (!options.checkOnly) logger.debug(`${target} is unchanged`);
    return { changed: false };
  }

  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // Never follow or reuse something already at the temp path; 0600 until it is checked.
  let fd: number;
  try {
    fd = openSync(temp, constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_WRONLY, STAGED_MODE);
  } catch (err) {
    if (current) closeQuietly(current.fd);
    throw err;
  }
  let closed = false;
  try {
    // open's mode is masked by umask: make sure of 0600 (a umask never adds bits, but be explicit).
    fchmodSync(fd, STAGED_MODE);
    if (bytes) writeFileSync(fd, bytes);
    else writeText(fd, content as string, size);

    if (options.check) {
      const argv = options.check.argv.map((arg) => arg.replaceAll('{src}', temp));
      const result = await runCommand(argv, { timeoutMs: options.check.timeoutMs });
      if (!result.ok) {
        closed = true;
        closeSync(fd);
        unlinkSync(temp);
        const output = truncateOutput(`check ${describeFailure(result, options.check.timeoutMs)}\n${result.output}`.trimEnd());
        logger.debug(`not installing ${target}: ${output}`);
        if (current) closeSync(current.fd);
        return { changed: false, checkFailed: true, output };
      }
    }
    if (options.checkOnly) {
      closed = true;
      closeSync(fd);
      unlinkSync(temp);
      if (current) closeSync(current.fd);
      return { changed: false };
    }

    if (current) keepOwner(fd, current.stat);
    // chmod after chown (chown clears setuid/setgid bits) and explicitly (open's mode is masked by umask).
    // Only files owned by root or by us get here (checkExisting), so their bits are the operator's.
    fchmodSync(fd, current ? current.stat.mode & 0o7777 : (options.mode ?? DEFAULT_MODE));
    // The file's bytes (and its size) on disk before the rename can make it visible.
    await onThreadPool(fdatasync, fd);
    closed = true;
    closeSync(fd);

    renameSync(temp, path);
  } catch (err) {
    if (!closed) closeQuietly(fd);
    if (current) closeQuietly(current.fd);
    try {
      unlinkSync(temp);
    } catch {
      // already gone, or never created
    }
    throw err;
  }
  try {
    await syncDirectory(dir);
  } finally {
    releaseOld();
  }
  logger.debug(`installed ${target} (${size} bytes)`);
  return { changed: true };
}

/** Writes all of `text` (`size` bytes as UTF-8) at the file's position, as writeFileSync would. */
function writeText(fd: number, text: string, size: number): void {
  const written = writeSync(fd, text, null, 'utf8');
  if (written < size) writeFileSync(fd, Buffer.from(text, 'utf8').subarray(written));
}

/**
 * Removes `.<basename>.<pid>.<random>.tmp` files next to `target` left by a process that died mid-write.
 * Files of live processes are kept (they may be writing right now), and so is anything that is not a
 * regular file owned by us (we never made it). Returns the removed paths. Throws UnsafeTargetError
 * where installFile would refuse the target.
 */
export async function cleanupStaleTempFiles(target: string, logger?: Logger): Promise<string[]> {
  const { path } = resolveTarget(target);
  checkDirectories(target, dirname(path));
  return sweep(path, logger);
}

async function sweep(path: string, logger?: Logger): Promise<string[]> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
  const removed: string[] = [];
  const euid = process.geteuid?.();
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const [pid, random, ...rest] = name.slice(prefix.length, -'.tmp'.length).split('.');
    if (rest.length > 0 || !pid || !/^\d+$/.test(pid) || !random || !/^[0-9a-f]+$/.test(random)) continue;
    if (isAlive(Number(pid))) continue;
    const file = join(dir, name);
    try {
      // lstat: a symlink (or anything else) with a temp file's name is not ours to remove.
      const st = lstatSync(file);
      if (!st.isFile() || (euid !== undefined && st.uid !== euid)) continue;
      unlinkSync(file);
      removed.push(file);
      logger?.info(`removed stale temp file ${file}`);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
    }
  }
  return removed;
}

/**
 * The checks installFile makes before it writes anything: symlinks resolved safely, every
 * directory on the way trusted, what is there now a regular file of root's or ours. Throws
 * UnsafeTargetError; `check-config` asks the same question without writing.
 */
export function checkTarget(target: string): { path: string; found: Stats | undefined } {
  const { path, stat: found } = resolveTarget(target);
  checkDirectories(target, dirname(path));
  if (found) checkExisting(target, path, found);
  return { path, found };
}

/** Whether a file or link owned by `uid` may decide what we write: root's and ours only. */
function trusted(uid: number): boolean {
  const euid = process.geteuid?.();
  return euid === undefined || uid === 0 || uid === euid;
}

/**
 * The target's path with every symlink resolved, one component at a time with lstat, following only
 * links owned by root or by us in directories checked like the target's (checkDirectories); and the lstat of what is there (undefined if nothing is). A path that
 * does not exist further down is returned as it is (the open or rename then fails with ENOENT).
 */
function resolveTarget(target: string): { path: string; stat: Stats | undefined } {
  let todo = resolve(target).split('/').filter(Boolean);
  let done = '/';
  let links = 0;
  while (todo.length > 0) {
    const name = todo.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      done = dirname(done); // `done` has no symlinks left: its parent is the real parent
      continue;
    }
    const next = join(done, name);
    let st: Stats;
    try {
      st = lstatSync(next);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return { path: join(next, ...todo), stat: undefined };
      throw err;
    }
    if (st.isSymbolicLink()) {
      // A link where others may rename or replace it is as unsafe as a link of theirs.
      checkDirectories(target, done);
      if (!trusted(st.uid)) throw new UnsafeTargetError(target, `${printable(next)} is a symlink owned by uid ${st.uid} (not root or us)`);
      if (++links > MAX_SYMLINKS) throw new UnsafeTargetError(target, `more than ${MAX_SYMLINKS} symlinks to follow`);
      const link = readlinkSync(next);
      if (link.startsWith('/')) done = '/';
      todo = [...link.split('/').filter(Boolean), ...todo];
      continue;
    }
    if (todo.length === 0) return { path: next, stat: st };
    done = next;
  }
  // The target resolved to `/` (or a link to it): a directory.
  return { path: done, stat: lstatSync(done) };
}

/**
 * The target's directory and every directory above it: owned by root or by us, and not writable by
 * group or others unless sticky (then others cannot remove or rename what is ours). Otherwise someone
 * else could swap the target, or a directory on its path, between our checks and the rename.
 */
function checkDirectories(target: string, dir: string): void {
  for (let d = dir; ; d = dirname(d)) {
    let st: Stats;
    try {
      st = lstatSync(d);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') {
        if (d === dirname(d)) return;
        continue; // a missing directory: the write fails with ENOENT; check what exists above
      }
      throw err;
    }
    const which = d === dir || d === dirname(resolve(target)) ? 'its directory' : 'directory';
    if (!st.isDirectory()) break; // not reached by the write either (ENOTDIR follows)
    if (!trusted(st.uid)) throw new UnsafeTargetError(target, `${which} ${printable(d)} is owned by uid ${st.uid} (not root or us)`);
    if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
      throw new UnsafeTargetError(target, `${which} ${printable(d)} is writable by ${st.mode & 0o002 ? 'others' : 'group'} without the sticky bit (mode ${octal(st.mode)})`);
    }
    if (d === dirname(d)) return;
  }
}

/** What is at the target (after the symlinks): a regular file owned by root or by us, or a refusal. */
function checkExisting(target: string, path: string, st: Stats): void {
  const subject = path === resolve(target) ? '' : `its destination ${printable(path)} `;
  if (!st.isFile()) throw new UnsafeTargetError(target, `${subject ? `${subject}is ` : ''}not a regular file (${kind(st)})`);
  if (!trusted(st.uid)) throw new UnsafeTargetError(target, `${subject || 'the file '}is owned by uid ${st.uid} (not root or us)`);
}

/**
 * The current file's mode and owner and whether its bytes equal the new ones (`size` of them, made
 * by `bytes` only when the sizes are equal). Opened O_NOFOLLOW|O_NONBLOCK and checked again with
 * fstat, so a symlink, FIFO or device swapped in since the lstat is refused without being read (and
 * a FIFO cannot block the open). The descriptor is returned open: the caller closes it.
 */
function readCurrent(target: string, path: string, seen: Stats, size: number, bytes: () => Uint8Array): { same: boolean; stat: Stats; fd: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT') return undefined; // gone since the lstat: nothing to compare or keep
    if (code === 'ELOOP') throw new UnsafeTargetError(target, `${printable(path)} became a symlink while being checked`);
    throw err;
  }
  try {
    // One descriptor for all, so mode, owner and bytes describe the same file.
    const stat = fstatSync(fd);
    if (stat.dev !== seen.dev || stat.ino !== seen.ino) throw new UnsafeTargetError(target, `${printable(path)} was replaced while being checked`);
    checkExisting(target, path, stat);
    return { same: stat.size === size && sameBytes(fd, bytes()), stat, fd };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Reads the open file up to one byte past `bytes.length`, comparing as it goes. */
function sameBytes(fd: number, bytes: Uint8Array): boolean {
  const chunk = Buffer.allocUnsafe(Math.min(Math.max(bytes.length + 1, 1), 1 << 20));
  let at = 0;
  for (;;) {
    const n = readSync(fd, chunk, 0, chunk.length, at);
    if (n === 0) return at === bytes.length;
    if (at + n > bytes.length || Buffer.compare(chunk.subarray(0, n), bytes.subarray(at, at + n)) !== 0) return false;
    at += n;
  }
}

/**
 * Gives the new file the old one's owner and group, so services running as them can still read it.
 * Only reached for a file owned by root or by us; its group is kept whatever it is (root chose it).
 */
function keepOwner(fd: number, old: Stats): void {
  const mine = fstatSync(fd);
  if (mine.uid === old.uid && mine.gid === old.gid) return;
  try {
    fchownSync(fd, old.uid, old.gid);
  } catch (err) {
    // Only root (or the owner, for the group) may do this; otherwise the new file is ours.
    if (errorCode(err) !== 'EPERM') throw err;
  }
}

function kind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symlink';
  return 'an unknown kind of file';
}

function octal(mode: number): string {
  return '0' + (mode & 0o7777).toString(8).padStart(3, '0');
}

/** A path as one line: control characters (a newline in a file name) escaped. */
function printable(path: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this escapes
  return path.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Makes the rename durable; some platforms and file systems refuse to fsync a directory. */
async function syncDirectory(dir: string): Promise<void> {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch (err) {
    if (errorCode(err) === 'EISDIR') return;
    throw err;
  }
  try {
    await onThreadPool(fsync, fd);
  } catch (err) {
    const code = errorCode(err);
    if (code !== 'EISDIR' && code !== 'EINVAL') throw err;
  } finally {
    closeSync(fd);
  }
}

/** fsync and fdatasync wait for the disk, which can take long: not on the event loop. */
function onThreadPool(flush: typeof fsync, fd: number): Promise<void> {
  return new Promise((resolve, reject) => flush(fd, (err) => (err ? reject(err) : resolve())));
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return errorCode(err) === 'EPERM';
  }
}

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
