#!/usr/bin/env node
// @ts-check
// Scale benchmark: how does cluster-control behave with very large clusters and many leases?
//
// A. One watcher over 1k / 10k / 100k members. For each size, a fresh etcd is filled with N
//    members under one prefix (puts from this process's own etcd3 client, txns of 128 puts,
//    etcd's default --max-txn-ops). Then a watcher starts in a separate child process
//    (scale-watcher.mjs: core's ClusterSync with the json handler, installing a real file with
//    temp file + fdatasync + rename + directory fsync), so that its RSS is its own. It reports when
//    the snapshot's file is installed (load time). Then K sequential changes, alternately adding
//    a new member and deleting it again; each is timed from just before the put/delete here to
//    the child's onOutcome 'installed' arriving here over IPC (so the figure includes etcd's
//    commit, delivery to the watcher, membership update, render, install and one IPC hop); the
//    child also times event→render, render and install itself. After each change the file is
//    read back here and must (not) contain the member (not part of the figure). Memory is the
//    child's VmRSS after load, VmHWM (peak) at the end, from /proc/<pid>/status, and for the
//    largest size the RSS once idle (V8 gives memory back 10-30 s after a burst of allocation);
//    the live JS heap is heapUsed after one forced full GC at the end (the child runs with
//    --expose-gc, which changes nothing else).
//
// B. 1k / 10k live leases kept alive by core's Registration in one process (scale-registrar.mjs)
//    on ONE connection, all started at once with run(): each grants its lease, puts its key,
//    keeps the lease alive every `heartbeat` s and watches its own key. After all are registered,
//    their key watches open and one heartbeat more has passed, a steady window of
//    `windowSeconds` is measured: keepalives/s (counted by wrapping the connection's keepAlive
//    in the child, from the mean gap between two keepalives of a lease; cross-checked with
//    etcd's /metrics etcd_debugging_lease_renewed_total and grpc_server_msg_received_total for
//    LeaseKeepAlive and Watch), CPU of the child and of etcd (utime+stime from
//    /proc/<pid>/stat, % of one core), RSS, and the child's live heap after a forced full GC at
//    the end. At the end every key must still be there and no keepalive may have failed or
//    found its lease gone.
//
//    For the largest size, once every memory figure is taken, the child writes a V8 heap snapshot
//    (after a full GC) and bench/lib/heap-retainers.mjs reads it: the dominator tree's largest
//    retainers and what the heap is made of go into the result (`heapRetainers`); the snapshot
//    itself is deleted unless --heap-snapshot-dir keeps it.
//
// C. An idle `cluster-control watch` (the real CLI, scale-idle-watch.mjs) over 1k members, next
//    to an empty Node process (`node -e "setInterval(() => {}, 1e9)"`) measured the same way
//    (median VmRSS over a few samples once both sat idle): the watch may use at most 15 MiB more.
//
//   node bench/suites/scale.mjs [--sizes 1000,10000,100000] [--leases 1000,10000] [--changes 30]
//                               [--window 30] [--ttl 30] [--heartbeat 10] [--settle 40] [--cpu-prof DIR]
//                               [--retainers 12] [--heap-snapshot-dir DIR] [--idle-watch 1000] [--idle-seconds 20]
//                               [--diag-no-etcd3-reset] [--out FILE] [--quiet]
// An empty list skips that part (--sizes '' runs part B only; --idle-watch 0 skips part C).

import { fork } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import etcd3 from 'etcd3';

import { etcdVersion, startEtcd } from '../lib/etcd.mjs';
import { analyzeHeapSnapshot } from '../lib/heap-retainers.mjs';
import { onCleanup, runMain, trackDir, trackProcess, withTimeout } from '../lib/resources.mjs';
import { writeResult } from '../lib/results.mjs';
import { mib, ms, r3, roundAll, summarize, table } from '../lib/stats.mjs';
import { cpuTimeMs, machine, rssBytes } from '../lib/system.mjs';
import { IDLE_WATCH_OVER_EMPTY_BYTES, measureIdleWatch } from './scale-idle-watch.mjs';

const { Etcd3 } = etcd3;
const HERE = dirname(fileURLToPath(import.meta.url));
const WATCHER = join(HERE, 'scale-watcher.mjs');
const REGISTRAR = join(HERE, 'scale-registrar.mjs');

/** etcd's default --max-txn-ops. */
const TXN_OPS = 128;
/** Fill transactions in flight at once. */
const FILL_CONCURRENCY = 4;
/** Unmeasured changes before the measured ones (JIT, first-write effects). */
const WARMUP_CHANGES = 2;
const CHANGE_TIMEOUT_MS = 30_000;
/** Every member's value: a small JSON object, so that its meta is parsed and kept, as in use. */
const MEMBER_VALUE = '{"weight":1}';
const MIB = 2 ** 20;

export const defaults = {
  sizes: [1000, 10_000, 100_000],
  leases: [1000, 10_000],
  changes: 30,
  windowSeconds: 30,
  ttl: 30,
  heartbeat: 10,
  settleSeconds: 40,
  retainers: 12,
  idleWatchSize: 1000,
  idleSeconds: 20,
  idleSamples: 5,
};

