// @ts-check
// Change latency: how long after a put does the watcher's output file contain the new member,
// compared with the floor (a bare etcd3 watch seeing an equivalent put) in the same run?
// Plain Node 20 ESM, no build step. See bench/README.md.
//
//   node bench/suites/latency.mjs [--sizes 0,1000,10000] [--samples 200] [--warmup 20]
//                                 [--file-dir DIR] [--out FILE] [--skip-fsync] [--fs-ops]
//
// Per size N (0: the small case, a file growing from ~20 members), N members are pre-loaded under
// both the watched prefix and the floor's prefix (txns of 128 puts), so both sides watch an etcd
// of the same size; then the changes are measured, ours and floor interleaved.

import fs from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { ClusterSync, silentLogger } from '@cluster-control/core';
import { connectEtcd } from '@cluster-control/core/etcd';
import etcd3 from 'etcd3';

import { etcdVersion, startEtcd } from '../lib/etcd.mjs';
import { deferred, onCleanup, runMain, trackDir, withTimeout } from '../lib/resources.mjs';
import { writeResult } from '../lib/results.mjs';
import { ms, r3, roundAll, summarize } from '../lib/stats.mjs';
import { fileSystemOf } from '../lib/system.mjs';

const { Etcd3 } = etcd3;
const HERE = dirname(fileURLToPath(import.meta.url));
const SAMPLE_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Instrumentation: timestamps per stage of our pipeline, taken from outside core (core is
// unchanged): the etcd connection's watch listener, the handler, FileHandle.sync, onOutcome.

/** The ours-sample in flight, if any: stage timestamps are recorded into it. */
let active;
/** DIAGNOSTIC --skip-fsync: fs.fdatasync and fs.fsync do nothing. */
let skipFsync = false;

/**
 * Stamps around every flush to disk: core's installFile calls fs.fdatasync for the temp file, then
 * fs.fsync for the directory. fs functions are swapped on node:fs and pushed into the ESM bindings core
 * imported (syncBuiltinESMExports).
 */
function instrumentFsync() {
  for (const name of ['fdatasync', 'fsync']) {
    const original = fs[name];
    fs[name] = function (fd, callback) {
      const start = performance.now();
      const done = (err) => {
        active?.syncs.push([start, performance.now()]);
        callback(err);
      };
      if (skipFsync) process.nextTick(done, null);
      else original.call(this, fd, done);
    };
  }
  syncBuiltinESMExports();
}

/** --fs-ops: time every fs call core's install makes, as [name, start, end] in the active sample. */
function instrumentFsOps() {
  for (const name of [
    'realpathSync',
    'lstatSync',
    'readlinkSync',
    'openSync',
    'fstatSync',
    'readFileSync',
    'readSync',
    'writeSync',
    'writeFileSync',
    'fchmodSync',
    'fchownSync',
    'closeSync',
    'renameSync',
    'unlinkSync',
  ]) {
    const original = fs[name];
    fs[name] = function (...args) {
      const start = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        active?.ops.push([name, start, performance.now()]);
      }
    };
  }
  for (const name of ['fdatasync', 'fsync']) {
    const original = fs[name];
    fs[name] = function (fd, callback) {
      const start = performance.now();
      original.call(this, fd, (err) => {
        active?.ops.push([name, start, performance.now()]);
        callback(err);
      });
    };
  }
  syncBuiltinESMExports();
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

/**
 * The smallest JSON handler: one array of member names, like the built-in json handler's default
 * form, with the same ListLayout (so a watcher re-renders only the members that changed; the
 * built-in one also checks each member's name first). Stamps a whole render's start/end when core
 * calls `render`, and counts the items core renders from the layout. (Whether an install holds the
 * new member is judged from onOutcome's member count, not by scanning the list: at 10k members a
 * scan would be part of the figure.)
 */
const jsonHandler = {
  name: 'json',
  parseOptions: () => ({}),
  render(members) {
    const start = performance.now();
    const text = JSON.stringify(members.map((m) => m.name)) + '\n';
    if (active) {
      active.renders++;
      active.renderStart = start;
      active.renderEnd = performance.now();
    }
    return text;
  },
  listLayout: () => ({
    head: '[',
    separator: ',',
    tail: ']\n',
    empty: '[]\n',
    item(m) {
      if (active) active.items++;
      return JSON.stringify(m.name);
    },
  }),
};

/** Read-back buffer of fileHolds, reused: the check allocates nothing per sample. */
let readBack = Buffer.alloc(1 << 16);

/** Whether `file` contains `text` (ASCII), read into a buffer reused from call to call. */
function fileHolds(file, text) {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (readBack.length < size) readBack = Buffer.alloc(size * 2);
    let at = 0;
    while (at < size) {
      const n = fs.readSync(fd, readBack, at, size - at, at);
      if (n === 0) break;
      at += n;
    }
    return readBack.subarray(0, at).includes(text, 0, 'latin1');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Stamps the install's start: its first fs call (an lstat of the target's path) after the member
 * list was taken. Render (from the layout or the handler) and the address policy come before it.
 */
function instrumentInstallStart() {
  const original = fs.lstatSync;
  // @ts-expect-error -- a wrapper with the same behaviour
  fs.lstatSync = function (...args) {
    if (active && active.membersEnd !== undefined && active.installStart === undefined) active.installStart = performance.now();
    return original.apply(this, args);
  };
  syncBuiltinESMExports();
}

// ---------------------------------------------------------------------------------------------
// The benchmark

// Measured change i adds 10.9.<i/256>.<i%256>:80; warm-up change j adds 10.8.<j/256>.<j%256>:80;
// the members a size starts with are 10.7.<k/256>.<k%256>:80 (at most 65,536 of each).
const memberName = (i, net = 9) => `10.${net}.${Math.floor(i / 256)}.${i % 256}:80`;
/** Puts per transaction when pre-loading a size's members. */
const PRELOAD_TXN = 128;
const DEFAULT_SIZES = [0, 1000, 10000];

/** How a size is named in tables and targets: 0 is the small case (the file grows from ~20 members). */
function sizeLabel(size, warmup, samples) {
  if (size === 0) return `~${warmup}-${warmup + samples} members`;
  return size % 1000 === 0 ? `${size / 1000}k members` : `${size} members`;
}

/**
 * Membership stamps: ClusterSync's Membership (a private field, reached from outside core only here)
 * is wrapped on the instance, so the split can show the membership update (apply) and the member
 * list handed to the installer (members) apart from the rest. Missing methods: those stamps stay
 * unset and their stages read n/a.
 */
function tapMembership(sync) {
  const membership = /** @type {any} */ (sync).membership;
  if (!membership) return;
  for (const [method, before, after] of [
    ['apply', 'applyStart', 'applyEnd'],
    ['members', 'membersStart', 'membersEnd'],
  ]) {
    const original = membership[method];
    if (typeof original !== 'function') continue;
    membership[method] = function (...args) {
      const s = active && active.event !== undefined && active[before] === undefined ? active : undefined;
      if (s) s[before] = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        if (s) s[after] = performance.now();
      }
    };
  }
}

