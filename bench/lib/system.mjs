// @ts-check
// Facts about the machine a result was measured on.

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

import { median } from './stats.mjs';

export function tryExec(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** e.g. ext4, tmpfs; best effort (findmnt is util-linux, stat -f says ext2/ext3 for ext4). */
export function fileSystemOf(dir) {
  return tryExec('findmnt', ['-n', '-o', 'FSTYPE', '-T', dir]) || tryExec('stat', ['-f', '-c', '%T', dir]) || 'unknown';
}

export function machine() {
  return {
    node: process.version,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? null,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}

/** CPU time (user + system) of a process in ms, from /proc; undefined when it is gone. */
export function cpuTimeMs(pid) {
  try {
    const stat = execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' });
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    return (ticks * 1000) / clockTicks();
  } catch {
    return undefined;
  }
}

let ticksPerSecond;
function clockTicks() {
  ticksPerSecond ??= Number(tryExec('getconf', ['CLK_TCK'])) || 100;
  return ticksPerSecond;
}

/** Resident set size of a process in bytes, from /proc; undefined when it is gone. */
export function rssBytes(pid) {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * The floor of the scale suite's RSS figures: the resident set of an empty Node process (this
 * node binary, `node -e "setTimeout(() => {}, 1e9)"`), read from its /proc/<pid>/status after
 * `settleMs`, then killed; the median of `runs`. Synchronous (the wait is Atomics.wait), so it can
 * run while a result is written. { bytes, samples, settleMs, node }, or undefined without /proc.
 */
export function emptyNodeRss({ runs = 3, settleMs = 300 } = {}) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1e9)'], { stdio: 'ignore' });
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, settleMs);
      const bytes = child.pid === undefined ? undefined : rssBytes(child.pid);
      if (bytes !== undefined) samples.push(bytes);
    } catch {
      // no /proc (or the child died): no sample
    } finally {
      child.kill('SIGKILL');
    }
  }
  if (samples.length === 0) return undefined;
  return { bytes: median(samples), samples, settleMs, node: process.version };
}