/** Checked at the largest size; reported, never asserted. */
export const targets = {
  changeMs: 50, // put → installed, p90
  watcherRssBytes: 150 * MIB, // the watcher's peak RSS (VmHWM)
  watcherSettledRssBytes: 100 * MIB, // the watcher's RSS once idle
  idleWatchOverEmptyBytes: IDLE_WATCH_OVER_EMPTY_BYTES, // an idle `watch` of 1k members, over an empty Node process
};

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Member i: an IPv4 address with a port; i < 2^24. */
const memberName = (i, port = 8080) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:${port}`;
/** Change k's member: never one of the filled ones (those are 10.0.x.x-10.1.x.x). */
const changeName = (k) => `10.200.${(k >> 8) & 255}.${k & 255}:9000`;

const sleep = (msecs) => new Promise((r) => setTimeout(r, msecs));
const seconds = (msecs) => (msecs / 1000).toFixed(1);
const pct = (v) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');

/** VmRSS and VmHWM (peak RSS) of a process, in bytes, from /proc. */
function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

/**
 * Waits (up to `maxSeconds`) for V8 to hand memory back once the process is idle (its memory
 * reducer runs some 10-30 s after the last burst of allocation): returns the lowest RSS seen,
 * early once RSS fell by a third and then held still for 3 s.
 */
async function settledRss(pid, maxSeconds) {
  const start = memoryOf(pid).rss;
  let lowest = start;
  let still = 0;
  for (let s = 0; s < maxSeconds; s++) {
    await sleep(1000);
    const rss = memoryOf(pid).rss;
    still = rss >= lowest ? still + 1 : 0;
    lowest = Math.min(lowest, rss);
    if (lowest < (start * 2) / 3 && still >= 3) break;
  }
  return lowest;
}

/** Sum of a Prometheus metric's samples whose labels contain every `labels` pair. */
function metricSum(text, name, labels = {}) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function etcdMetrics(endpoint) {
  const text = await (await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  return {
    leaseRenewed: metricSum(text, 'etcd_debugging_lease_renewed_total'),
    leaseKeepAliveMsgs: metricSum(text, 'grpc_server_msg_received_total', { grpc_method: 'LeaseKeepAlive' }),
    watchMsgsReceived: metricSum(text, 'grpc_server_msg_received_total', { grpc_method: 'Watch' }),
    watchMsgsSent: metricSum(text, 'grpc_server_msg_sent_total', { grpc_method: 'Watch' }),
  };
}

/**
 * A forked worker with a message queue: `next(type)` resolves with the next message of that
 * type; an { type: 'error' } message, or the child exiting, rejects every waiter.
 */
function forkWorker(file, { execArgv = [] } = {}) {
  const child = trackProcess(fork(file, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv }));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const queue = [];
  const waiters = [];
  /** @type {Error | undefined} */
  let failure;
  const failAll = (err) => {
    failure ??= err;
    for (const w of waiters.splice(0)) w.reject(failure);
  };
  child.on('message', (message) => {
    if (message.type === 'error') return failAll(new Error(`${file}: ${message.message}`));
    const index = waiters.findIndex((w) => w.type === message.type);
    if (index >= 0) waiters.splice(index, 1)[0].resolve(message);
    else queue.push(message);
  });
  child.on('exit', (code, signal) => failAll(new Error(`${file} exited (${signal ?? code})${stderr ? `: ${stderr.trim()}` : ''}`)));
  return {
    child,
    send: (message) => child.send(message),
    next(type, timeoutMs, what = type) {
      const index = queue.findIndex((m) => m.type === type);
      if (index >= 0) return Promise.resolve(queue.splice(index, 1)[0]);
      if (failure) return Promise.reject(failure);
      return withTimeout(new Promise((resolve, reject) => waiters.push({ type, resolve, reject })), timeoutMs, what);
    },
    /** Asks the child to stop and waits for it to exit (killed after `timeoutMs`). */
    async stop(timeoutMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.connected) child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A fresh etcd and an etcd3 client for it; both released by `release()` (and at cleanup). */
async function freshEtcd(progress) {
  const etcd = await startEtcd({ extraArgs: ['--quota-backend-bytes', String(4 * 2 ** 30)], progress });
  const client = new Etcd3({ hosts: etcd.endpoint });
  onCleanup(() => client.close());
  const release = async () => {
    client.close();
    await etcd.stop();
    await rm(etcd.dataDir, { recursive: true, force: true });
  };
  return { etcd, client, release };
}

// ---------------------------------------------------------------------------------------------
// Part A: one watcher over N members

/** Puts N members under `prefix`, in transactions of TXN_OPS puts, FILL_CONCURRENCY at a time. */
async function fillPrefix(client, prefix, count) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const from = next;
      next = Math.min(count, next + TXN_OPS);
      const success = [];
      for (let i = from; i < next; i++) {
        success.push({ request_put: { key: Buffer.from(prefix + memberName(i)), value: Buffer.from(MEMBER_VALUE) } });
      }
      await client.kv.txn({ compare: [], success, failure: [] });
    }
  };
  await Promise.all(Array.from({ length: FILL_CONCURRENCY }, worker));
}

/** One change: add (even k) or delete (odd k) a member, until the watcher reports it installed. */
async function measureChange({ client, worker, prefix, file, size }, k) {
  const name = changeName(Math.floor(k / 2));
  const present = k % 2 === 0;
  const t0 = performance.now();
  const op = present
    ? client
        .put(prefix + name)
        .value(MEMBER_VALUE)
        .exec()
    : client
        .delete()
        .key(prefix + name)
        .exec();
  op.catch(() => {}); // awaited below
  const outcome = await worker.next('outcome', CHANGE_TIMEOUT_MS, `change ${k}: ${present ? 'add' : 'delete'} ${name}`);
  const total = performance.now() - t0;
  await op;
  // Checked after the timestamp: reading the file back is not part of the figure.
  if (outcome.outcome !== 'installed') throw new Error(`change ${k}: outcome ${outcome.outcome}, expected installed`);
  const expectedMembers = size + (present ? 1 : 0);
  if (outcome.members !== expectedMembers) throw new Error(`change ${k}: ${outcome.members} members rendered, expected ${expectedMembers}`);
  const names = JSON.parse(await readFile(file, 'utf8'));
  if (names.length !== expectedMembers || names.includes(name) !== present) {
    throw new Error(`change ${k}: ${file} has ${names.length} names and ${names.includes(name) ? 'contains' : 'lacks'} ${name}`);
  }
  const { eventToRender, render, install, eventToInstalled } = outcome.stages;
  return { total, eventToRender, render, install, eventToInstalled, beforeEvent: total - eventToInstalled, events: outcome.events };
}

/** Part A for one size: fill, start the watcher child, load, K changes, memory. */
async function measureWatcher(size, { changes, cpuProf, settleSeconds, retainers = 0, heapSnapshotDir, progress }) {
  const { etcd, client, release } = await freshEtcd(progress);
  const prefix = '/bench/scale/members/';
  const fileDir = trackDir(await mkdtemp(join(os.tmpdir(), 'cc-bench-scale-')));
  const file = join(fileDir, 'members.json');
  let worker;
  try {
    progress(`A ${size}: filling ${prefix} with ${size} members (txns of ${TXN_OPS})`);
    const f0 = performance.now();
    await fillPrefix(client, prefix, size);
    const fillMs = performance.now() - f0;

    progress(`A ${size}: starting the watcher child${cpuProf ? ` (--cpu-prof into ${cpuProf})` : ''}`);
    // --expose-gc only makes gc() callable (used once, after the measurements): GC is unchanged.
    const execArgv = ['--expose-gc', ...(cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf, '--cpu-prof-name', `scale-watcher-${size}.cpuprofile`] : [])];
    worker = forkWorker(WATCHER, { execArgv });
    worker.send({ type: 'start', endpoint: etcd.endpoint, prefix, file });
    const connected = await worker.next('connected', 30_000);
    const ready = await worker.next('ready', 300_000, `watcher load of ${size} members`);
    const afterLoad = memoryOf(worker.child.pid);
    const fileBytes = (await stat(file)).size;
    if (ready.load.members !== size) throw new Error(`loaded ${ready.load.members} members, expected ${size}`);
    progress(`A ${size}: loaded in ${ms(ready.load.totalMs)} ms, RSS ${mib(afterLoad.rss)} MiB; ${WARMUP_CHANGES} + ${changes} changes`);

    const context = { client, worker, prefix, file, size };
    for (let k = 0; k < WARMUP_CHANGES; k++) await measureChange(context, k);
    const samples = [];
    let maxRssSampled = afterLoad.rss;
    for (let k = WARMUP_CHANGES; k < WARMUP_CHANGES + changes; k++) {
      samples.push(await measureChange(context, k));
      maxRssSampled = Math.max(maxRssSampled, memoryOf(worker.child.pid).rss);
    }
    const end = memoryOf(worker.child.pid);
    let rssSettled = NaN;
    if (settleSeconds > 0) {
      progress(`A ${size}: idle for up to ${settleSeconds} s, for V8 to give memory back`);
      rssSettled = await settledRss(worker.child.pid, settleSeconds);
    }
    // What it really keeps alive: the JS heap after a full GC.
    worker.send({ type: 'memory', collect: true });
    const collected = (await worker.next('memory', 30_000)).memory;
    // Last: writing a snapshot costs the child several times its heap.
    let heapRetainers;
    if (retainers > 0) {
      const dir = heapSnapshotDir ?? fileDir;
      progress(`A ${size}: heap snapshot (after a full GC) into ${dir}`);
      worker.send({ type: 'heapSnapshot', file: join(dir, `scale-watcher-${size}.heapsnapshot`), collect: true });
      const { file: snapshot } = await worker.next('heapSnapshot', 120_000);
      const analysis = analyzeHeapSnapshot(snapshot, { top: retainers });
      heapRetainers = { snapshot: heapSnapshotDir ? snapshot : null, totalBytes: analysis.totalBytes, objects: analysis.reachable, retainers: analysis.retainers, classes: analysis.classes };
      if (!heapSnapshotDir) await rm(snapshot, { force: true });
    }
    await worker.stop();

    const stage = (key) => roundAll(summarize(samples.map((s) => s[key])));
    return {
      size,
      settleSeconds,
      fillMs: r3(fillMs),
      handler: connected.handler,
      load: roundAll(ready.load),
      fileBytes,
      memory: {
        rssBeforeLoad: connected.memory.rss,
        rssAfterLoad: afterLoad.rss,
        rssEnd: end.rss,
        rssMaxSampled: maxRssSampled,
        hwm: end.hwm,
        rssSettled,
        rssAfterGc: collected.rss,
        heapUsedAfterGc: collected.heapUsed,
        heapTotalAfterGc: collected.heapTotal,
        externalAfterGc: collected.external,
      },
      ...(heapRetainers ? { heapRetainers } : {}),
      change: {
        total: stage('total'),
        beforeEvent: stage('beforeEvent'),
        eventToRender: stage('eventToRender'),
        render: stage('render'),
        install: stage('install'),
        eventToInstalled: stage('eventToInstalled'),
      },
      raw: { total: samples.map((s) => r3(s.total)), render: samples.map((s) => r3(s.render)), install: samples.map((s) => r3(s.install)) },
    };
  } finally {
    await worker?.stop();
    await release();
    await rm(fileDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Part B: N registrations in one process

async function measureRegistrations(count, { ttl, heartbeat, windowSeconds: asked, cpuProf, diagNoEtcd3Reset, progress }) {
  // Every lease must send at least two keepalives in the window for their gap to be measured.
  const windowSeconds = Math.max(asked, 2 * heartbeat);
  if (windowSeconds !== asked) progress(`B ${count}: window ${asked} s is shorter than two heartbeats; using ${windowSeconds} s`);
  const { etcd, client, release } = await freshEtcd(progress);
  const prefix = '/bench/scale/leases/';
  let worker;
  try {
    progress(`B ${count}: registering ${count} keys on their own leases (ttl ${ttl} s, heartbeat ${heartbeat} s), one connection`);
    const execArgv = ['--expose-gc', ...(cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf, '--cpu-prof-name', `scale-registrar-${count}.cpuprofile`] : [])];
    worker = forkWorker(REGISTRAR, { execArgv });
    const etcdCpu0 = cpuTimeMs(etcd.pid);
    worker.send({ type: 'start', endpoint: etcd.endpoint, prefix, count, ttl, heartbeat, diagNoEtcd3Reset });
    const registered = await worker.next('registered', 600_000, `registering ${count} leases`);
    const etcdCpuRegister = cpuTimeMs(etcd.pid) - etcdCpu0;
    progress(`B ${count}: registered in ${seconds(registered.registerMs)} s, watches open after ${seconds(registered.watchesMs)} s more; settling ${heartbeat + 2} s`);
    await sleep((heartbeat + 2) * 1000);

    const snapshot = async (resetGaps = false) => {
      worker.send({ type: 'counters', resetGaps });
      const { counters, problems, problemKinds, memory } = await worker.next('counters', 30_000);
      return { at: performance.now(), counters, problems, problemKinds, memory, childCpu: cpuTimeMs(worker.child.pid), etcdCpu: cpuTimeMs(etcd.pid), metrics: await etcdMetrics(etcd.endpoint) };
    };
    progress(`B ${count}: measuring a ${windowSeconds} s window`);
    const begin = await snapshot(true);
    let childRssMax = 0;
    let etcdRssMax = 0;
    const windowEnd = Date.now() + windowSeconds * 1000;
    while (Date.now() < windowEnd) {
      await sleep(Math.min(1000, windowEnd - Date.now()));
      childRssMax = Math.max(childRssMax, rssBytes(worker.child.pid) ?? 0);
      etcdRssMax = Math.max(etcdRssMax, rssBytes(etcd.pid) ?? 0);
    }
    const finish = await snapshot();
    const childMemory = { ...memoryOf(worker.child.pid), heapUsed: finish.memory.heapUsed, heapTotal: finish.memory.heapTotal };
    const keysPresent = Number(await client.getAll().prefix(prefix).count());
    worker.send({ type: 'memory', collect: true });
    const collected = (await worker.next('memory', 60_000)).memory;
    await worker.stop();

    const secs = (finish.at - begin.at) / 1000;
    const rate = (f) => (f(finish) - f(begin)) / secs;
    const c = finish.counters;
    const meanGapMs = c.gapSumMs / c.gapCount;
    return {
      leases: count,
      ttl,
      heartbeat,
      registerMs: r3(registered.registerMs),
      watchesMs: r3(registered.watchesMs),
      etcdCpuMsDuringRegistration: r3(etcdCpuRegister),
      windowSeconds: r3(secs),
      keepAlivesPerSecond: r3(rate((s) => s.counters.keepAliveSent)),
      // From the mean gap between two keepalives of one lease: not skewed by bursts at the window's edges.
      keepAlivesPerSecondFromGaps: r3(count / (meanGapMs / 1000)),
      expectedPerSecond: r3(count / heartbeat),
      keepAliveGapMs: { mean: r3(meanGapMs), max: r3(c.gapMaxMs), samples: c.gapCount },
      etcd: {
        leaseRenewedPerSecond: r3(rate((s) => s.metrics.leaseRenewed)),
        leaseKeepAliveMsgsPerSecond: r3(rate((s) => s.metrics.leaseKeepAliveMsgs)),
        watchMsgsReceivedPerSecond: r3(rate((s) => s.metrics.watchMsgsReceived)),
        watchMsgsSentPerSecond: r3(rate((s) => s.metrics.watchMsgsSent)),
        cpuPercent: r3(rate((s) => s.etcdCpu) / 10),
        rssMax: etcdRssMax,
      },
      child: {
        cpuPercent: r3(rate((s) => s.childCpu) / 10),
        rssMax: childRssMax,
        rssEnd: childMemory.rss,
        hwm: childMemory.hwm,
        heapUsed: childMemory.heapUsed,
        heapTotal: childMemory.heapTotal,
        liveHeap: collected.heapUsed,
        rssAfterGc: collected.rss,
        rssAfterRegistering: registered.memory.rss,
      },
      keysPresent,
      allAlive: keysPresent === count && c.keepAliveLost === 0 && c.keepAliveFailed === 0 && c.registeredLogs === count,
      counters: c,
      warningsWhileRegistering: begin.counters.warnings,
      warningsInWindow: c.warnings - begin.counters.warnings,
      problems: finish.problems,
      problemKinds: finish.problemKinds,
    };
  } finally {
    await worker?.stop();
    await release();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function watcherTables(results) {
  const ok = results.filter((r) => !r.error);
  const failed = results.filter((r) => r.error);
  const memoryTable = table(
    ['members', 'fill s', 'load ms', 'range ms', 'file KiB', 'RSS empty MiB', 'RSS loaded MiB', 'max RSS MiB', 'RSS settled MiB', 'live heap MiB'],
    ok.map((r) => [
      String(r.size),
      seconds(r.fillMs),
      ms(r.load.totalMs),
      ms(r.load.rangeMs),
      (r.fileBytes / 1024).toFixed(0),
      mib(r.memory.rssBeforeLoad),
      mib(r.memory.rssAfterLoad),
      mib(r.memory.hwm),
      mib(r.memory.rssSettled),
      mib(r.memory.heapUsedAfterGc),
    ]),
  );
  const changeTable = table(
    ['members', 'put->installed p50', 'p90', 'max', 'render p50', 'p90', 'install p50', 'p90', 'event->render p50', 'etcd+ipc p50'],
    ok.map((r) => [
      String(r.size),
      ms(r.change.total.p50),
      ms(r.change.total.p90),
      ms(r.change.total.max),
      ms(r.change.render.p50),
      ms(r.change.render.p90),
      ms(r.change.install.p50),
      ms(r.change.install.p90),
      ms(r.change.eventToRender.p50),
      ms(r.change.beforeEvent.p50),
    ]),
  );
  return [
    'A. one watcher (ClusterSync + json handler + atomic install), separate process',
    `   RSS empty: connected, nothing read; loaded: snapshot's file installed; max: VmHWM at the end; settled: lowest RSS while idle`,
    `   after the changes (largest size only, up to ${ok.find((r) => Number.isFinite(r.memory.rssSettled))?.settleSeconds ?? '?'} s); live heap: heapUsed after a forced full GC at the end`,
    memoryTable,
    '',
    `per change, ms (${ok[0]?.change.total.n ?? 0} sequential changes per size, alternately add and delete one member)`,
    changeTable,
    ...failed.map((r) => `FAILED at ${r.size} members: ${r.error}`),
    ...retainerLines(ok),
  ];
}