/**
 * Runs the benchmark; resolves to { name, title, lines, result, targets }.
 * options: sizes ([0, 1000, 10000]; 0 is the small case), samples (200 per side per size), warmup
 * (20), fileDir (a new dir under the OS temp dir), fsOps (time every fs call), skipFsync
 * (DIAGNOSTIC: fs.fdatasync/fsync no-ops), progress (message => void).
 */
export async function run(options = {}) {
  const SIZES = options.sizes ?? DEFAULT_SIZES;
  const SAMPLES = options.samples ?? 200;
  const WARMUP = options.warmup ?? 20;
  const FS_OPS = options.fsOps ?? false;
  const SKIP_FSYNC = options.skipFsync ?? false;
  const progress = options.progress ?? (() => {});
  if (SAMPLES > 65536 || WARMUP > 65536) throw new Error('samples and warmup must be at most 65536 (one /16 of member names each)');
  if (SIZES.some((n) => !Number.isInteger(n) || n < 0 || n > 65536)) throw new Error('sizes must be integers from 0 to 65536');
  skipFsync = SKIP_FSYNC;
  const startedAt = new Date();
  if (FS_OPS) instrumentFsOps(); // first: instrumentFsync's stamps then include the fs-ops wrapper
  instrumentFsync();
  instrumentInstallStart();

  progress('starting etcd');
  const { endpoint, dataDir } = await startEtcd({ progress });

  const fileDir = trackDir(await mkdtemp(join(options.fileDir ?? os.tmpdir(), 'cc-bench-out-')));

  // Three clients, as in production: the one doing the puts is not the one watching.
  const putter = new Etcd3({ hosts: endpoint });
  onCleanup(() => putter.close());
  const floorClient = new Etcd3({ hosts: endpoint });
  onCleanup(() => floorClient.close());
  const connection = await connectEtcd({ endpoints: [endpoint], logger: silentLogger });
  onCleanup(() => connection.close());

  // One put to warm the putter's channel before anything is timed.
  await putter.put('/bench/warm').value('x').exec();

  /** One size: N members under both prefixes, then warm-up and SAMPLES changes per side, interleaved. */
  async function measureSize(size) {
    const label = sizeLabel(size, WARMUP, SAMPLES);
    // The small case keeps the prefixes it always had.
    const oursPrefix = size === 0 ? '/bench/latency' : `/bench/latency-${size}`;
    const floorPrefix = size === 0 ? '/bench/floor' : `/bench/floor-${size}`;
    const file = join(fileDir, size === 0 ? 'members.json' : `members-${size}.json`);

    // Pre-load: the same N keys under both prefixes, so both sides watch an etcd of the same size.
    if (size > 0) progress(`${label}: pre-loading ${size} members under each prefix (txns of ${PRELOAD_TXN} puts)`);
    for (let k = 0; k < size; k += PRELOAD_TXN) {
      for (const prefix of [oursPrefix, floorPrefix]) {
        const success = [];
        for (let m = k; m < Math.min(size, k + PRELOAD_TXN); m++) success.push({ request_put: { key: Buffer.from(`${prefix}/${memberName(m, 7)}`), value: Buffer.from('{}') } });
        await putter.kv.txn({ success });
      }
    }

    // Ours: ClusterSync writing `file`.
    let outcomeWaiter;
    /** Members in the file as of the last installed/unchanged outcome. */
    let fileCount = -1;
    const sync = new ClusterSync(tapConnection(connection), {
      target: {
        name: 'bench',
        path: oursPrefix,
        file,
        handler: jsonHandler,
        handlerOptions: {},
        checkTimeoutMs: 10_000,
        minMembers: 0,
      },
      logger: silentLogger,
      onOutcome: (outcome, members) => {
        const now = performance.now();
        const s = active;
        if (outcome === 'installed' || outcome === 'unchanged') fileCount = members;
        if (!s) return;
        // Changes are sequential and only ours: an install holding one member more than before holds the new one.
        if (outcome === 'installed' && members === s.expect) {
          s.installed = now;
          outcomeWaiter?.resolve();
        } else if (outcome !== 'installed' && outcome !== 'unchanged') {
          outcomeWaiter?.reject(new Error(`install outcome ${outcome} for ${s.name}`));
        }
      },
    });
    tapMembership(sync);
    let stopped = false;
    const stopSync = async () => {
      if (stopped) return;
      stopped = true;
      await sync.stop();
    };
    onCleanup(stopSync); // cleanup runs latest first: stopped before the connection closes
    await sync.start();
    await sync.idle();
    if (fileCount !== size) throw new Error(`${label}: the first file holds ${fileCount} members, expected ${size}`);

    // Floor: a bare etcd3 watch on the other prefix.
    /** @type {(ReturnType<typeof deferred<void>> & { key: string; at?: number }) | undefined} */
    let floorWaiter;
    const floorWatcher = await floorClient.watch().prefix(`${floorPrefix}/`).create();
    floorWatcher.on('error', (err) => floorWaiter?.reject(err));
    floorWatcher.on('put', (kv) => {
      const now = performance.now();
      if (floorWaiter && kv.key.toString() === floorWaiter.key) {
        floorWaiter.at = now;
        floorWaiter.resolve();
      }
    });

    async function sampleOurs(name) {
      const s = { name, key: `${oursPrefix}/${name}`, expect: fileCount + 1, renders: 0, items: 0, syncs: [], ops: [] };
      const done = deferred();
      outcomeWaiter = done;
      active = s;
      s.t0 = performance.now();
      const put = putter
        .put(s.key)
        .value('{}')
        .exec()
        .then(() => (s.putAck = performance.now()));
      put.catch(() => {}); // awaited below; a failure before that must not crash the process
      try {
        await withTimeout(done.promise, SAMPLE_TIMEOUT_MS, `waiting for ${name} in ${file}`);
        await put;
      } finally {
        active = undefined;
        outcomeWaiter = undefined;
      }
      // Checked after the timestamp, so reading the file is not part of the figure; into a reused
      // buffer, so at 10k members the check leaves no garbage (it was a 10k-string array per
      // change) for the next sample's garbage collection. The whole file is parsed once per size.
      if (!fileHolds(file, `"${name}"`)) throw new Error(`${file} was installed but does not contain ${name}`);
      return s;
    }

    async function sampleFloor(name) {
      const key = `${floorPrefix}/${name}`;
      const s = { key };
      const done = /** @type {ReturnType<typeof deferred<void>> & { at?: number }} */ (deferred());
      floorWaiter = Object.assign(done, { key });
      s.t0 = performance.now();
      const put = putter
        .put(key)
        .value('{}')
        .exec()
        .then(() => (s.putAck = performance.now()));
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
    progress(`${label}: warm-up ${WARMUP} + ${WARMUP} changes; measuring ${SAMPLES} + ${SAMPLES} changes (ours, floor interleaved)`);
    for (let j = 0; j < WARMUP; j++) {
      await sampleOurs(memberName(j, 8));
      await sampleFloor(memberName(j, 8));
    }
    // A B A B ...: machine noise hits both sides alike.
    for (let i = 0; i < SAMPLES; i++) {
      ours.push(await sampleOurs(memberName(i)));
      floor.push(await sampleFloor(memberName(i)));
      if ((i + 1) % 100 === 0) progress(`${label}: ${i + 1}/${SAMPLES}`);
    }

    await floorWatcher.cancel();
    await stopSync();
    const names = JSON.parse(await readFile(file, 'utf8'));
    if (names.length !== size + WARMUP + SAMPLES || !ours.every((s) => names.includes(s.name))) throw new Error(`${file} does not hold the ${size + WARMUP + SAMPLES} members put`);
    // The next size starts from an etcd holding only its own keys (and what status writes left).
    await putter.delete().prefix(`${oursPrefix}/`).exec();
    await putter.delete().prefix(`${floorPrefix}/`).exec();
    return analyse({ size, label, ours, floor });
  }

  /** Percentiles, targets and the per-stage split of one size. */
  function analyse({ size, label, ours, floor }) {
    const oursTotal = ours.map((s) => s.installed - s.t0);
    const floorTotal = floor.map((s) => s.event - s.t0);
    const latency = summarize(oursTotal);
    const floorStats = summarize(floorTotal);
    const ratioP50 = latency.p50 / floorStats.p50;
    const ratioP99 = latency.p99 / floorStats.p99;
    const diffP50 = latency.p50 - floorStats.p50;
    // The small case keeps the target names it always had; the others name their size.
    const named = (text) => (size === 0 ? text : `${label}: ${text}`);
    const targets = [
      { target: named('p50 <= floor p50 + 1 ms'), value: `${ms(latency.p50)} vs ${ms(floorStats.p50 + 1)}`, pass: latency.p50 <= floorStats.p50 + 1 },
      { target: named('p99 <= 2 x floor p99'), value: `${ms(latency.p99)} vs ${ms(2 * floorStats.p99)}`, pass: latency.p99 <= 2 * floorStats.p99 },
    ];

    // Per-stage split of ours: event delivered -> membership update -> render -> install fs calls
    // -> onOutcome. core's installFile syncs twice: the temp file, then the directory.
    const tapped = ours.every((s) => s.applyStart !== undefined && s.membersEnd !== undefined && s.installStart !== undefined);
    /** @type {[string, (s: any) => number][]} */
    const stageDefs = [
      ['put -> watch event (core connection)', (s) => s.event - s.t0],
      ...(tapped
        ? /** @type {[string, (s: any) => number][]} */ ([
            ['event -> membership update (watch chain)', (s) => s.applyStart - s.event],
            ['membership update (Membership.apply)', (s) => s.applyEnd - s.applyStart],
            ['-> member list (Membership.members)', (s) => s.membersEnd - s.applyEnd],
            ['-> install start (address policy, held, render)', (s) => s.installStart - s.membersEnd],
            ['install start -> fdatasync temp (checks, write)', (s) => s.syncs[0][0] - s.installStart],
          ])
        : /** @type {[string, (s: any) => number][]} */ ([['event -> fdatasync temp (membership, render, write)', (s) => s.syncs[0][0] - s.event]])),
      ['fdatasync temp file', (s) => s.syncs[0][1] - s.syncs[0][0]],
      ['close + rename + open directory', (s) => s.syncs[1][0] - s.syncs[0][1]],
      ['fsync directory', (s) => s.syncs[1][1] - s.syncs[1][0]],
      ['dir fsync -> onOutcome installed', (s) => s.installed - s.syncs[1][1]],
    ];
    // Renders: whole ones by the handler (render) and items rendered from the layout, per change.
    const renders = { whole: summarize(ours.map((s) => s.renders)), items: summarize(ours.map((s) => s.items)) };
    const wholeRenders = ours.filter((s) => s.renders === 1 && s.renderEnd !== undefined);
    const complete = ours.filter((s) => s.event !== undefined && s.syncs.length === 2 && s.renders <= 1);
    const stages = stageDefs.map(([name, f]) => ({ stage: name, ...roundAll(summarize(complete.map(f))) }));
    const handlerRender = wholeRenders.length > 0 ? roundAll(summarize(wholeRenders.map((s) => s.renderEnd - s.renderStart))) : null;
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
        // Install time (install start -> onOutcome) spent outside any fs call: JS, promise hops, event loop.
        outside: roundAll(summarize(same.map((s) => s.installed - s.installStart - s.ops.reduce((t, o) => t + (o[2] - o[1]), 0)))),
        install: roundAll(summarize(same.map((s) => s.installed - s.installStart))),
      };
    }
    return {
      size,
      label,
      members: { preloaded: size, measuredFrom: size + WARMUP + 1, measuredTo: size + WARMUP + SAMPLES },
      latency: roundAll(latency),
      floor: roundAll(floorStats),
      ratio: { p50: r3(ratioP50), p99: r3(ratioP99) },
      p50MinusFloorP50: r3(diffP50),
      targets,
      complete: complete.length,
      stages,
      handlerRender,
      renders: { whole: roundAll(renders.whole), items: roundAll(renders.items) },
      putAck: { ours: roundAll(putAck.ours), floor: roundAll(putAck.floor) },
      fsOps,
      raw: { latency: oursTotal.map(r3), floor: floorTotal.map(r3) },
    };
  }

  const perSize = [];
  for (const size of SIZES) perSize.push(await measureSize(size));

  // ----- report
  const fsType = fileSystemOf(fileDir);
  const W = 52;
  const cols = (a) => a.map((v) => String(v).padStart(9)).join(' ');
  const row = (label, st) => `${label.padEnd(W)} ${cols([st.p50, st.p90, st.p99, st.max, st.mean].map(ms))}`;
  const head = `${''.padEnd(W)} ${cols(['p50', 'p90', 'p99', 'max', 'mean'])}`;
  const lines = [''];
  for (const r of perSize) {
    lines.push(
      `change latency, ${r.label}${r.size > 0 ? ` (${r.size.toLocaleString('en')} pre-loaded under each prefix)` : ''}: ${SAMPLES} sequential changes per side (+${WARMUP} warm-up), ms${SKIP_FSYNC ? '   ** DIAGNOSTIC: fsync skipped **' : ''}`,
      head,
      row('ours:  put -> file installed', r.latency),
      row('floor: put -> bare etcd3 watch event', r.floor),
      '',
      `ratio ours/floor: p50 ${r.ratio.p50.toFixed(2)}x, p99 ${r.ratio.p99.toFixed(2)}x; p50 - floor p50 = ${r.p50MinusFloorP50.toFixed(3)} ms`,
      ...r.targets.map((t) => `${t.pass ? 'PASS' : 'MISS'}  ${t.target.padEnd(40)} (${t.value})`),
      '',
      `where ours spends its time, ${r.label} (${r.complete} of ${SAMPLES} samples had every stamp; ms):`,
      head,
      ...r.stages.map((s) => row('  ' + s.stage, s)),
      ...(r.handlerRender ? [row(`  (whole render by the handler, ${r.handlerRender.n} changes)`, r.handlerRender)] : []),
      `  (per change: ${r.renders.whole.mean.toFixed(2)} whole renders, ${r.renders.items.mean.toFixed(1)} items from the layout, mean)`,
      row('  (floor: put -> event, for comparison)', r.floor),
      row('  (put acknowledged to putter, ours side)', r.putAck.ours),
      row('  (put acknowledged to putter, floor side)', r.putAck.floor),
      ...(r.fsOps
        ? [
            '',
            `every fs call of the install, in order, ${r.label} (${r.fsOps.samples} samples; ms):`,
            head,
            ...r.fsOps.ops.map((o) => row('  ' + o.op, o)),
            row('  outside fs calls (JS, promise hops)', r.fsOps.outside),
            row('  install total (install start -> onOutcome)', r.fsOps.install),
          ]
        : []),
      '',
    );
  }
  lines.push(
    `node ${process.version}, ${os.cpus().length} cpu(s) ${os.cpus()[0]?.model ?? ''}, etcd ${etcdVersion()}`,
    `output file on ${fsType} (${fileDir}), etcd data on ${fileSystemOf(dataDir)}${FS_OPS ? '; --fs-ops instrumentation on' : ''}`,
    '',
  );

  const first = perSize[0];
  const targets = perSize.flatMap((r) => r.targets);
  const results = {
    benchmark: 'change-latency',
    date: startedAt.toISOString(),
    diagnostic: SKIP_FSYNC ? 'skip-fsync: fs.fdatasync/fsync were no-ops; not a real configuration' : null,
    instrumentation: FS_OPS ? 'stage stamps + every fs call (--fs-ops)' : 'stage stamps',
    node: process.version,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? null,
    etcd: etcdVersion(),
    outputFileSystem: fsType,
    samples: SAMPLES,
    warmup: WARMUP,
    percentile: 'nearest rank',
    unit: 'ms',
    // The first size's figures, where they always were (the README's chart reads them).
    size: first.size,
    sizeLabel: first.label,
    latency: first.latency,
    floor: first.floor,
    ratio: first.ratio,
    p50MinusFloorP50: first.p50MinusFloorP50,
    targets: targets.map((t) => ({ target: t.target, value: t.value, pass: t.pass })),
    stages: first.stages,
    putAck: first.putAck,
    fsOps: first.fsOps,
    raw: first.raw,
    // Every size (the first one included): members pre-loaded under each prefix (0: the small case).
    sizes: perSize,
  };
  return { name: 'latency', title: 'change latency', lines, result: results, targets: results.targets };
}

