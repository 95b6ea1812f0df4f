// @ts-check
// Part C of the scale suite (bench/suites/scale.mjs): the real `cluster-control watch` command,
// idle, over a cluster of N members, next to an empty Node process measured the same way.
//
// Both processes are started at the same time on the same machine: the watch (node
// packages/cli/<bin> --conf FILE watch bench 0: the bin cli's package.json names, as users run it; default
// configuration: status publishing on, the json handler writing a real file) and `node -e
// "setInterval(() => {}, 1e9)"` (the floor: Node itself, doing nothing). Once the watch has
// written the file with all N members, both are left alone for `idleSeconds` (V8 hands memory
// back some 10-30 s after the last burst of allocation, and an idle watcher still answers etcd's
// progress notifications and keeps its status lease alive); their VmRSS is then sampled once a
// second for `samples` seconds from /proc/<pid>/status and the median of each is the figure.
// The target: watch ≤ empty + 15 MiB.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { stopProcess, trackDir, trackProcess } from '../lib/resources.mjs';
import { median } from '../lib/stats.mjs';
import { rssBytes } from '../lib/system.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLI_DIR = join(HERE, '..', '..', 'packages', 'cli');

/** The CLI's executable as its package.json names it (the built bin users run). */
export function cliBin() {
  const { bin } = JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8'));
  return join(CLI_DIR, typeof bin === 'string' ? bin : bin['cluster-control']);
}
const MIB = 2 ** 20;

/** The watch may use at most this much more than an empty Node process. */
export const IDLE_WATCH_OVER_EMPTY_BYTES = 15 * MIB;

const sleep = (msecs) => new Promise((r) => setTimeout(r, msecs));

/** VmRSS of a process in bytes (NaN when it is gone). */
const rssOf = (pid) => rssBytes(pid) ?? NaN;

/**
 * Measures one idle `watch` over the `size` members already under `prefix` in the etcd at
 * `endpoint` (`prefix` ends with '/', the cluster's path is `prefix` without it).
 * @param {{ endpoint: string, prefix: string, size: number, idleSeconds: number, samples: number, progress: (line: string) => void }} options
 */
export async function measureIdleWatch({ endpoint, prefix, size, idleSeconds, samples, progress }) {
  const dir = trackDir(await mkdtemp(join(os.tmpdir(), 'cc-bench-idle-watch-')));
  const file = join(dir, 'members.json');
  const conf = join(dir, 'cluster-control.conf');
  await writeFile(conf, JSON.stringify({ etcd: { endpoints: [endpoint] }, clusters: [{ name: 'bench', path: prefix.replace(/\/$/, ''), handler: 'json', handlerConfig: { file } }] }, null, 2));
  const bin = cliBin();
  const watchArgs = [bin, '--conf', conf, 'watch', 'bench', '0'];
  let stderr = '';
  const empty = trackProcess(spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' }));
  const watch = trackProcess(spawn(process.execPath, watchArgs, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CLUSTER_CONTROL_CONF: '' } }));
  watch.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  try {
    const t0 = performance.now();
    // Written once the first read is installed: wait for the file to hold every member.
    for (;;) {
      if (watch.exitCode !== null || watch.signalCode !== null) throw new Error(`watch exited (${watch.signalCode ?? watch.exitCode}): ${stderr.trim()}`);
      if (performance.now() - t0 > 60_000) throw new Error(`watch did not write ${size} members within 60 s: ${stderr.trim()}`);
      const names = await readFile(file, 'utf8').then(
        (text) => JSON.parse(text),
        () => undefined,
      );
      if (Array.isArray(names) && names.length === size) break;
      await sleep(50);
    }
    const readyMs = performance.now() - t0;
    const rssAtReady = { watch: rssOf(watch.pid), empty: rssOf(empty.pid) };
    progress(`C ${size}: watch wrote ${size} members in ${readyMs.toFixed(0)} ms; idle ${idleSeconds} s, then ${samples} samples`);
    await sleep(idleSeconds * 1000);
    const watchSamples = [];
    const emptySamples = [];
    for (let i = 0; i < samples; i++) {
      watchSamples.push(rssOf(watch.pid));
      emptySamples.push(rssOf(empty.pid));
      await sleep(1000);
    }
    if (watch.exitCode !== null || watch.signalCode !== null) throw new Error(`watch exited while idle: ${stderr.trim()}`);
    const watchRss = median(watchSamples);
    const emptyRss = median(emptySamples);
    return {
      size,
      idleSeconds,
      command: `node packages/cli/${bin.slice(CLI_DIR.length + 1)} --conf FILE watch bench 0 (json handler, default configuration)`,
      readyMs,
      rssAtReady,
      watchRss,
      emptyRss,
      overEmpty: watchRss - emptyRss,
      samples: { watch: watchSamples, empty: emptySamples },
      warnings: stderr
        .split('\n')
        .filter((l) => /warn|error/i.test(l))
        .slice(0, 10),
    };
  } finally {
    await Promise.all([stopProcess(watch, 5_000), stopProcess(empty, 5_000)]);
    await rm(dir, { recursive: true, force: true });
  }
}
