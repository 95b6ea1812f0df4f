#!/usr/bin/env node
// @ts-check
// Fleet: 1, 100 and 1,000 watchers of one cluster, each publishing what it applied (README: Is the
// fleet in step?).
//
// Each watcher is core's ClusterSync with its own StatusPublisher (its own lease, kept alive every
// ttl/3), the way one `cluster-control watch` process publishes; they run in a few child processes
// of this file (at most 250 per process: 1 → 1 process, 100 → 1, 1,000 → 4), one etcd connection
// per process. Every watcher installs its own file (the minimal JSON handler of the other suites)
// and has a reload action (an async no-op, as the Supervisor's onReload), so a revision counts as
// applied only once the reload after its install succeeded — the path of `watch ... -- reload`,
// `run` and the demo apps. The files go to /dev/shm by default (--file-dir to change): 1,000
// watchers stand for 1,000 machines, and their 1,000 fsyncs sharing this one disk is not what is
// measured here (see the latency suite for the install itself).
//
// What is measured, per size, against a fresh etcd:
//   - put → all reported: from just before the put of a new member (revision R) to the moment the
//     parent's watch of the status prefix has seen, for every watcher, a status record with
//     appliedRevision >= R. Also per watcher (every watcher's first such record), pooled.
//     p50/p99 (nearest rank) over `changes` changes (default 20, after 2 unmeasured), one every
//     `interval` ms (default 2,000: apart enough that each change is its own, as with deploys);
//   - status writes per watcher per change: the etcd revisions between two changes' puts minus the
//     put itself (nothing else writes to this etcd), divided by the watchers; cross-checked with
//     the status put events the parent's watch received;
//   - etcd CPU (utime+stime from /proc/<pid>/stat, % of one core) and the watcher processes' CPU:
//     over an idle window (`idle` s without changes: lease keepalives only — a quiet watcher
//     writes no status; readers tell from etcd's history that nothing changed since what it
//     applied) and over the measured changes;
//   - at the end every child stops its watchers and revokes its leases: every status key must be gone.
//
//   node bench/suites/fleet.mjs [--sizes 1,100,1000] [--changes 20] [--interval 2000] [--idle 5]
//                               [--per-process 250] [--ttl 10] [--file-dir DIR] [--out FILE] [--quiet]

import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { ClusterSync } from '@cluster-control/core';
import { connectEtcd, prefixRange } from '@cluster-control/core/etcd';
import { DEFAULT_STATUS_PREFIX, StatusPublisher, parseWatcherStatus, statusClusterPrefix } from '@cluster-control/core/status';

import { etcdVersion, startEtcd } from '../lib/etcd.mjs';
import { deferred, runMain, stopProcess, trackDir, trackProcess, withTimeout } from '../lib/resources.mjs';
import { recordSuite, writeResult } from '../lib/results.mjs';
import { ms, r3, roundAll, summarize, table } from '../lib/stats.mjs';
import { cpuTimeMs, machine } from '../lib/system.mjs';

const SELF = fileURLToPath(import.meta.url);
const CHILD_ENV = 'CC_BENCH_FLEET_CHILD';
const WARMUP_CHANGES = 2;
const CHANGE_TIMEOUT_MS = 30_000;
const START_TIMEOUT_MS = 120_000;
const INITIAL_MEMBERS = 10;
const TARGET_ALL_REPORTED_P99_MS = 1000;
const TARGET_WRITES_PER_CHANGE = 2;
const TARGET_SIZE = 1000;

export const defaults = { sizes: [1, 100, 1000], changes: 20, intervalMs: 2000, idleSeconds: 5, perProcess: 250, ttl: 10 };

const clock = () => performance.now();
const memberName = (i) => `10.7.${(i >> 8) & 255}.${i & 255}:80`;

/** The smallest JSON handler (one array of member names), as in the latency and bursts suites. */
const jsonHandler = { name: 'json', parseOptions: () => ({}), render: (members) => JSON.stringify(members.map((m) => m.name)) + '\n' };