function retainerLines(results) {
  const withRetainers = results.filter((r) => r.heapRetainers);
  return withRetainers.flatMap((r) => [
    `   heap retainers at ${r.size} members (snapshot after a full GC at the end: ${mib(r.heapRetainers.totalBytes)} MiB live; dominator tree, 1 % of the heap and up)`,
    ...r.heapRetainers.retainers.map((x) => `     ${mib(x.retainedBytes).padStart(7)} MiB  ${'  '.repeat(x.depth)}${x.holder}`),
    `   made of (self size by kind): ${r.heapRetainers.classes
      .slice(0, 6)
      .map((c) => `${c.name} ${mib(c.selfBytes)} MiB`)
      .join(', ')}`,
  ]);
}

function idleWatchTable(idle) {
  if (!idle) return [];
  if (idle.error) return [`C. idle watch: FAILED: ${idle.error}`];
  return [
    `C. idle \`watch\` over ${idle.size} members (${idle.command}), next to an empty node; median VmRSS of ${idle.samples.watch.length} samples after ${idle.idleSeconds} s idle`,
    table(
      ['members', 'ready ms', 'watch RSS at ready MiB', 'watch RSS idle MiB', 'empty node RSS MiB', 'watch - empty MiB'],
      [[String(idle.size), ms(idle.readyMs), mib(idle.rssAtReady.watch), mib(idle.watchRss), mib(idle.emptyRss), mib(idle.overEmpty)]],
    ),
  ];
}

