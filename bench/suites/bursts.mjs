#!/usr/bin/env node
// @ts-check
// Bursts: N members (1k, 10k) registered at once, with `wait: {min: 50, max: 1000}` and without.
//
// What is measured, per run:
//   - put phase: from the first put sent to the last put acknowledged (the putter's view);
//   - last put -> complete and start -> complete: from the last put's acknowledgement (and from the
//     start of the burst) to core's onOutcome('installed') for a render holding all N members. The
//     file is then read back and must list exactly the N members (the read is not timed). Negative
//     "last put -> complete": the file was complete before the putter got its last acknowledgement;
//   - writes (outcomes 'installed'), renders (outcomes of any kind) and reloads (lines appended by a
//     real reload command, `sh -c 'echo x >> FILE'`; failed runs, e.g. spawn E2BIG, from core's log),
//     counted from the burst's first put until the watcher has been quiet (no outcome, no reload)
//     for max(1.5 s, wait.max + 500 ms), and then stopped (stop() waits for a reload in progress);
//   - the tail of the completing render: last put -> last watch event (etcd), -> render start
//     (membership, debounce, a previous install still running), render, install; and why each
//     debounced render fired (`min` ms without events, or `max`).
// How: one etcd for the suite; per run a fresh prefix /bench/bursts/<run>/, a fresh output file and a
// fresh ClusterSync (minimal JSON handler, as the latency suite), started and idle before the burst. The
// puts come from a worker thread with its own etcd3 client and event loop, as registering services
// are other processes: plain puts (no leases), value '{}', 256 in flight (mode 'puts', default), or
// txns of 128 puts, 4 in flight (mode 'txn'; etcd's default --max-txn-ops is 128). More than ~128
// puts in flight make etcd deliver the watch in batches with pauses (its per-watcher buffer is 128
// responses): try --in-flight 64 to compare. Timestamps on both threads use process.hrtime (one
// monotonic clock). Between runs the previous prefix is deleted.
//
//   node bench/suites/bursts.mjs [--sizes 1000,10000] [--repeat N] [--mode puts|txn] [--in-flight N] [--out FILE] [--quiet]

import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import { ClusterSync } from '@cluster-control/core';
import { connectEtcd } from '@cluster-control/core/etcd';
import etcd3 from 'etcd3';

import { etcdVersion, startEtcd } from '../lib/etcd.mjs';
import { deferred, onCleanup, runMain, trackDir, withTimeout } from '../lib/resources.mjs';
import { recordSuite, writeResult } from '../lib/results.mjs';
import { ms, r3, table } from '../lib/stats.mjs';
import { cpuTimeMs, fileSystemOf, machine } from '../lib/system.mjs';

const WAIT = { min: 50, max: 1000 };
const PUTS_IN_FLIGHT = 256;
const TXN_OPS = 128;
const TXNS_IN_FLIGHT = 4;
const RUN_TIMEOUT_MS = 120_000;
const TARGET_COMPLETE_MS = 100;
// With `wait`, writes and reload runs: at most one per `max` ms of the put phase (a write forced by
// `max` while etcd is still committing), plus 2: the one after the burst and one for a pause in
// etcd's commits longer than `min` (see the README: a fixed 3 meant nothing once a put phase took
// longer than 2 s). The bound is computed per run from that run's own put phase.
const TARGET_EXTRA_WRITES = 2;

/** Milliseconds on the monotonic clock, the same in every thread of the process. */
const clock = () => Number(process.hrtime.bigint()) / 1e6;
const deepRound = (v) =>
  typeof v === 'number' ? r3(v) : Array.isArray(v) ? v.map(deepRound) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepRound(x)])) : v;
