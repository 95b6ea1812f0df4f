import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { open, readdir, realpath, rename, unlink, type FileHandle } from 'node:fs/promises';
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
 */
export async function installFile(target: string, content: string | Uint8Array, options: InstallOptions): Promise<InstallResult> {
  const { logger } = options;
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const path = await resolveTarget(target);

  // Once per target per process: a previous run killed mid-write may have left a temp file behind.
  if (!swept.has(path)) {
    swept.add(path);
    await cleanupStaleTempFiles(path, logger).catch((err: unknown) => logger.warn(`could not clean up temp files next to ${target}: ${errorMessage(err)}`));
  }

  const current = await readCurrent(path);
  if (current && Buffer.compare(current.bytes, bytes) === 0) {
    logger.debug(`${target} is unchanged`);
    return { changed: false };
  }

  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // 'wx': never follow or reuse something already at the temp path.
  const handle = await open(temp, 'wx', DEFAULT_MODE);
  let closed = false;
  try {
    await handle.writeFile(bytes);
    if (current) await keepOwner(handle, current.stat);
    // chmod after chown (chown clears setuid/setgid bits) and explicitly (open's mode is masked by umask).
    await handle.chmod(current ? current.stat.mode & 0o7777 : (options.mode ?? DEFAULT_MODE));
    await handle.sync();
    closed = true;
    await handle.close();

    if (options.check) {
      const argv = options.check.argv.map((arg) => arg.replaceAll('{src}', temp));
      const result = await runCommand(argv, { timeoutMs: options.check.timeoutMs });
      if (!result.ok) {
        await unlink(temp);
        const output = truncateOutput(`check ${describeFailure(result, options.check.timeoutMs)}\n${result.output}`.trimEnd());
        logger.debug(`not installing ${target}: ${output}`);
        return { changed: false, checkFailed: true, output };
      }
    }

    await rename(temp, path);
  } catch (err) {
    if (!closed) await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
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
  const path = await resolveTarget(target);
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

async function resolveTarget(target: string): Promise<string> {
  try {
    return await realpath(target);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return target;
    throw err;
  }
}

async function readCurrent(path: string): Promise<{ bytes: Buffer; stat: Stats } | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    // One handle for both, so mode and bytes describe the same file.
    const stat = await handle.stat();
    return { bytes: await handle.readFile(), stat };
  } finally {
    await handle.close();
  }
}

/** Gives the new file the old one's owner, so services running as that user can still read it. */
async function keepOwner(handle: FileHandle, old: Stats): Promise<void> {
  const mine = await handle.stat();
  if (mine.uid === old.uid && mine.gid === old.gid) return;
  try {
    await handle.chown(old.uid, old.gid);
  } catch (err) {
    // Only root (or the owner, for the group) may do this; otherwise the new file is ours.
    if (errorCode(err) !== 'EPERM') throw err;
  }
}

/** Makes the rename durable; some platforms and file systems refuse to fsync a directory. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    const code = errorCode(err);
    if (code !== 'EISDIR' && code !== 'EINVAL') throw err;
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