function leaseTable(results) {
  const ok = results.filter((r) => !r.error);
  return [
    `B. live leases kept alive by Registration, one process, one connection (ttl ${ok[0]?.ttl ?? '?'} s, heartbeat ${ok[0]?.heartbeat ?? '?'} s)`,
    `   keepalive/s = leases / mean gap between two keepalives of one lease; "in window/s" = keepalives counted in the window / its length (bursty: all leases started together)`,
    `   child RSS: max VmRSS in the window; live heap: heapUsed after a forced full GC at the end (the rest of the RSS is garbage V8 has not collected yet)`,
    table(
      [
        'leases',
        'register s',
        'watches s',
        'keepalive/s',
        'expected/s',
        'max gap s',
        'in window/s',
        'etcd renew/s',
        'etcd watch msg in/s',
        'child CPU %',
        'child RSS MiB',
        'live heap MiB',
        'etcd CPU %',
        'etcd RSS MiB',
        'keys',
        'all alive',
        'warnings',
      ],
      ok.map((r) => [
        String(r.leases),
        seconds(r.registerMs),
        seconds(r.watchesMs),
        r.keepAlivesPerSecondFromGaps.toFixed(1),
        r.expectedPerSecond.toFixed(1),
        seconds(r.keepAliveGapMs.max),
        r.keepAlivesPerSecond.toFixed(1),
        r.etcd.leaseRenewedPerSecond.toFixed(1),
        r.etcd.watchMsgsReceivedPerSecond.toFixed(1),
        pct(r.child.cpuPercent),
        mib(r.child.rssMax),
        mib(r.child.liveHeap),
        pct(r.etcd.cpuPercent),
        mib(r.etcd.rssMax),
        `${r.keysPresent}/${r.leases}`,
        r.allAlive ? 'yes' : 'NO',
        `${r.warningsWhileRegistering}+${r.warningsInWindow}`,
      ]),
    ),
    ...results.filter((r) => r.error).map((r) => `FAILED at ${r.leases} leases: ${r.error}`),
    `   warnings: logged by Registration while registering + during the window; etcd's "too many requests" while 10k register at once is retried`,
    ...ok.flatMap((r) => r.problemKinds.slice(0, 4).map((p) => `   ${r.leases} leases: ${p.n} x ${p.kind.slice(0, 150)}`)),
  ];
}

