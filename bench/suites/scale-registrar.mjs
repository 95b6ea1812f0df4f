// @ts-check
// Child process of the scale suite, part B (bench/suites/scale.mjs): N of core's Registrations
// in one process, on ONE etcd connection. Each grants its own lease, puts its key on it, keeps
// the lease alive every `heartbeat` s and watches its own key (Registration.run()).
//
// Driven over IPC (child_process.fork). Messages in:
//   { type: 'start', endpoint, prefix, count, ttl, heartbeat, diagNoEtcd3Reset }  run() all at once; answers
//                                       'registered' once every key is on its lease and every
//                                       key watch is open
//   { type: 'counters', resetGaps }     answers { type: 'counters', counters, problems,
//                                       problemKinds, memory };
//                                       resetGaps: start the keepalive-gap statistics afresh
//   { type: 'memory', collect }         answers { type: 'memory', memory }; collect: run a full GC
//                                       first (needs --expose-gc)
//   { type: 'stop' }                    exit 0 without revoking (etcd is thrown away after)
// Counters come from wrapping the connection's keepAlive and watch methods in this process.

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { Registration } from '@cluster-control/core';
import { connectEtcd } from '@cluster-control/core/etcd';

const counters = {
  keepAliveSent: 0,
  keepAliveAlive: 0, // answered with a TTL > 0
  keepAliveLost: 0, // answered 0: the lease no longer exists
  keepAliveFailed: 0, // rejected (timeout, stream broken)
  watchesOpened: 0,
  warnings: 0,
  errors: 0,
  registeredLogs: 0, // "registered ..." info lines: N at start, more = re-registrations
  // Gaps between two keepalives of the same lease (ms): the real period, burst-free.
  gapCount: 0,
  gapSumMs: 0,
  gapMaxMs: 0,
};
/** When each lease's last keepalive was sent (performance.now()). */
const lastSent = new Map();
const firstProblems = [];
/** Warnings and errors by kind: the message with keys, lease IDs and numbers taken out. */
const problemKinds = new Map();

function noteProblem(level, message) {
  if (firstProblems.length < 5) firstProblems.push(`${level}: ${message}`);
  const kind = `${level}: ${message
    .replace(/\/\S+/g, '<key>')
    .replace(/\b[0-9a-f]{6,}\b/g, '<id>')
    .replace(/\d+/g, 'N')}`;
  problemKinds.set(kind, (problemKinds.get(kind) ?? 0) + 1);
}

function send(message) {
  if (process.connected) process.send(message);
}

function ownMemory() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  const { heapUsed, heapTotal } = process.memoryUsage();
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), heapUsed, heapTotal };
}

/** Counts what Registration logs; keeps the first few problems to report. */
const countingLogger = {
  debug() {},
  info(message) {
    if (message.startsWith('registered ')) counters.registeredLogs++;
  },
  warn(message) {
    counters.warnings++;
    noteProblem('warn', message);
  },
  error(message) {
    counters.errors++;
    noteProblem('error', message);
  },
};

/** Counts keepalives and opened watches on the real connection (methods replaced in place). */
function countCalls(connection) {
  const keepAlive = connection.keepAlive.bind(connection);
  connection.keepAlive = async (leaseId) => {
    counters.keepAliveSent++;
    const now = performance.now();
    const last = lastSent.get(leaseId);
    lastSent.set(leaseId, now);
    if (last !== undefined) {
      counters.gapCount++;
      counters.gapSumMs += now - last;
      counters.gapMaxMs = Math.max(counters.gapMaxMs, now - last);
    }
    try {
      const ttl = await keepAlive(leaseId);
      if (ttl > 0) counters.keepAliveAlive++;
      else counters.keepAliveLost++;
      return ttl;
    } catch (err) {
      counters.keepAliveFailed++;
      throw err;
    }
  };
  const watch = connection.watch.bind(connection);
  connection.watch = async (...args) => {
    const handle = await watch(...args);
    counters.watchesOpened++;
    return handle;
  };
  return connection;
}

async function waitUntil(condition, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * DIAGNOSTIC (--diag-no-etcd3-reset): etcd3's connection pool closes the whole gRPC channel (every
 * watch and the keepalive stream on it) when any unary call fails with a "recoverable" error
 * (UNKNOWN, e.g. etcd's "too many requests"; DEADLINE_EXCEEDED; UNAVAILABLE...). This turns that
 * off, reaching into core's and etcd3's private fields, to show what the fix would change.
 */
function disableEtcd3ChannelReset(connection) {
  for (const member of connection.members) {
    for (const host of member.client.pool.hosts) {
      host.resetAllServices = () => {
        counters.channelResetsSkipped = (counters.channelResetsSkipped ?? 0) + 1;
      };
    }
  }
}

async function registerAll({ endpoint, prefix, count, ttl, heartbeat, diagNoEtcd3Reset }) {
  const connection = countCalls(await connectEtcd({ endpoints: [endpoint], logger: countingLogger }));
  if (diagNoEtcd3Reset) disableEtcd3ChannelReset(connection);
  const registrations = [];
  for (let i = 0; i < count; i++) {
    const name = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`;
    registrations.push(new Registration(connection, { key: `${prefix}${name}`, value: '', ttl, heartbeat, logger: countingLogger }));
  }
  const memoryBefore = ownMemory();
  const t0 = performance.now();
  // All at once, as N services starting together would (etcd and gRPC queue the calls). run()
  // registers, then keeps the lease alive at once: a lease is never left waiting for the others.
  for (const r of registrations) {
    r.run().then(
      (end) => {
        if (firstProblems.length < 5) firstProblems.push(`a registration ended: ${end}`);
      },
      (err) => {
        counters.errors++;
        if (firstProblems.length < 5) firstProblems.push(`a registration failed: ${err}`);
      },
    );
  }
  await waitUntil(() => registrations.every((r) => r.lease !== undefined), `${count} keys registered`, 600_000);
  const registerMs = performance.now() - t0;
  await waitUntil(() => counters.watchesOpened >= count, `${count} key watches open`, 600_000);
  const watchesMs = performance.now() - t0 - registerMs;
  send({ type: 'registered', registerMs, watchesMs, memoryBefore, memory: ownMemory() });
}

/** @param {any} message */
const onMessage = async (message) => {
  try {
    if (message.type === 'start') await registerAll(message);
    else if (message.type === 'counters') {
      const kinds = [...problemKinds].sort((a, b) => b[1] - a[1]).map(([kind, n]) => ({ kind, n }));
      send({ type: 'counters', counters: { ...counters }, problems: firstProblems, problemKinds: kinds, memory: ownMemory() });
      // Gap statistics are per window: the parent reads them at its start and end.
      if (message.resetGaps) Object.assign(counters, { gapCount: 0, gapSumMs: 0, gapMaxMs: 0 });
    } else if (message.type === 'memory') {
      // With --expose-gc, `collect` first runs a full GC: what the process really keeps alive.
      if (message.collect && typeof globalThis.gc === 'function') globalThis.gc();
      send({ type: 'memory', memory: ownMemory() });
    } else if (message.type === 'stop') process.exit(0);
  } catch (err) {
    send({ type: 'error', message: String(err?.stack ?? err) });
  }
};
// Its errors are caught and sent to the parent inside.
process.on('message', (message) => void onMessage(message));
process.on('disconnect', () => process.exit(0));