// ---------------------------------------------------------------------------------------------
// The child: `count` watchers (ClusterSync + its own StatusPublisher) on one connection.
//
// In:  { type: 'start', endpoint, path, statusPrefix, ttl, count, first, fileDir }
//      { type: 'stop' }
// Out: { type: 'ready', ids, startMs }  every watcher started, installed and idle
//      { type: 'stopped', problems }    every watcher stopped, every lease revoked (then it exits)
//      { type: 'error', message }

async function child() {
  const send = (m) => process.connected && process.send(m);
  const problems = [];
  const logger = {
    debug() {},
    info() {},
    warn: (m) => problems.length < 20 && problems.push(`warn: ${m}`),
    error: (m) => problems.length < 20 && problems.push(`error: ${m}`),
  };
  let conn;
  const watchers = [];
  /** @param {any} m */
  const onMessage = async (m) => {
    try {
      if (m.type === 'start') {
        const t0 = clock();
        conn = await connectEtcd({ endpoints: [m.endpoint], timeoutMs: 10_000, logger });
        // Started in batches: 1,000 watchers starting in the same millisecond is a thundering herd
        // no real fleet has (and not what this suite measures).
        for (let i = 0; i < m.count; i += 50) {
          const batch = [];
          for (let j = i; j < Math.min(m.count, i + 50); j++) {
            const publisher = new StatusPublisher(conn, { prefix: m.statusPrefix, ttl: m.ttl, command: 'bench', logger });
            // One publisher per process is the product's way, and its id is host:pid:<2 random
            // bytes>; 250 in one process would collide (birthday: ~40 %) and count as one
            // watcher. Each stands for a machine of its own here: give it a unique id.
            publisher.identity.id = `${publisher.identity.host}:${process.pid}:w${m.first + j}`;
            const sync = new ClusterSync(conn, {
              target: { name: 'fleet', path: m.path, file: join(m.fileDir, `w${m.first + j}.json`), handler: jsonHandler, handlerOptions: {}, checkTimeoutMs: 10_000, minMembers: 0 },
              reloadAction: async () => {},
              logger,
              status: publisher,
            });
            watchers.push({ sync, publisher });
            batch.push(sync.start().then(() => sync.idle()));
          }
          await Promise.all(batch);
        }
        send({ type: 'ready', ids: watchers.map((w) => w.publisher.identity.id), startMs: clock() - t0, problems: problems.slice() });
      } else if (m.type === 'stop') {
        await Promise.all(watchers.map((w) => w.sync.stop()));
        await Promise.all(watchers.map((w) => w.publisher.close()));
        conn?.close();
        send({ type: 'stopped', problems });
        setTimeout(() => process.exit(0), 50);
      }
    } catch (err) {
      send({ type: 'error', message: err?.stack ?? String(err) });
    }
  };
  // Its errors are caught and sent to the parent inside.
  process.on('message', (m) => void onMessage(m));
}

// ---------------------------------------------------------------------------------------------
// The parent

function forkChild() {
  const proc = trackProcess(fork(SELF, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, [CHILD_ENV]: '1' } }));
  let stderr = '';
  proc.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const waiting = new Map();
  proc.on('message', (m) => {
    if (m.type === 'error') for (const d of waiting.values()) d.reject(new Error(`fleet child ${proc.pid}: ${m.message}`));
    waiting.get(m.type)?.resolve(m);
  });
  proc.once('exit', (code, signal) => {
    for (const d of waiting.values()) d.reject(new Error(`fleet child ${proc.pid} exited (${code ?? signal}): ${stderr.trim().slice(-1000)}`));
  });
  return {
    proc,
    /** Sends `message` and resolves with the next message of type `answer`. */
    ask(message, answer, timeoutMs) {
      const d = deferred();
      waiting.set(answer, d);
      proc.send(message);
      return withTimeout(d.promise, timeoutMs, `fleet child ${proc.pid}: ${answer}`);
    },
  };
}

/** The watch of one cluster's status prefix: every watcher's latest applied revision, and when each first reached a revision. */
class StatusWatch {
  constructor() {
    this.applied = new Map(); // watcher id -> bigint
    this.puts = []; // { at, modRevision }
    this.deletes = 0;
    this.goal = undefined; // { revision, reachedAt: Map(id -> ms), done: deferred, n }
  }