function evaluateTargets(watchers, registrations, idleWatch) {
  const list = [];
  const largest = watchers.filter((r) => !r.error).sort((a, b) => b.size - a.size)[0];
  const failedLargest = watchers.find((r) => r.error && (!largest || r.size > largest.size));
  if (failedLargest) {
    list.push({ target: `${failedLargest.size} members: watcher works at all`, value: failedLargest.error.slice(0, 200), pass: false });
  }
  if (largest) {
    const c = largest.change.total;
    list.push({ target: `${largest.size} members: put -> installed p90 <= ${targets.changeMs} ms`, value: `p50 ${ms(c.p50)}, p90 ${ms(c.p90)}, max ${ms(c.max)} ms`, pass: c.p90 <= targets.changeMs });
    list.push({
      target: `${largest.size} members: watcher peak RSS (VmHWM) <= ${targets.watcherRssBytes / MIB} MiB`,
      value: `${mib(largest.memory.hwm)} MiB (right after load ${mib(largest.memory.rssAfterLoad)} MiB)`,
      pass: largest.memory.hwm <= targets.watcherRssBytes,
    });
    if (Number.isFinite(largest.memory.rssSettled)) {
      list.push({
        target: `${largest.size} members: watcher settled RSS <= ${targets.watcherSettledRssBytes / MIB} MiB`,
        value: `${mib(largest.memory.rssSettled)} MiB (idle, after V8 gave memory back; live heap ${mib(largest.memory.heapUsedAfterGc)} MiB)`,
        pass: largest.memory.rssSettled <= targets.watcherSettledRssBytes,
      });
    }
  }
  if (idleWatch) {
    list.push({
      target: `idle \`watch\` of ${idleWatch.size ?? '?'} members: RSS <= empty node + ${targets.idleWatchOverEmptyBytes / MIB} MiB`,
      value: idleWatch.error ? idleWatch.error.slice(0, 200) : `${mib(idleWatch.watchRss)} MiB, empty node ${mib(idleWatch.emptyRss)} MiB: +${mib(idleWatch.overEmpty)} MiB`,
      pass: !idleWatch.error && idleWatch.overEmpty <= targets.idleWatchOverEmptyBytes,
    });
  }
  for (const r of registrations) {
    if (r.error) {
      list.push({ target: `${r.leases} leases: registered and kept alive`, value: r.error.slice(0, 200), pass: false });
      continue;
    }
    list.push({
      target: `${r.leases} leases: none expired, keepalives ~ leases/heartbeat, no warnings in the steady window`,
      value: `${r.keysPresent}/${r.leases} keys, ${r.keepAlivesPerSecondFromGaps.toFixed(1)}/s (expected ${r.expectedPerSecond.toFixed(1)}), max gap ${seconds(r.keepAliveGapMs.max)} s of ttl ${r.ttl} s, lost ${r.counters.keepAliveLost}, failed ${r.counters.keepAliveFailed}, ${r.warningsInWindow} warnings in window`,
      pass: r.allAlive && r.warningsInWindow === 0 && Math.abs(r.keepAlivesPerSecondFromGaps - r.expectedPerSecond) <= 0.1 * r.expectedPerSecond && r.keepAliveGapMs.max < r.ttl * 1000,
    });
  }
  return list;
}