const memberName = (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80`;
const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ---------------------------------------------------------------------------------------------
// The putter: a worker thread, so the burst does not share an event loop with the watcher.

if (!isMainThread && workerData?.role === 'bursts-putter') {
  const { endpoint, prefix, size, mode, inFlight } = workerData;
  const client = new etcd3.Etcd3({ hosts: endpoint });
  await client.put('/bench/bursts-warm').value('x').exec(); // channel up before anything is timed
  parentPort.postMessage({ ready: true });
  await new Promise((resolve) => parentPort.once('message', resolve)); // 'go'
  const start = clock();
  let next = 0;
  let lastAck = 0;
  const acks = [];
  const key = (i) => Buffer.from(`${prefix}/${memberName(i)}`);
  // Each lane keeps one request in flight; lanes share `next`, so the window stays full.
  const lane =
    mode === 'txn'
      ? async () => {
          while (next < size) {
            const from = next;
            next = Math.min(size, next + TXN_OPS);
            const success = [];
            for (let i = from; i < next; i++) success.push({ request_put: { key: key(i), value: Buffer.from('{}') } });
            await client.kv.txn({ success });
            acks.push((lastAck = clock()));
          }
        }
      : async () => {
          while (next < size) {
            await client.put(key(next++)).value('{}').exec();
            acks.push((lastAck = clock()));
          }
        };
  await Promise.all(Array.from({ length: inFlight }, lane));
  parentPort.postMessage({ start, lastAck, acks });
  client.close();
}

/** Starts the putter; resolves `ready` once its client is connected; `go()` starts the burst. */
function startPutter(endpoint, prefix, size, mode, inFlight) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { role: 'bursts-putter', endpoint, prefix, size, mode, inFlight } });
  onCleanup(() => worker.terminate());
  const ready = deferred();
  const done = deferred();
  worker.on('message', (m) => {
    if (m.ready) ready.resolve();
    else {
      done.resolve(m);
      void worker.terminate();
    }
  });
  worker.on('error', (err) => (ready.reject(err), done.reject(err)));
  worker.on('exit', (code) => done.reject(new Error(`putter exited with ${code} before reporting`)));
  return { ready: ready.promise, done: done.promise, go: () => worker.postMessage('go') };
}

// ---------------------------------------------------------------------------------------------
// The watcher side, stamped from outside core (core is unchanged).

/** The smallest JSON handler (one array of member names), stamping each render into `run`. */
function jsonHandler(run) {
  return {
    name: 'json',
    parseOptions: () => ({}),
    render(members) {
      const start = clock();
      const text = JSON.stringify(members.map((m) => m.name)) + '\n';
      run.renders.push({ start, end: clock(), count: members.length });
      return text;
    },
  };
}

/** An EtcdConnection whose watch listener stamps each watch response core's connection hands over. */
function tapConnection(connection, run) {
  return new Proxy(connection, {
    get(target, prop) {
      if (prop === 'watch') {
        return (range, startRevision, listener) =>
          target.watch(range, startRevision, {
            onEvents(events, revision) {
              run.responses++;
              run.events += events.length;
              run.lastEventAt = clock();
              run.eventTimes.push(run.lastEventAt);
              listener.onEvents(events, revision);
            },
            onProgress: (revision) => listener.onProgress(revision),
            onBroken: (err) => listener.onBroken(err),
          });
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A logger that keeps warnings and errors, and stamps each successful reload (Reloader logs it). */
function recordingLogger(run) {
  return {
    debug() {},
    info(message) {
      if (message.startsWith('reload for cluster') && message.includes('succeeded')) run.reloadEnds.push(clock());
    },
    warn: (message) => run.problems.push(`warn: ${message}`),
    error: (message) => run.problems.push(`error: ${message}`),
  };
}

// ---------------------------------------------------------------------------------------------
// One run: fresh prefix, file, watcher; burst; wait for completion, then for quiet; count.

async function burstRun({ connection, endpoint, etcdPid, dir, id, size, wait, mode, inFlight, progress }) {
  const prefix = `/bench/bursts/${id}`;
  const file = join(dir, `${id}.json`);
  const counter = join(dir, `${id}.reloads`);
  const run = { renders: [], outcomes: [], reloadEnds: [], problems: [], responses: 0, events: 0, eventTimes: [], lastEventAt: NaN, completeAt: NaN };
  const complete = deferred();
  const sync = new ClusterSync(tapConnection(connection, run), {
    target: { name: id, path: prefix, file, handler: jsonHandler(run), handlerOptions: {}, checkTimeoutMs: 10_000, minMembers: 0 },
    reload: ['/bin/sh', '-c', 'echo x >> "$1"', 'reload', counter],
    wait,
    logger: recordingLogger(run),
    onOutcome(outcome, count) {
      const at = clock();
      run.outcomes.push({ at, outcome, count });
      if (outcome === 'installed' && count === size && Number.isNaN(run.completeAt)) {
        run.completeAt = at;
        complete.resolve();
      }
    },
  });
  let stopping;
  const stop = () => (stopping ??= sync.stop());
  onCleanup(stop);
  await sync.start();
  await sync.idle(); // the empty file is written and reloaded before the burst: not counted
  const baseline = { outcomes: run.outcomes.length, renders: run.renders.length, reloads: await lineCount(counter) };
  run.responses = run.events = 0;
  run.eventTimes = [];

  const putter = startPutter(endpoint, prefix, size, mode, inFlight);
  await withTimeout(putter.ready, 30_000, 'putter start');
  const etcdCpu0 = cpuTimeMs(etcdPid);
  const wallOffset = Date.now() - clock();
  putter.go();
  const { start, lastAck, acks } = await withTimeout(putter.done, RUN_TIMEOUT_MS, `${id}: putting ${size} keys`);
  await withTimeout(complete.promise, RUN_TIMEOUT_MS, `${id}: waiting for a file with ${size} members`);

  // Quiet: no outcome and no new reload line for this long, so every debounced render and reload is in.
  const quietMs = Math.max(1_500, (wait?.max ?? 0) + 500);
  let lines = await lineCount(counter);
  let lastActivity = Math.max(run.completeAt, run.outcomes.at(-1).at);
  while (clock() - lastActivity < quietMs) {
    await new Promise((r) => setTimeout(r, 50));
    const now = await lineCount(counter);
    if (now !== lines) {
      lines = now;
      lastActivity = clock();
    }
    lastActivity = Math.max(lastActivity, run.outcomes.at(-1).at);
  }
  await stop(); // waits for a render or reload still running
  const etcdCpuMs = cpuTimeMs(etcdPid) - etcdCpu0;

  // Verified after the timestamps: the file lists exactly the N members.
  const names = JSON.parse(await readFile(file, 'utf8'));
  const expected = new Set(Array.from({ length: size }, (_, i) => memberName(i)));
  if (names.length !== size || !names.every((n) => expected.has(n))) throw new Error(`${id}: ${file} does not list exactly the ${size} members`);

  const outcomes = run.outcomes.slice(baseline.outcomes);
  const renders = run.renders.slice(baseline.renders);
  const final = renders.find((r) => r.count === size);
  const previous = outcomes.filter((o) => o.at < final.start).at(-1);
  // Why each render with `wait` fired: `min` ms without events (quiet), or `max` reached first.
  const quietBefore = (r) => r.start - (run.eventTimes.filter((t) => t < r.start).at(-1) ?? -Infinity);
  const firedByQuiet = wait ? renders.filter((r) => quietBefore(r) >= wait.min - 1).length : NaN;
  progress(`${id}: complete ${ms(run.completeAt - lastAck)} ms after the last put; ${outcomes.filter((o) => o.outcome === 'installed').length} writes`);
  return {
    members: size,
    wait: wait ? `${wait.min}/${wait.max}` : 'none',
    putPhaseMs: lastAck - start,
    lastPutToCompleteMs: run.completeAt - lastAck,
    startToCompleteMs: run.completeAt - start,
    writes: outcomes.filter((o) => o.outcome === 'installed').length,
    reloads: (await lineCount(counter)) - baseline.reloads,
    renders: outcomes.length,
    // E.g. spawn E2BIG: core puts every member name into one environment variable.
    failedReloads: run.problems.filter((p) => p.startsWith('error: reload for cluster')).length,
    // Where the tail goes, for the render that completed the file.
    lastPutToLastEventMs: run.lastEventAt - lastAck,
    lastEventToRenderStartMs: final.start - run.lastEventAt,
    waitingForPreviousInstallMs: previous && previous.at > run.lastEventAt ? previous.at - run.lastEventAt : 0,
    finalRenderMs: final.end - final.start,
    finalInstallMs: run.completeAt - final.end,
    firedByQuiet,
    firedByMax: wait ? renders.length - firedByQuiet : NaN,
    watcherBusyMs: outcomes.reduce((t, o, k) => t + (o.at - (renders[k]?.start ?? o.at)), 0),
    watchResponses: run.responses,
    watchEvents: run.events,
    etcdCpuMs,
    // Relative to the burst's start, to see when writes and reloads happened.
    writesAtMs: outcomes.filter((o) => o.outcome === 'installed').map((o) => o.at - start),
    reloadEndsAtMs: run.reloadEnds.filter((t) => t > start).map((t) => t - start),
    problems: run.problems.slice(0, 10),
    // Pauses in the event stream: with wait, any pause > wait.min ends a debounce window (one more write).
    firstEventAtMs: run.eventTimes[0] - start,
    longestEventGapsMs: largestGaps([start, ...run.eventTimes]).map((g) => ({ atMs: g.at - start, gapMs: g.gap })),
    longestAckGapsMs: largestGaps([start, ...acks]).map((g) => ({ atMs: g.at - start, gapMs: g.gap })),
    wallClockStart: new Date(start + wallOffset).toISOString(),
  };
}

/** The 3 longest pauses between consecutive times, each with the time it ended. */
function largestGaps(times) {
  const gaps = times.slice(1).map((at, k) => ({ at, gap: at - times[k] }));
  return gaps.sort((a, b) => b.gap - a.gap).slice(0, 3);
}

async function lineCount(file) {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter(Boolean).length;
  } catch (err) {
    if (err.code === 'ENOENT') return 0;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// The suite

export async function run(options = {}) {
  const progress = options.progress ?? (() => {});
  const sizes = options.sizes ?? [1000, 10000];
  const repeat = options.repeat ?? 1;
  const mode = options.mode ?? 'puts';
  const inFlight = options.inFlight ?? (mode === 'txn' ? TXNS_IN_FLIGHT : PUTS_IN_FLIGHT);
  const startedAt = new Date();
  const t0 = clock();

  const etcd = await startEtcd({ extraArgs: ['--quota-backend-bytes', String(4 * 2 ** 30)], progress });
  const dir = trackDir(await mkdtemp(join(os.tmpdir(), 'cc-bench-bursts-')));
  const connection = await connectEtcd({ endpoints: [etcd.endpoint], logger: recordingLogger({ reloadEnds: [], problems: [] }) });
  onCleanup(() => connection.close());
  const cleaner = new etcd3.Etcd3({ hosts: etcd.endpoint });
  onCleanup(() => cleaner.close());

  const configs = sizes.flatMap((size) => [WAIT, undefined].map((wait) => ({ size, wait })));
  const samples = configs.map(() => []);
  let previousPrefix;
  for (let rep = 0; rep < repeat; rep++) {
    for (const [k, { size, wait }] of configs.entries()) {
      if (previousPrefix)
        await cleaner
          .delete()
          .prefix(previousPrefix + '/')
          .exec();
      const id = `r${rep}-${size}-${wait ? 'wait' : 'nowait'}`;
      progress(`${id}: ${size} members, wait ${wait ? `${wait.min}/${wait.max} ms` : 'none'}`);
      samples[k].push(await burstRun({ connection, endpoint: etcd.endpoint, etcdPid: etcd.pid, dir, id, size, wait, mode, inFlight, progress }));
      previousPrefix = `/bench/bursts/${id}`;
    }
  }

  // One row per configuration; with --repeat, the median of each figure.
  const numeric = [
    'putPhaseMs',
    'lastPutToCompleteMs',
    'startToCompleteMs',
    'writes',
    'reloads',
    'failedReloads',
    'renders',
    'lastPutToLastEventMs',
    'lastEventToRenderStartMs',
    'waitingForPreviousInstallMs',
    'finalRenderMs',
    'finalInstallMs',
    'firedByQuiet',
    'firedByMax',
    'watcherBusyMs',
    'watchResponses',
    'watchEvents',
    'etcdCpuMs',
  ];
  const rows = configs.map(({ size, wait }, k) => ({
    members: size,
    wait: wait ? `${wait.min}/${wait.max}` : 'none',
    ...Object.fromEntries(numeric.map((f) => [f, r3(median(samples[k].map((s) => s[f])))])),
  }));

  // The bound for writes and reload runs with `wait` (see TARGET_EXTRA_WRITES), from the row's put phase.
  const bound = (row) => Math.ceil(row.putPhaseMs / WAIT.max) + TARGET_EXTRA_WRITES;
  const boundText = (row) => `ceil(${Math.round(row.putPhaseMs)}/${WAIT.max})+${TARGET_EXTRA_WRITES} = ${bound(row)}`;
  const targets = [];
  for (const row of rows) {
    if (row.members === 10000)
      targets.push({
        target: `10k, wait ${row.wait}: last put -> complete <= ${TARGET_COMPLETE_MS} ms`,
        value: `${ms(row.lastPutToCompleteMs)} ms`,
        pass: row.lastPutToCompleteMs <= TARGET_COMPLETE_MS,
      });
    if (row.wait !== 'none') {
      targets.push({
        target: `${row.members}, wait ${row.wait}: writes <= ceil(put phase / ${WAIT.max}) + ${TARGET_EXTRA_WRITES}`,
        value: `writes ${row.writes} ${row.writes <= bound(row) ? '<=' : '>'} ${boundText(row)}`,
        pass: row.writes <= bound(row),
      });
      // Reload runs = successful + failed (a failed one is retried: it is still a run of the command).
      const runs = row.reloads + row.failedReloads;
      targets.push({
        target: `${row.members}, wait ${row.wait}: reload runs <= ceil(put phase / ${WAIT.max}) + ${TARGET_EXTRA_WRITES}`,
        value: `reload runs ${runs} (${row.reloads} ok + ${row.failedReloads} failed) ${runs <= bound(row) ? '<=' : '>'} ${boundText(row)}`,
        pass: runs <= bound(row),
      });
    }
  }

  const how = mode === 'txn' ? `txns of ${TXN_OPS} puts, ${inFlight} in flight` : `single puts, ${inFlight} in flight`;
  const title = `bursts: N members put at once (${how}, from a worker thread; plain puts, no leases)${repeat > 1 ? `, median of ${repeat}` : ''}`;
  const f = (v) => (typeof v !== 'number' || Number.isInteger(v) ? String(v) : ms(v));
  const problems = [...new Set(samples.flat().flatMap((s) => s.problems.map((p) => p.replace(/r\d+-\d+-(no)?wait/g, '<run>').replace(/\d+ ms/g, 'N ms'))))];
  const lines = [
    title,
    table(
      ['members', 'wait ms', 'put phase ms', 'last put -> complete ms', 'start -> complete ms', 'writes', 'reloads', 'failed reloads', 'renders'],
      rows.map((r) => [r.members, r.wait, r.putPhaseMs, r.lastPutToCompleteMs, r.startToCompleteMs, r.writes, r.reloads, r.failedReloads, r.renders].map(f)),
    ),
    '',
    'the tail, for the render that completed the file (ms):',
    table(
      ['members', 'wait ms', 'last put -> last event', 'last event -> render', '(of which previous install)', 'render', 'install', 'watcher busy', 'fired quiet/max', 'responses/events', 'etcd cpu'],
      rows.map((r) => [
        r.members,
        r.wait,
        ...[r.lastPutToLastEventMs, r.lastEventToRenderStartMs, r.waitingForPreviousInstallMs, r.finalRenderMs, r.finalInstallMs, r.watcherBusyMs].map(ms),
        r.wait === 'none' ? '-' : `${r.firedByQuiet}/${r.firedByMax}`,
        `${r.watchResponses}/${r.watchEvents}`,
        ms(r.etcdCpuMs),
      ]),
    ),
    '',
    ...targets.map((t) => `${t.pass ? 'PASS' : 'MISS'}  ${t.target} (${t.value})`),
    ...(problems.length ? ['', `watcher warnings/errors (${problems.length} distinct):`, ...problems.slice(0, 5).map((p) => '  ' + p.slice(0, 200))] : []),
    '',
    `node ${process.version}, ${os.cpus().length} cpu(s), etcd ${etcdVersion()}; output on ${fileSystemOf(dir)}; suite took ${((clock() - t0) / 1000).toFixed(1)} s`,
  ];

  const result = {
    suite: 'bursts',
    date: startedAt.toISOString(),
    ...machine(),
    etcd: etcdVersion(),
    outputFileSystem: fileSystemOf(dir),
    method: {
      puts: how,
      putter: 'worker thread with its own etcd3 client; timestamps from process.hrtime (shared monotonic clock)',
      keys: '/bench/bursts/<run>/10.<a>.<b>.<c>:80 = {}; plain puts, no leases; fresh prefix and file per run, previous prefix deleted',
      complete: "onOutcome('installed') with N members; file then read back and checked (not timed)",
      counting: 'writes = installed outcomes, renders = all outcomes, reloads = lines appended by sh -c "echo x >> FILE"; counted until quiet for max(1.5 s, wait.max + 500 ms), then sync.stop()',
      wait: WAIT,
      targets: `10k: last put -> complete <= ${TARGET_COMPLETE_MS} ms; with wait: writes and reload runs (ok + failed) <= ceil(putPhaseMs / wait.max) + ${TARGET_EXTRA_WRITES}, putPhaseMs of the same run (the median with --repeat)`,
      repeat,
      figure: repeat > 1 ? 'median over repeats' : 'single run',
    },
    runs: rows,
    raw: deepRound(samples),
    targets,
    durationS: r3((clock() - t0) / 1000),
  };
  return { name: 'bursts', title, lines, result, targets };
}

// ---------------------------------------------------------------------------------------------
// Direct run

if (isMainThread && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values: opts } = parseArgs({
    options: {
      sizes: { type: 'string', default: '1000,10000' },
      repeat: { type: 'string', default: '1' },
      mode: { type: 'string', default: 'puts' },
      'in-flight': { type: 'string' },
      out: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const sizes = opts.sizes.split(',').map(Number);
  const repeat = Number(opts.repeat);
  const inFlight = opts['in-flight'] === undefined ? undefined : Number(opts['in-flight']);
  const positive = (n) => Number.isInteger(n) && n > 0;
  if (!sizes.every((n) => positive(n) && n < 2 ** 24) || !positive(repeat) || !(inFlight === undefined || positive(inFlight)) || !['puts', 'txn'].includes(opts.mode)) {
    process.stderr.write('usage: node bench/suites/bursts.mjs [--sizes 1000,10000] [--repeat N] [--mode puts|txn] [--in-flight N] [--out FILE] [--quiet]\n');
    process.exit(2);
  }
  await runMain(async () => {
    const progress = opts.quiet ? undefined : (m) => process.stderr.write(`bursts: ${m}\n`);
    const out = await run({ progress, sizes, repeat, mode: opts.mode, inFlight });
    process.stdout.write(out.lines.join('\n') + '\n');
    // --out FILE: that file alone; else merged into bench/results/latest.json (suites.bursts).
    const file = opts.out ? (writeResult(opts.out, out), opts.out) : recordSuite(out).jsonPath;
    progress?.(`wrote ${file}`);
  }, 'bursts');
}