  onEvents(events) {
    const at = clock();
    for (const e of events) {
      if (e.type === 'delete') {
        this.deletes++;
        continue;
      }
      this.puts.push({ at, modRevision: e.modRevision });
      const s = parseWatcherStatus(e.value);
      if (!s) continue;
      const applied = BigInt(s.appliedRevision);
      this.applied.set(s.watcher.id, applied);
      const goal = this.goal;
      if (goal && applied >= goal.revision && !goal.reachedAt.has(s.watcher.id)) {
        goal.reachedAt.set(s.watcher.id, at);
        if (goal.reachedAt.size >= goal.n) goal.done.resolve(at);
      }
    }
  }

  /** Resolves with the time every one of `n` watchers reported `revision` applied (watchers already there count at once). */
  waitFor(revision, n) {
    const goal = { revision, reachedAt: new Map(), done: /** @type {ReturnType<typeof deferred<number>>} */ (deferred()), n };
    const now = clock();
    for (const [id, applied] of this.applied) if (applied >= revision) goal.reachedAt.set(id, now);
    this.goal = goal;
    if (goal.reachedAt.size >= n) goal.done.resolve(now);
    return goal;
  }
}

async function fleetRun({ size, changes, intervalMs, idleSeconds, perProcess, ttl, fileDir, progress }) {
  const etcd = await startEtcd({ progress });
  const conn = await connectEtcd({ endpoints: [etcd.endpoint], timeoutMs: 10_000 });
  const path = `/bench/fleet/n${size}`;
  const statusPrefix = DEFAULT_STATUS_PREFIX;
  const keyPrefix = statusClusterPrefix(statusPrefix, path);
  try {
    for (let i = 0; i < INITIAL_MEMBERS; i++) await conn.put(`${path}/${memberName(i)}`, '{}');
    const watch = /** @type {StatusWatch & { seen: bigint }} */ (new StatusWatch());
    const from = (await conn.range(prefixRange(keyPrefix), { limit: 1 })).revision + 1n;
    // A watch that broke (e.g. its connection dropped while this machine was saturated) is opened
    // again from the revision after the last one seen: no status write is missed, the break counted.
    const breaks = [];
    /** @type {{ close(): void }} */
    let handle;
    let closed = false;
    const open = async (start) => {
      handle = await conn.watch(prefixRange(keyPrefix), start, {
        onEvents: (events, revision) => {
          watch.seen = revision;
          watch.onEvents(events);
        },
        onProgress: (revision) => (watch.seen = revision),
        onBroken: (err) => {
          if (closed) return;
          breaks.push({ atS: (clock() - t0) / 1000, error: err.message });
          progress(`status watch broke (${err.message}); watching again from ${watch.seen + 1n}`);
          const retry = () => void open(watch.seen + 1n).catch(() => setTimeout(retry, 200));
          setTimeout(retry, 100);
        },
      });
    };
    const t0 = clock();
    watch.seen = from - 1n;
    await open(from);
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();

    // Start the watchers; all must report the initial members applied.
    const processes = Math.max(1, Math.ceil(size / perProcess));
    const children = [];
    const initial = await conn.newestModRevision(prefixRange(path + '/'));
    const ready = watch.waitFor(initial, size);
    const starts = [];
    for (let p = 0, first = 0; p < processes; p++) {
      const count = Math.floor(size / processes) + (p < size % processes ? 1 : 0);
      const c = forkChild();
      children.push(c);
      starts.push(c.ask({ type: 'start', endpoint: etcd.endpoint, path, statusPrefix, ttl, count, first, fileDir }, 'ready', START_TIMEOUT_MS));
      first += count;
    }
    const readies = await Promise.all(starts);
    progress(`children ready after ${((clock() - t0) / 1000).toFixed(1)} s (${readies.map((r) => (r.startMs / 1000).toFixed(1)).join(', ')} s); ${watch.applied.size} watchers reported so far`);
    for (const p of [...new Set(readies.flatMap((r) => r.problems))].slice(0, 5)) progress(`  child: ${p.slice(0, 200)}`);
    await withTimeout(ready.done.promise, START_TIMEOUT_MS, `${size} watchers reporting revision ${initial}`);
    const startMs = clock() - t0;
    const revAtReady = (await conn.range(prefixRange(keyPrefix), { limit: 1 })).revision;
    progress(`etcd revision once all reported: ${revAtReady} (${watch.puts.length} status writes seen)`);
    progress(`${size} watchers in ${processes} process(es) started and reported in ${(startMs / 1000).toFixed(1)} s`);
    const childPids = children.map((c) => c.proc.pid);
    const childCpu = () => childPids.reduce((t, pid) => t + (cpuTimeMs(pid) ?? NaN), 0);

    // Idle: no change in the cluster (wait out the start-up's writes first). Lease keepalives; the
    // idle status writes column shows that a quiet watcher writes none.
    await new Promise((r) => setTimeout(r, 1_500));
    const idle0 = { at: clock(), etcd: cpuTimeMs(etcd.pid), kids: childCpu(), puts: watch.puts.length, rev: (await conn.range(prefixRange(keyPrefix), { limit: 1 })).revision };
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const idleWall = clock() - idle0.at;
    const idleRev = (await conn.range(prefixRange(keyPrefix), { limit: 1 })).revision;
    const idle = {
      seconds: idleWall / 1000,
      etcdCpuPct: ((cpuTimeMs(etcd.pid) - idle0.etcd) / idleWall) * 100,
      watchersCpuPct: ((childCpu() - idle0.kids) / idleWall) * 100,
      statusWrites: watch.puts.length - idle0.puts,
      revisions: Number(idleRev - idle0.rev),
    };

    // The changes: a new member every `intervalMs`.
    const samples = [];
    let next = INITIAL_MEMBERS;
    let measureStart;
    let previous;
    const total = WARMUP_CHANGES + changes;
    for (let k = 0; k < total; k++) {
      if (k === WARMUP_CHANGES) measureStart = { at: clock(), etcd: cpuTimeMs(etcd.pid), kids: childCpu() };
      const key = `${path}/${memberName(next++)}`;
      const putsBefore = watch.puts.length;
      const start = clock();
      // The goal is set from the put's revision, but events can only arrive after the put returns
      // (the watch runs on this same event loop): none is missed.
      const revision = await conn.put(key, '{}');
      const goal = watch.waitFor(revision, size);
      let allAt;
      try {
        allAt = await withTimeout(goal.done.promise, CHANGE_TIMEOUT_MS, `change ${k}`);
      } catch {
        const missing = [...watch.applied].filter(([, a]) => a < revision).map(([id]) => id);
        progress(`change ${k}: ${goal.reachedAt.size} of ${size} reported within ${CHANGE_TIMEOUT_MS} ms (behind: ${missing.slice(0, 3).join(', ')}…)`);
        allAt = NaN;
      }
      const sample = { revision, allMs: allAt - start, perWatcherMs: [...goal.reachedAt.values()].map((t) => t - start), putsBefore };
      if (previous) previous.revisionsToNext = Number(revision - previous.revision) - 1;
      if (k >= WARMUP_CHANGES) samples.push(sample);
      previous = sample;
      const wait = start + intervalMs - clock();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      sample.statusPuts = watch.puts.length - putsBefore;
    }
    const lastRev = (await conn.range(prefixRange(keyPrefix), { limit: 1 })).revision;
    previous.revisionsToNext = Number(lastRev - previous.revision);
    const measureWall = clock() - measureStart.at;
    const during = {
      seconds: measureWall / 1000,
      etcdCpuPct: ((cpuTimeMs(etcd.pid) - measureStart.etcd) / measureWall) * 100,
      watchersCpuPct: ((childCpu() - measureStart.kids) / measureWall) * 100,
    };

    // Stop: every lease revoked, every status key gone.
    const stopped = await Promise.all(children.map((c) => c.ask({ type: 'stop' }, 'stopped', 60_000)));
    await Promise.all(children.map((c) => stopProcess(c.proc, 5_000)));
    const left = (await conn.range(prefixRange(keyPrefix))).kvs.length;
    closed = true;
    handle.close();
    lag.disable();

    const all = summarize(samples.map((s) => s.allMs).filter(Number.isFinite));
    const perWatcher = summarize(samples.flatMap((s) => s.perWatcherMs));
    const writesPerChange = samples.map((s) => s.revisionsToNext / size);
    const putsPerChange = samples.map((s) => s.statusPuts / size);
    return {
      watchers: size,
      processes,
      startS: startMs / 1000,
      childStartS: readies.map((r) => r.startMs / 1000),
      allReportedMs: roundAll(all),
      perWatcherMs: roundAll(perWatcher),
      missedChanges: samples.filter((s) => !Number.isFinite(s.allMs)).length,
      writesPerWatcherPerChange: roundAll(summarize(writesPerChange)),
      statusPutsSeenPerWatcherPerChange: roundAll(summarize(putsPerChange)),
      idle: roundAll(idle),
      during: roundAll(during),
      statusKeysLeftAfterStop: left,
      leaseDeletesSeen: watch.deletes,
      statusWatchBreaks: breaks,
      parentEventLoopDelayMaxMs: r3(lag.max / 1e6),
      problems: [...new Set(stopped.flatMap((s) => s.problems))].slice(0, 10),
      raw: samples.map((s) => ({ revision: String(s.revision), allMs: r3(s.allMs), revisionsToNext: s.revisionsToNext, statusPuts: s.statusPuts })),
    };
  } finally {
    conn.close();
    await etcd.stop();
  }
}