// ---------------------------------------------------------------------------------------------
// The suite

/**
 * Runs the three parts. options: { progress, sizes, leases, changes, windowSeconds, ttl, heartbeat, retainers,
 * heapSnapshotDir, idleWatchSize, idleSeconds,
 * settleSeconds, cpuProf (a directory: --cpu-prof for the child processes), diagNoEtcd3Reset
 * (DIAGNOSTIC: part B without etcd3's channel reset on errors) }.
 */
export async function run(options = {}) {
  const progress = options.progress ?? (() => {});
  const sizes = options.sizes ?? defaults.sizes;
  const leases = options.leases ?? defaults.leases;
  const changes = options.changes ?? defaults.changes;
  const windowSeconds = options.windowSeconds ?? defaults.windowSeconds;
  const ttl = options.ttl ?? defaults.ttl;
  const heartbeat = options.heartbeat ?? defaults.heartbeat;
  const settleSeconds = options.settleSeconds ?? defaults.settleSeconds;
  const retainers = options.retainers ?? defaults.retainers;
  const idleWatchSize = options.idleWatchSize ?? defaults.idleWatchSize;
  const idleSeconds = options.idleSeconds ?? defaults.idleSeconds;
  const started = performance.now();
  const startedAt = new Date();

  const watchers = [];
  const largestSize = Math.max(...sizes);
  for (const size of sizes) {
    try {
      const settle = size === largestSize ? settleSeconds : 0;
      const largest = size === largestSize;
      watchers.push(await measureWatcher(size, { changes, cpuProf: options.cpuProf, settleSeconds: settle, retainers: largest ? retainers : 0, heapSnapshotDir: options.heapSnapshotDir, progress }));
    } catch (err) {
      progress(`A ${size}: failed: ${err?.message ?? err}`);
      watchers.push({ size, error: String(err?.message ?? err) });
    }
  }
  let idleWatch = null;
  if (idleWatchSize > 0) {
    const { etcd, client, release } = await freshEtcd(progress);
    try {
      const prefix = '/bench/scale/idle/';
      progress(`C ${idleWatchSize}: filling ${prefix} with ${idleWatchSize} members`);
      await fillPrefix(client, prefix, idleWatchSize);
      idleWatch = await measureIdleWatch({ endpoint: etcd.endpoint, prefix, size: idleWatchSize, idleSeconds, samples: defaults.idleSamples, progress });
    } catch (err) {
      progress(`C ${idleWatchSize}: failed: ${err?.message ?? err}`);
      idleWatch = { size: idleWatchSize, error: String(err?.message ?? err) };
    } finally {
      await release();
    }
  }
  const registrations = [];
  for (const count of leases) {
    try {
      registrations.push(await measureRegistrations(count, { ttl, heartbeat, windowSeconds, cpuProf: options.cpuProf, diagNoEtcd3Reset: options.diagNoEtcd3Reset, progress }));
    } catch (err) {
      progress(`B ${count}: failed: ${err?.message ?? err}`);
      registrations.push({ leases: count, ttl, heartbeat, error: String(err?.message ?? err) });
    }
  }

  const targetList = evaluateTargets(watchers, registrations, idleWatch);
  const durationSeconds = (performance.now() - started) / 1000;
  const host = machine();
  const diagnostic = options.diagNoEtcd3Reset ? "DIAGNOSTIC: etcd3's channel reset on errors disabled in the registrar (not a real configuration)" : null;
  const lines = [
    ...(diagnostic ? [`** ${diagnostic} **`, ''] : []),
    ...(sizes.length > 0 ? [...watcherTables(watchers), ''] : []),
    ...(idleWatch ? [...idleWatchTable(idleWatch), ''] : []),
    ...(leases.length > 0 ? [...leaseTable(registrations), ''] : []),
    ...targetList.map((t) => `${t.pass ? 'PASS' : 'MISS'}  ${t.target} (${t.value})`),
    '',
    `node ${host.node}, ${host.cpus} cpu(s) ${host.cpuModel ?? ''}, etcd ${etcdVersion()}; suite took ${durationSeconds.toFixed(0)} s`,
  ];
  const result = {
    benchmark: 'scale',
    date: startedAt.toISOString(),
    diagnostic,
    machine: host,
    etcd: etcdVersion(),
    durationSeconds: r3(durationSeconds),
    unit: { time: 'ms', memory: 'bytes', cpu: '% of one core' },
    percentile: 'nearest rank',
    method: {
      watcher: `fresh etcd per size; N members ${memberName(0)}... with value ${MEMBER_VALUE} put in txns of ${TXN_OPS}; watcher in a child process (ClusterSync, json handler, atomic install with fsync); ${WARMUP_CHANGES} warm-up + ${changes} measured sequential changes alternately adding and deleting one member; put->installed measured in the parent up to the IPC message sent at onOutcome; render/install/event->render measured in the child; etcd+ipc = put->installed minus the child's event->installed; memory from /proc/<pid>/status (VmRSS after load, VmHWM at the end; for the largest size the lowest VmRSS while idle up to ${settleSeconds} s after the changes); live heap = heapUsed after one forced full GC at the end; the RSS target is checked against both VmHWM and the settled RSS`,
      leases: `fresh etcd per count; N Registrations (ttl ${ttl} s, heartbeat ${heartbeat} s) on one connectEtcd connection in a child process, all register() at once, then run(); settle heartbeat + 2 s, then a ${windowSeconds} s window; keepalives counted by wrapping connection.keepAlive; etcd counters from /metrics; CPU from /proc/<pid>/stat`,
      idleWatch: `the built CLI's \`watch <cluster> 0\` (default configuration: status on, json handler, a real file) over ${idleWatchSize} members in a fresh etcd, and \`node -e "setInterval(() => {}, 1e9)"\`, started together; once the watch wrote every member, ${idleSeconds} s idle, then VmRSS of both once a second for ${defaults.idleSamples} s from /proc/<pid>/status; the figures are the medians`,
      heapRetainers:
        'largest size only, after every memory figure: v8.writeHeapSnapshot after a full GC in the child; dominator tree over strong edges (bench/lib/heap-retainers.mjs); retainers: objects of at least 1 % of the heap that are not V8 internals, with the edge path holding them; classes: self size per constructor/kind',
      noise: 'two cores shared with etcd and with whatever else runs on the machine: expect run-to-run spread',
    },
    options: { sizes, leases, changes, windowSeconds, ttl, heartbeat, settleSeconds, retainers, idleWatchSize, idleSeconds },
    watchers,
    registrations,
    idleWatch,
  };
  return { name: 'scale', title: 'Scale: large clusters and many leases', lines, result, targets: targetList };
}