// ---------------------------------------------------------------------------------------------
// Direct run: node bench/suites/latency.mjs [options]

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values: opts } = parseArgs({
    options: {
      sizes: { type: 'string', default: DEFAULT_SIZES.join(',') },
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
    process.stdout.write(`usage: node bench/suites/latency.mjs [options]
  --sizes LIST     members pre-loaded under each prefix, per run (default ${DEFAULT_SIZES.join(',')});
                   0 is the small case (the file grows from ~20 members)
  --samples N      measured changes per side and size (default 200)
  --warmup N       unmeasured changes per side first (default 20)
  --file-dir DIR   where the watcher's output file lives (default: a new dir under ${os.tmpdir()})
  --out FILE       results JSON (default bench/results/latency.json)
  --skip-fsync     DIAGNOSTIC ONLY: make fs.fdatasync/fsync no-ops, to show what fsync costs;
                   writes bench/results/diagnostic-skip-fsync.json unless --out is given
  --fs-ops         also time every fs call of the install (adds a little overhead; prints a table)
  --quiet          no progress on stderr
`);
    process.exit(0);
  }
  const count = (text, name, min) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) {
      process.stderr.write(`bench: --${name} must be an integer >= ${min}, got ${text}\n`);
      process.exit(2);
    }
    return n;
  };
  const sizes = opts.sizes.split(',').map((text) => count(text.trim(), 'sizes', 0));
  const options = {
    sizes,
    samples: count(opts.samples, 'samples', 1),
    warmup: count(opts.warmup, 'warmup', 0),
    fileDir: opts['file-dir'],
    skipFsync: opts['skip-fsync'],
    fsOps: opts['fs-ops'],
    progress: opts.quiet ? undefined : (m) => process.stderr.write(`bench: ${m}\n`),
  };
  const out = opts.out ?? join(HERE, '..', 'results', opts['skip-fsync'] ? 'diagnostic-skip-fsync.json' : 'latency.json');
  await runMain(async () => {
    const report = await run(options);
    process.stdout.write(report.lines.join('\n') + '\n');
    writeResult(out, report);
    options.progress?.(`wrote ${out}`);
  });
}