export async function run(options = {}) {
  const progress = options.progress ?? (() => {});
  const o = /** @type {typeof defaults & { fileDir?: string }} */ ({ ...defaults, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) });
  const startedAt = new Date();
  const t0 = clock();
  const fileDir = trackDir(await mkdtemp(join(o.fileDir ?? (existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir()), 'cc-bench-fleet-')));
  const rows = [];
  for (const size of o.sizes) {
    progress(`${size} watcher(s): starting`);
    rows.push(await fleetRun({ size, changes: o.changes, intervalMs: o.intervalMs, idleSeconds: o.idleSeconds, perProcess: o.perProcess, ttl: o.ttl, fileDir, progress }));
    const r = rows.at(-1);
    progress(`${size} watcher(s): all reported p50 ${ms(r.allReportedMs.p50)} ms, p99 ${ms(r.allReportedMs.p99)} ms; ${r.writesPerWatcherPerChange.mean} writes per watcher per change`);
  }

  const targets = [];
  for (const r of rows.filter((row) => row.watchers === TARGET_SIZE)) {
    const p99 = r.missedChanges > 0 ? Infinity : r.allReportedMs.p99;
    targets.push({
      target: `${r.watchers} watchers: put -> all reported p99 <= ${TARGET_ALL_REPORTED_P99_MS} ms`,
      value: r.missedChanges > 0 ? `${r.missedChanges} change(s) never fully reported` : `${ms(p99)} ms`,
      pass: p99 <= TARGET_ALL_REPORTED_P99_MS,
    });
    targets.push({
      target: `${r.watchers} watchers: status writes per watcher per change <= ${TARGET_WRITES_PER_CHANGE}`,
      value: `${r.writesPerWatcherPerChange.max} (max over changes)`,
      pass: r.writesPerWatcherPerChange.max <= TARGET_WRITES_PER_CHANGE,
    });
  }

  const title = `fleet: N watchers of one cluster (ClusterSync + its own StatusPublisher each, reload action, up to ${o.perProcess} per process), a new member every ${o.intervalMs} ms, ${o.changes} changes`;
  const f = (v) => ms(v);
  const lines = [
    title,
    table(
      ['watchers', 'procs', 'all reported p50', 'p99', 'max', 'per watcher p50', 'p99', 'writes/watcher/change mean', 'max', 'start s'],
      rows.map((r) => [
        r.watchers,
        r.processes,
        f(r.allReportedMs.p50),
        f(r.allReportedMs.p99),
        f(r.allReportedMs.max),
        f(r.perWatcherMs.p50),
        f(r.perWatcherMs.p99),
        r.writesPerWatcherPerChange.mean,
        r.writesPerWatcherPerChange.max,
        r.startS.toFixed(1),
      ]),
    ),
    '',
    'CPU (% of one core) and status writes, idle (no change: lease keepalives only) and during the changes:',
    table(
      ['watchers', 'idle etcd %', 'idle watchers %', 'idle status writes', 'changes etcd %', 'changes watchers %', 'keys left after stop'],
      rows.map((r) => [
        r.watchers,
        r.idle.etcdCpuPct.toFixed(1),
        r.idle.watchersCpuPct.toFixed(1),
        r.idle.statusWrites,
        r.during.etcdCpuPct.toFixed(1),
        r.during.watchersCpuPct.toFixed(1),
        r.statusKeysLeftAfterStop,
      ]),
    ),
    '',
    ...targets.map((t) => `${t.pass ? 'PASS' : 'MISS'}  ${t.target} (${t.value})`),
    ...rows.flatMap((r) => (r.problems.length ? ['', `${r.watchers} watchers: warnings/errors:`, ...r.problems.slice(0, 5).map((p) => '  ' + p.slice(0, 200))] : [])),
    '',
    `node ${process.version}, ${os.cpus().length} cpu(s), etcd ${etcdVersion()}; files in ${fileDir.replace(/\/cc-bench-fleet-.*/, '')}; suite took ${((clock() - t0) / 1000).toFixed(1)} s`,
  ];
  const result = {
    suite: 'fleet',
    date: startedAt.toISOString(),
    ...machine(),
    etcd: etcdVersion(),
    method: {
      watchers: 'core ClusterSync + its own StatusPublisher (own lease, ttl s, keepalive every ttl/3), reloadAction async no-op, minimal JSON handler',
      processes: `ceil(N / ${o.perProcess}) child processes, one etcd connection each`,
      change: `put of a new member every ${o.intervalMs} ms; ${WARMUP_CHANGES} unmeasured, ${o.changes} measured`,
      allReported: "from just before the put to the parent's watch of the status prefix seeing appliedRevision >= the put's revision for every watcher",
      writes: "etcd revisions between two changes' puts minus the put itself, per watcher (cross-check: status put events seen by the watch)",
      cpu: 'utime+stime from /proc/<pid>/stat over the window, % of one core',
      fileDir: fileDir.replace(/\/cc-bench-fleet-.*/, ''),
      ttl: o.ttl,
    },
    runs: rows,
    targets,
    durationS: r3((clock() - t0) / 1000),
  };
  return { name: 'fleet', title, lines, result, targets };
}