// ---------------------------------------------------------------------------------------------
// Direct run

function parseList(text, name) {
  if (text.trim() === '') return [];
  return text.split(',').map((v) => {
    const n = Number(v.trim());
    if (!Number.isInteger(n) || n < 1 || n >= 2 ** 24) throw new Error(`--${name}: ${v} is not a positive integer below 2^24`);
    return n;
  });
}

function positive(text, name) {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${text}`);
  return n;
}

async function main() {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: defaults.sizes.join(',') },
      leases: { type: 'string', default: defaults.leases.join(',') },
      changes: { type: 'string', default: String(defaults.changes) },
      window: { type: 'string', default: String(defaults.windowSeconds) },
      ttl: { type: 'string', default: String(defaults.ttl) },
      heartbeat: { type: 'string', default: String(defaults.heartbeat) },
      settle: { type: 'string', default: String(defaults.settleSeconds) },
      retainers: { type: 'string', default: String(defaults.retainers) },
      'heap-snapshot-dir': { type: 'string' },
      'idle-watch': { type: 'string', default: String(defaults.idleWatchSize) },
      'idle-seconds': { type: 'string', default: String(defaults.idleSeconds) },
      'cpu-prof': { type: 'string' },
      'diag-no-etcd3-reset': { type: 'boolean', default: false },
      out: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`usage: node bench/suites/scale.mjs [options]
  --sizes LIST      watcher sizes, comma-separated (default ${defaults.sizes.join(',')}; '' skips part A)
  --leases LIST     lease counts (default ${defaults.leases.join(',')}; '' skips part B)
  --changes N       measured changes per size (default ${defaults.changes})
  --window S        steady window for the lease measurement (default ${defaults.windowSeconds})
  --ttl S           lease TTL (default ${defaults.ttl})
  --heartbeat S     keepalive interval (default ${defaults.heartbeat})
  --settle S        after the changes, wait up to S s for the largest watcher's RSS to settle
                    (default ${defaults.settleSeconds}; 0 skips)
  --retainers N     heap snapshot of the largest watcher at the end: list its N largest
                    retainers (default ${defaults.retainers}; 0 skips the snapshot)
  --heap-snapshot-dir DIR  keep that snapshot in DIR (default: deleted once read)
  --idle-watch N    part C: an idle \`cluster-control watch\` over N members vs an empty node
                    (default ${defaults.idleWatchSize}; 0 skips part C)
  --idle-seconds S  part C: idle time before sampling (default ${defaults.idleSeconds})
  --cpu-prof DIR    write a CPU profile of each child (watcher, registrar) into DIR
  --diag-no-etcd3-reset  DIAGNOSTIC ONLY: in part B, stop etcd3 from closing the whole gRPC
                    channel when one call fails; writes bench/results/diagnostic-scale-no-reset.json
                    unless --out is given
  --out FILE        results JSON (default bench/results/scale.json)
  --quiet           no progress on stderr
`);
    return;
  }
  const options = {
    sizes: parseList(values.sizes, 'sizes'),
    leases: parseList(values.leases, 'leases'),
    changes: Math.round(positive(values.changes, 'changes')),
    windowSeconds: positive(values.window, 'window'),
    ttl: Math.round(positive(values.ttl, 'ttl')),
    heartbeat: positive(values.heartbeat, 'heartbeat'),
    settleSeconds: Number(values.settle) >= 0 ? Number(values.settle) : positive(values.settle, 'settle'),
    retainers: Number(values.retainers) >= 0 ? Math.round(Number(values.retainers)) : positive(values.retainers, 'retainers'),
    ...(values['heap-snapshot-dir'] ? { heapSnapshotDir: values['heap-snapshot-dir'] } : {}),
    idleWatchSize: Number(values['idle-watch']) >= 0 ? Math.round(Number(values['idle-watch'])) : positive(values['idle-watch'], 'idle-watch'),
    idleSeconds: positive(values['idle-seconds'], 'idle-seconds'),
    ...(values['cpu-prof'] ? { cpuProf: values['cpu-prof'] } : {}),
    diagNoEtcd3Reset: values['diag-no-etcd3-reset'],
    progress: values.quiet ? () => {} : (message) => process.stderr.write(`scale: ${message}\n`),
  };
  if (options.cpuProf) mkdirSync(options.cpuProf, { recursive: true });
  if (options.heapSnapshotDir) mkdirSync(options.heapSnapshotDir, { recursive: true });
  const report = await run(options);
  process.stdout.write(`\n${report.title}\n\n${report.lines.join('\n')}\n`);
  // The whole report ({ name, title, lines, result, targets }): bench/run.mjs reads it back.
  const out = values.out ?? join(HERE, '..', 'results', options.diagNoEtcd3Reset ? 'diagnostic-scale-no-reset.json' : 'scale.json');
  writeResult(out, report);
  options.progress(`wrote ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runMain(main, 'scale');
}
