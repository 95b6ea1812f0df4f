import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fchownSync,
  fdatasync,
  fstatSync,
  fsync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  type Stats,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../util/log.js';
import { describeFailure, runCommand, truncateOutput } from './run-command.js';

export interface InstallOptions {
  /** Mode for a file that does not exist yet; an existing file keeps its mode. Default 0o644. */
  mode?: number;
  /** Validation run on the staged file before it replaces the target; `{src}` in an argument is the staged path. */
  check?: { argv: string[]; timeoutMs: number };
  logger: Logger;
}

export type InstallResult = { changed: boolean } | { changed: false; checkFailed: true; output: string };

const DEFAULT_MODE = 0o644;
/** Targets whose directory was already swept for leftovers by this process. */
const swept = new Set<string>();

/**
 * Replaces `target` with `content` atomically, and only if the bytes differ: readers see the old file
 * or the new one, never a mix, even if this process dies mid-write.
 * A symlinked target is written through (the link's destination is replaced, the link stays).
 *
 * Why synchronous fs calls: an install is a dozen metadata calls that each take a few
 * microseconds, while a round trip through libuv's thread pool costs 50-100 µs on a busy machine;
 * done async they were most of the time from etcd event to installed file (see bench/). Only the
 * two flushes to disk (fdatasync of the file, fsync of the directory) run on the thread pool.
 */
export async function installFile(target: string, content: string | Uint8Array, options: InstallOptions): Promise<InstallResult> {
  const { logger } = options;
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const path = resolveTarget(target);

  // Once per target per process: a previous run killed mid-write may have left a temp file behind.
  if (!swept.has(path)) {
    swept.add(path);
    await cleanupStaleTempFiles(path, logger).catch((err: unknown) => logger.warn(`could not clean up temp files next to ${target}: ${errorMessage(err)}`));
  }

  const current = readCurrent(path);
  if (current && Buffer.compare(current.bytes, bytes) === 0) {
    logger.debug(`${target} is unchanged`);
    return { changed: false };
  }

  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // 'wx': never follow or reuse something already at the temp path.
  const fd = openSync(temp, 'wx', DEFAULT_MODE);
  let closed = false;
  try {
    writeFileSync(fd, bytes);
    if (current) keepOwner(fd, current.stat);
    // chmod after chown (chown clears setuid/setgid bits) and explicitly (open's mode is masked by umask).
    fchmodSync(fd, current ? current.stat.mode & 0o7777 : (options.mode ?? DEFAULT_MODE));
    // The file's bytes (and its size) on disk before the rename can make it visible.
    await onThreadPool(fdatasync, fd);
    closed = true;
    closeSync(fd);

    if (options.check) {
      const argv = options.check.argv.map((arg) => arg.replaceAll('{src}', temp));
      const result = await runCommand(argv, { timeoutMs: options.check.timeoutMs });
      if (!result.ok) {
        unlinkSync(temp);
        const output = truncateOutput(`check ${describeFailure(result, options.check.timeoutMs)}\n${result.output}`.trimEnd());
        logger.debug(`not installing ${target}: ${output}`);
        return { changed: false, checkFailed: true, output };
      }
    }

    renameSync(temp, path);
  } catch (err) {
    if (!closed) closeQuietly(fd);
    try {
      unlinkSync(temp);
    } catch {
      // already gone, or never created
    }
    throw err;
  }
  await syncDirectory(dir);
  logger.debug(`installed ${target} (${bytes.length} bytes)`);
  return { changed: true };
}

/**
 * Removes `.<basename>.<pid>.<random>.tmp` files next to `target` left by a process that died mid-write.
 * Files of live processes are kept (they may be writing right now). Returns the removed paths.
 */
export async function cleanupStaleTempFiles(target: string, logger?: Logger): Promise<string[]> {
  const path = resolveTarget(target);
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
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const [pid, random, ...rest] = name.slice(prefix.length, -'.tmp'.length).split('.');
    if (rest.length > 0 || !pid || !/^\d+$/.test(pid) || !random || !/^[0-9a-f]+$/.test(random)) continue;
    if (isAlive(Number(pid))) continue;
    try {
      await unlink(join(dir, name));
      removed.push(join(dir, name));
      logger?.info(`removed stale temp file ${join(dir, name)}`);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
    }
  }
  return removed;
}

function resolveTarget(target: string): string {
  try {
    return realpathSync(target);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return target;
    throw err;
  }
}

function readCurrent(path: string): { bytes: Buffer; stat: Stats } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    // One descriptor for both, so mode and bytes describe the same file.
    const stat = fstatSync(fd);
    return { bytes: readFileSync(fd), stat };
  } finally {
    closeSync(fd);
  }
}

/** Gives the new file the old one's owner, so services running as that user can still read it. */
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
