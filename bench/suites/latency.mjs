#!/usr/bin/env node
// Change-latency benchmark: how long after a put does the watcher's output file contain the new
// member, compared with the floor (a bare etcd3 watch seeing an equivalent put)?
// Plain Node 20 ESM, no build step. See bench/README.md.
//
//   node bench/run.mjs [--samples 200] [--warmup 20] [--file-dir DIR] [--out FILE]
//                      [--skip-fsync] [--fs-ops] [--quiet]

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import fsp, { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { ClusterSync, connectEtcd, silentLogger } from '@cluster-control/core';
import etcd3 from 'etcd3';

const { Etcd3 } = etcd3;
const HERE = dirname(fileURLToPath(import.meta.url));
const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';
const SAMPLE_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Options

const { values: opts } = parseArgs({
  options: {
    samples: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    'file-dir': { type: 'string' },
    out: { type: 'string' },
    'skip-fsync': { type: 'boolean', default: false },
    'fs-ops': { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  process.stdout.write(`usage: node bench/run.mjs [options]
  --samples N      measured changes per side (default 200)
  --warmup N       unmeasured changes per side first (default 20)
  --file-dir DIR   where the watcher's output file lives (default: a new dir under ${os.tmpdir()})
  --out FILE       results JSON (default bench/results/latest.json)
  --skip-fsync     DIAGNOSTIC ONLY: make FileHandle.sync() a no-op, to show what fsync costs;
                   writes bench/results/diagnostic-skip-fsync.json unless --out is given
  --fs-ops         also time every fs call of the install (adds a little overhead; prints a table)
  --quiet          no progress on stderr
`);
  process.exit(0);
}
const SAMPLES = positiveInt(opts.samples, 'samples');
const WARMUP = nonNegativeInt(opts.warmup, 'warmup');
const SKIP_FSYNC = opts['skip-fsync'];
const FS_OPS = opts['fs-ops'];
const OUT = opts.out ?? join(HERE, 'results', SKIP_FSYNC ? 'diagnostic-skip-fsync.json' : 'latest.json');
if (SAMPLES > 65536 || WARMUP > 65536) fail('--samples and --warmup must be at most 65536 (one /16 of member names each)');

function positiveInt(text, name) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got ${text}`);
  return n;
}
function nonNegativeInt(text, name) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) fail(`--${name} must be a non-negative integer, got ${text}`);
  return n;
}
function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}
const progress = (message) => {
  if (!opts.quiet) process.stderr.write(`bench: ${message}\n`);
};

// ---------------------------------------------------------------------------------------------
// Cleanup: etcd process, its data dir, the output dir, clients. Runs once, on success, error,
// SIGINT/SIGTERM; a synchronous last resort runs on 'exit'.

const resources = { etcd: undefined, dirs: [], closers: [] };
let cleaning;

function cleanup() {
  cleaning ??= (async () => {
    for (const close of resources.closers.splice(0).reverse()) {
      try {
        await withTimeout(Promise.resolve().then(close), 3_000, 'close');
      } catch {
        // best effort
      }
    }
    await stopEtcd();
    for (const dir of resources.dirs.splice(0)) await rm(dir, { recursive: true, force: true }).catch(() => {});
  })();
  return cleaning;
}

async function stopEtcd() {
  const child = resources.etcd;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

process.on('exit', () => {
  const child = resources.etcd;
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of resources.dirs) rmSync(dir, { recursive: true, force: true });
});
let interrupted = false;
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`bench: ${signal}, cleaning up\n`);
    cleanup().finally(() => process.exit(code));
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// etcd

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startEtcd() {
  const dataDir = await mkdtemp(join(os.tmpdir(), 'cc-bench-etcd-'));
  resources.dirs.push(dataDir);
  // A free port can be taken between probing and etcd binding it: try a few times.
  for (let attempt = 1; ; attempt++) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    const endpoint = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    let output = '';
    const child = spawn(
      ETCD_BIN,
      [
        '--name', 'bench',
        '--data-dir', dataDir,
        '--listen-client-urls', endpoint,
        '--advertise-client-urls', endpoint,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `bench=${peer}`,
        '--logger', 'zap',
        '--log-level', 'error',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch } },
    );
    resources.etcd = child;
    child.stdout.on('data', (d) => (output = (output + d).slice(-4000)));
    child.stderr.on('data', (d) => (output = (output + d).slice(-4000)));
    const spawnError = new Promise((resolve) => child.once('error', resolve));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const err = await Promise.race([spawnError, new Promise((r) => setTimeout(r, 100, undefined))]);
      if (err) throw new Error(`could not start ${ETCD_BIN}: ${err.message} (install Debian's etcd-server, or set ETCD_BIN)`);
      if (child.exitCode !== null) break;
      try {
        const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
        if (res.ok && (await res.json()).health === 'true') return { endpoint, dataDir };
      } catch {
        // not up yet
      }
    }
    await stopEtcd();
    if (attempt >= 3 || !/address already in use/.test(output)) {
      throw new Error(`etcd did not become healthy (attempt ${attempt}): ${output.trim().slice(-2000)}`);
    }
    progress(`etcd port taken, retrying (${output.trim().split('\n').pop()})`);
    await rm(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Instrumentation: timestamps per stage of our pipeline, taken from outside core (core is
// unchanged): the etcd connection's watch listener, the handler, FileHandle.sync, onOutcome.

/** The ours-sample in flight, if any: stage timestamps are recorded into it. */
let active;

async function instrumentFsync() {
  // FileHandle is not exported; take its prototype from a handle. core's installFile calls
  // handle.sync() once for the temp file and once for the directory.
  const handle = await open(HERE, 'r');
  const proto = Object.getPrototypeOf(handle);
  await handle.close();
  const original = proto.sync;
  proto.sync = async function sync() {
    const start = performance.now();
    try {
      return SKIP_FSYNC ? undefined : await original.call(this);
    } finally {
      active?.syncs.push([start, performance.now()]);
    }
  };
}

/**
 * --fs-ops: time every fs call core's install makes, as [name, start, end] in the active sample.
 * Module functions are swapped on node:fs/promises and pushed into the ESM bindings core imported
 * (syncBuiltinESMExports); FileHandle methods are swapped on the prototype.
 */
async function instrumentFsOps() {
  const wrap = (owner, name, label = name) => {
    const original = owner[name];
    owner[name] = async function (...args) {
      const start = performance.now();
      try {
        return await original.apply(this, args);
      } finally {
        active?.ops.push([label, start, performance.now()]);
      }
    };
  };
  for (const name of ['realpath', 'rename', 'readdir', 'unlink']) wrap(fsp, name);
  wrap(fsp, 'open');
  // FileHandle#close is an own property of each handle (not on the prototype): wrap it per handle.
  const timedOpen = fsp.open;
  fsp.open = async function (...args) {
    const handle = await timedOpen.apply(this, args);
    wrap(handle, 'close', 'handle.close');
    return handle;
  };
  syncBuiltinESMExports();
  const handle = await open(HERE, 'r');
  const proto = Object.getPrototypeOf(handle);
  await handle.close();
  for (const name of ['stat', 'readFile', 'writeFile', 'chmod', 'chown', 'sync']) wrap(proto, name, `handle.${name}`);
}

/** An EtcdConnection whose watch listener stamps when core's connection layer hands over events. */
function tapConnection(connection) {
  return new Proxy(connection, {
    get(target, prop) {
      if (prop === 'watch') {
        return (range, startRevision, listener) =>
          target.watch(range, startRevision, {
            onEvents(events, revision) {
              if (active && active.event === undefined && events.some((e) => e.key === active.key)) active.event = performance.now();
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

/** The smallest JSON handler: one array of member names. Stamps render start/end. */
const jsonHandler = {
  name: 'json',
  parseOptions: () => ({}),
  render(members) {
    const start = performance.now();
    const text = JSON.stringify(members.map((m) => m.name)) + '\n';
    if (active) {
      active.renders++;
      active.renderStart = start;
      active.includes = members.some((m) => m.name === active.name);
      active.renderEnd = performance.now();
    }
    return text;
  },
};

// ---------------------------------------------------------------------------------------------
// Statistics

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return {
    n: sorted.length,
    min: sorted[0],
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
    mean,
  };
}
const r3 = (v) => Math.round(v * 1000) / 1000;
const roundAll = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' && k !== 'n' ? r3(v) : v]));
const ms = (v) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');

// ---------------------------------------------------------------------------------------------
// The benchmark

// Measured change i adds 10.9.<i/256>.<i%256>:80; warm-up change j adds 10.8.<j/256>.<j%256>:80.
const memberName = (i, net = 9) => `10.${net}.${Math.floor(i / 256)}.${i % 256}:80`;

async function main() {
  const startedAt = new Date();
  await instrumentFsync();
  if (FS_OPS) await instrumentFsOps();

  progress(`starting etcd (${ETCD_BIN})`);
  const { endpoint, dataDir } = await startEtcd();
  const etcdVersion = tryExec(ETCD_BIN, ['--version']).split('\n')[0]?.replace(/^etcd Version:\s*/, '') ?? 'unknown';

  const fileDir = opts['file-dir'] ? await mkdtemp(join(opts['file-dir'], 'cc-bench-out-')) : await mkdtemp(join(os.tmpdir(), 'cc-bench-out-'));
  resources.dirs.push(fileDir);
  const file = join(fileDir, 'members.json');

  // Three clients, as in production: the one doing the puts is not the one watching.
  const putter = new Etcd3({ hosts: endpoint });
  resources.closers.push(() => putter.close());
  const floorClient = new Etcd3({ hosts: endpoint });
  resources.closers.push(() => floorClient.close());
  const connection = await connectEtcd({ endpoints: [endpoint], logger: silentLogger });
  resources.closers.push(() => connection.close());

  // Ours: ClusterSync writing `file`.
  let outcomeWaiter;
  const sync = new ClusterSync(tapConnection(connection), {
    target: {
      name: 'bench',
      path: '/bench/latency',
      file,
      handler: jsonHandler,
      handlerOptions: {},
      checkTimeoutMs: 10_000,
      minMembers: 0,
    },
    logger: silentLogger,
    onOutcome: (outcome) => {
      const now = performance.now();
      const s = active;
      if (!s) return;
      if (outcome === 'installed' && s.includes) {
        s.installed = now;
        outcomeWaiter?.resolve();
      } else if (outcome !== 'installed' && outcome !== 'unchanged') {
        outcomeWaiter?.reject(new Error(`install outcome ${outcome} for ${s.name}`));
      }
    },
  });
  resources.closers.unshift(() => sync.stop()); // stopped before the connection closes
  await sync.start();
  await sync.idle();

  // Floor: a bare etcd3 watch on another prefix.
  let floorWaiter;
  const floorWatcher = await floorClient.watch().prefix('/bench/floor/').create();
  floorWatcher.on('error', (err) => floorWaiter?.reject(err));
  floorWatcher.on('put', (kv) => {
    const now = performance.now();
    if (floorWaiter && kv.key.toString() === floorWaiter.key) {
      floorWaiter.at = now;
      floorWaiter.resolve();
    }
  });
  resources.closers.unshift(() => floorWatcher.cancel());

  // One put to warm the putter's channel before anything is timed.
  await putter.put('/bench/warm').value('x').exec();

  async function sampleOurs(name) {
    const s = { name, key: `/bench/latency/${name}`, renders: 0, syncs: [], ops: [], includes: false };
    const done = deferred();
    outcomeWaiter = done;
    active = s;
    s.t0 = performance.now();
    const put = putter.put(s.key).value('{}').exec().then(() => (s.putAck = performance.now()));
    put.catch(() => {}); // awaited below; a failure before that must not crash the process
    try {
      await withTimeout(done.promise, SAMPLE_TIMEOUT_MS, `waiting for ${name} in ${file}`);
      await put;
    } finally {
      active = undefined;
      outcomeWaiter = undefined;
    }
    // Checked after the timestamp, so reading the file is not part of the figure.
    const names = JSON.parse(await readFile(file, 'utf8'));
    if (!names.includes(name)) throw new Error(`${file} was installed but does not contain ${name}`);
    return s;
  }

  async function sampleFloor(name) {
    const key = `/bench/floor/${name}`;
    const s = { key };
    const done = deferred();
    floorWaiter = Object.assign(done, { key });
    s.t0 = performance.now();
    const put = putter.put(key).value('{}').exec().then(() => (s.putAck = performance.now()));
    put.catch(() => {}); // awaited below; a failure before that must not crash the process
    try {
      await withTimeout(done.promise, SAMPLE_TIMEOUT_MS, `waiting for the floor watch to see ${key}`);
      await put;
    } finally {
      floorWaiter = undefined;
    }
    s.event = done.at;
    return s;
  }

  const ours = [];
  const floor = [];
  progress(`warm-up: ${WARMUP} + ${WARMUP} changes; measuring: ${SAMPLES} + ${SAMPLES} changes (ours, floor interleaved)`);
  for (let j = 0; j < WARMUP; j++) {
    await sampleOurs(memberName(j, 8));
    await sampleFloor(memberName(j, 8));
  }
  // A B A B ...: machine noise hits both sides alike.
  for (let i = 0; i < SAMPLES; i++) {
    ours.push(await sampleOurs(memberName(i)));
    floor.push(await sampleFloor(memberName(i)));
    if ((i + 1) % 50 === 0) progress(`${i + 1}/${SAMPLES}`);
  }

  const oursTotal = ours.map((s) => s.installed - s.t0);
  const floorTotal = floor.map((s) => s.event - s.t0);
  const latency = summarize(oursTotal);
  const floorStats = summarize(floorTotal);
  const ratioP50 = latency.p50 / floorStats.p50;
  const ratioP99 = latency.p99 / floorStats.p99;
  const diffP50 = latency.p50 - floorStats.p50;
  const targets = [
    { target: 'p50 <= floor p50 + 1 ms', value: `${ms(latency.p50)} vs ${ms(floorStats.p50 + 1)}`, pass: latency.p50 <= floorStats.p50 + 1 },
    { target: 'p99 <= 2 x floor p99', value: `${ms(latency.p99)} vs ${ms(2 * floorStats.p99)}`, pass: latency.p99 <= 2 * floorStats.p99 },
  ];

  // Per-stage breakdown of ours. core's installFile syncs twice: the temp file, then the directory.
  const stageDefs = [
    ['put -> watch event (core connection)', (s) => s.event - s.t0],
    ['event -> render start (membership)', (s) => s.renderStart - s.event],
    ['render (handler)', (s) => s.renderEnd - s.renderStart],
    ['render -> fsync temp (realpath, read, write tmp)', (s) => s.syncs[0][0] - s.renderEnd],
    ['fsync temp file', (s) => s.syncs[0][1] - s.syncs[0][0]],
    ['close + rename + open dir', (s) => s.syncs[1][0] - s.syncs[0][1]],
    ['fsync directory', (s) => s.syncs[1][1] - s.syncs[1][0]],
    ['dir fsync -> onOutcome installed', (s) => s.installed - s.syncs[1][1]],
  ];
  const complete = ours.filter((s) => s.event !== undefined && s.renderStart >= s.event && s.syncs.length === 2 && s.renders === 1);
  const stages = stageDefs.map(([name, f]) => ({ stage: name, ...roundAll(summarize(complete.map(f))) }));
  const putAck = { ours: summarize(ours.map((s) => s.putAck - s.t0)), floor: summarize(floor.map((s) => s.putAck - s.t0)) };

  // --fs-ops: every fs call of the install, by position (the sequence is the same every time).
  let fsOps = null;
  if (FS_OPS) {
    const withOps = complete.filter((s) => s.ops.length > 0);
    const signature = (s) => s.ops.map((o) => o[0]).join(',');
    const common = withOps.length > 0 ? signature(withOps[0]) : '';
    const same = withOps.filter((s) => signature(s) === common);
    fsOps = {
      samples: same.length,
      ops: (same[0]?.ops ?? []).map((o, k) => ({ op: `${String(k + 1).padStart(2)} ${o[0]}`, ...roundAll(summarize(same.map((s) => s.ops[k][2] - s.ops[k][1]))) })),
      // Install time (render end -> onOutcome) spent outside any fs call: JS, promise hops, event loop.
      outside: roundAll(summarize(same.map((s) => s.installed - s.renderEnd - s.ops.reduce((t, o) => t + (o[2] - o[1]), 0)))),
      install: roundAll(summarize(same.map((s) => s.installed - s.renderEnd))),
    };
  }

  // ----- report
  const fsType = fileSystemOf(fileDir);
  const W = 52;
  const cols = (a) => a.map((v) => String(v).padStart(9)).join(' ');
  const row = (label, st) => `${label.padEnd(W)} ${cols([st.p50, st.p90, st.p99, st.max, st.mean].map(ms))}`;
  const head = `${''.padEnd(W)} ${cols(['p50', 'p90', 'p99', 'max', 'mean'])}`;
  const lines = [
    '',
    `change latency, ${SAMPLES} sequential changes per side (+${WARMUP} warm-up), ms${SKIP_FSYNC ? '   ** DIAGNOSTIC: fsync skipped **' : ''}`,
    head,
    row('ours:  put -> file installed', latency),
    row('floor: put -> bare etcd3 watch event', floorStats),
    '',
    `ratio ours/floor: p50 ${ratioP50.toFixed(2)}x, p99 ${ratioP99.toFixed(2)}x; p50 - floor p50 = ${diffP50.toFixed(3)} ms`,
    ...targets.map((t) => `${t.pass ? 'PASS' : 'MISS'}  ${t.target.padEnd(26)} (${t.value})`),
    '',
    `where ours spends its time (${complete.length} of ${ours.length} samples had every stamp; ms):`,
    head,
    ...stages.map((s) => row('  ' + s.stage, s)),
    row('  (floor: put -> event, for comparison)', floorStats),
    row('  (put acknowledged to putter, ours side)', putAck.ours),
    row('  (put acknowledged to putter, floor side)', putAck.floor),
    ...(fsOps
      ? [
          '',
          `every fs call of the install, in order (${fsOps.samples} samples; ms):`,
          head,
          ...fsOps.ops.map((o) => row('  ' + o.op, o)),
          row('  outside fs calls (JS, promise hops)', fsOps.outside),
          row('  install total (render end -> onOutcome)', fsOps.install),
        ]
      : []),
    '',
    `node ${process.version}, ${os.cpus().length} cpu(s) ${os.cpus()[0]?.model ?? ''}, etcd ${etcdVersion}`,
    `output file on ${fsType} (${fileDir}), etcd data on ${fileSystemOf(dataDir)}${FS_OPS ? '; --fs-ops instrumentation on' : ''}`,
    '',
  ];
  process.stdout.write(lines.join('\n'));

  const results = {
    benchmark: 'change-latency',
    date: startedAt.toISOString(),
    diagnostic: SKIP_FSYNC ? 'skip-fsync: FileHandle.sync() was a no-op; not a real configuration' : null,
    instrumentation: FS_OPS ? 'stage stamps + every fs call (--fs-ops)' : 'stage stamps',
    node: process.version,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? null,
    etcd: etcdVersion,
    outputFileSystem: fsType,
    samples: SAMPLES,
    warmup: WARMUP,
    percentile: 'nearest rank',
    unit: 'ms',
    latency: roundAll(latency),
    floor: roundAll(floorStats),
    ratio: { p50: r3(ratioP50), p99: r3(ratioP99) },
    p50MinusFloorP50: r3(diffP50),
    targets: targets.map((t) => ({ target: t.target, value: t.value, pass: t.pass })),
    stages,
    putAck: { ours: roundAll(putAck.ours), floor: roundAll(putAck.floor) },
    fsOps,
    raw: { latency: oursTotal.map(r3), floor: floorTotal.map(r3) },
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');
  progress(`wrote ${OUT}`);
}

function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {}); // observed via withTimeout
  return { promise, resolve, reject };
}

/** e.g. ext4, tmpfs; best effort (findmnt is util-linux, stat -f says ext2/ext3 for ext4). */
function fileSystemOf(dir) {
  return tryExec('findmnt', ['-n', '-o', 'FSTYPE', '-T', dir]) || tryExec('stat', ['-f', '-c', '%T', dir]) || 'unknown';
}

function tryExec(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  // After SIGINT/SIGTERM the clients are closed under the running loop: that error is expected.
  if (!interrupted) {
    process.stderr.write(`bench: failed: ${err?.stack ?? err}\n`);
    exitCode = 1;
  }
} finally {
  await cleanup();
}
if (!interrupted) process.exit(exitCode); // else the signal handler exits with 130/143
