import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@cluster-control/core';
import { installFile } from '@cluster-control/core/install';

/*
 * `heartbeat --once` then `heartbeat` (the PHP startup script's order) on one node: the key put by
 * --once lives for one TTL, and the later heartbeat must take it over rather than wait for it to
 * expire — while a second node with the same key still may not (README: Owning a key). So --once
 * leaves its lease in a file only this user can write, and a later `heartbeat` or `run` of the
 * same key and etcd on this machine adopts that lease if etcd still keeps it.
 */

/** A directory only we can write, or undefined when the place is not safe (then no hand-over). */
function handoverDir(): string | undefined {
  const uid = process.getuid?.() ?? -1;
  const base = process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'cluster-control') : uid === 0 ? '/run/cluster-control' : join(tmpdir(), `cluster-control-${uid}`);
  try {
    mkdirSync(base, { recursive: true, mode: 0o700 });
    const stat = lstatSync(base);
    if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o077) !== 0) return undefined;
    return base;
  } catch {
    return undefined;
  }
}

function handoverFile(key: string, endpoints: readonly string[]): string | undefined {
  const dir = handoverDir();
  if (!dir) return undefined;
  const id = createHash('sha256')
    .update(`${endpoints.join(',')}\n${key}`)
    .digest('hex')
    .slice(0, 32);
  return join(dir, `${id}.lease`);
}

/** After `heartbeat --once`: leave the lease for a later heartbeat of this node. */
export async function leaveLease(key: string, endpoints: readonly string[], lease: string, logger: Logger): Promise<void> {
  const file = handoverFile(key, endpoints);
  if (!file) return;
  try {
    await installFile(file, JSON.stringify({ key, lease }) + '\n', { logger, mode: 0o600 });
  } catch (err) {
    logger.debug(`could not leave the lease of ${key} for a later heartbeat: ${(err as Error).message}`);
  }
}

/** The lease a `heartbeat --once` of this node left for `key`, if any (the file is used up). */
export function takeLeftLease(key: string, endpoints: readonly string[]): string | undefined {
  const file = handoverFile(key, endpoints);
  if (!file) return undefined;
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.uid !== process.getuid?.() || stat.size > 4096) return undefined;
    const data = JSON.parse(readFileSync(fd, 'utf8')) as { key?: unknown; lease?: unknown };
    return data.key === key && typeof data.lease === 'string' && /^\d{1,20}$/.test(data.lease) ? data.lease : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
  }
}