// ---------------------------------------------------------------------------------------------
// Direct run (or a child)

if (process.env[CHILD_ENV] === '1') {
  await child();
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values: opts } = parseArgs({
    options: {
      sizes: { type: 'string', default: defaults.sizes.join(',') },
      changes: { type: 'string', default: String(defaults.changes) },
      interval: { type: 'string', default: String(defaults.intervalMs) },
      idle: { type: 'string', default: String(defaults.idleSeconds) },
      'per-process': { type: 'string', default: String(defaults.perProcess) },
      ttl: { type: 'string', default: String(defaults.ttl) },
      'file-dir': { type: 'string' },
      out: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const usage = 'usage: node bench/suites/fleet.mjs [--sizes 1,100,1000] [--changes 20] [--interval 2000] [--idle 5] [--per-process 250] [--ttl 10] [--file-dir DIR] [--out FILE] [--quiet]\n';
  if (opts.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const sizes = opts.sizes.split(',').map(Number);
  const nums = { changes: Number(opts.changes), intervalMs: Number(opts.interval), idleSeconds: Number(opts.idle), perProcess: Number(opts['per-process']), ttl: Number(opts.ttl) };
  const positive = (n) => Number.isInteger(n) && n > 0;
  if (!sizes.every(positive) || !Object.values(nums).every(positive) || nums.ttl < 2) {
    process.stderr.write(usage);
    process.exit(2);
  }
  await runMain(async () => {
    const progress = opts.quiet ? undefined : (m) => process.stderr.write(`fleet: ${m}\n`);
    const out = await run({ progress, sizes, ...nums, fileDir: opts['file-dir'] });
    process.stdout.write(out.lines.join('\n') + '\n');
    // --out FILE: that file alone; else merged into bench/results/latest.json (suites.fleet).
    const file = opts.out ? (writeResult(opts.out, out), opts.out) : recordSuite(out).jsonPath;
    progress?.(`wrote ${file}`);
  }, 'fleet');
}
