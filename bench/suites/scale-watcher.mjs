// @ts-check
// Child process of the scale suite, part A (bench/suites/scale.mjs): one ClusterSync watching a
// prefix with many members, in its own process so that its RSS is its own.
//
// Driven over IPC (child_process.fork). Messages in:
//   { type: 'start', endpoint, prefix, file }  start the watcher; answers 'ready' once the
//                                              snapshot's file is installed
//   { type: 'memory', collect }                answers { type: 'memory', memory }; collect: run a
//                                              full GC first (needs --expose-gc)
//   { type: 'heapSnapshot', file, collect }    write a V8 heap snapshot to `file` (collect: full GC
//                                              first); answers { type: 'heapSnapshot', file, memory }
//   { type: 'stop' }                           stop the watcher, close the connection, exit 0
// Messages out:
//   { type: 'connected', rss }                 after connectEtcd, before anything is read
//   { type: 'ready', load: {...}, memory }     initial snapshot read, rendered and installed
//   { type: 'outcome', outcome, members, stages }  after every install attempt (onOutcome)
//   { type: 'error', message }
//
// Stage stamps (performance.now(), this process only) are taken from outside core's pipeline:
// when core's connection hands a watch response over, around the handler's render, and at
// onOutcome. Core is used as it ships.

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';

import { ClusterSync, silentLogger } from '@cluster-control/core';
import { connectEtcd } from '@cluster-control/core/etcd';

/** Stamps of the change in flight; reset after each outcome. */
let current = newStamps();

function newStamps() {
  return { event: undefined, eventCount: 0, renderStart: undefined, renderEnd: undefined };
}

function send(message) {
  if (process.connected) process.send(message);
}

/** VmRSS and VmHWM of this process, in bytes. */
function ownMemory() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  const { heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), heapUsed, heapTotal, external, arrayBuffers };
}

/**
 * The built-in json handler (names format) when @cluster-control/handlers resolves from bench/;
 * otherwise an equivalent: the same safety filter on every member, the names, JSON.stringify.
 */
async function loadJsonHandler() {
  try {
    // Not a dependency of bench/ (hence the fallback below): a string TypeScript does not resolve.
    const { json } = await import(/** @type {string} */ ('@cluster-control/handlers'));
    return { handler: json, source: '@cluster-control/handlers json' };
  } catch {
    const SAFE_NAME = /^[A-Za-z0-9.:[\]-]{1,261}$/;
    const SAFE_HOST = /^[A-Za-z0-9.:-]{1,253}$/;
    const handler = {
      name: 'json',
      parseOptions: () => ({ format: 'names', pretty: false }),
      render(members) {
        const safe = members.filter((m) => SAFE_NAME.test(m.name) && SAFE_HOST.test(m.host) && (m.port === undefined || (Number.isInteger(m.port) && m.port >= 1 && m.port <= 65535)));
        return JSON.stringify(safe.map((m) => m.name)) + '\n';
      },
    };
    return { handler, source: 'bench copy of the json handler (names format; @cluster-control/handlers is not a bench dependency)' };
  }
}

/** Stamps render start and end around the real handler. */
function stampedHandler(handler) {
  return {
    name: handler.name,
    parseOptions: (raw) => handler.parseOptions(raw),
    render(members, options, context) {
      current.renderStart = performance.now();
      try {
        return handler.render(members, options, context);
      } finally {
        current.renderEnd = performance.now();
      }
    },
  };
}

/** The connection, with stamps: how long range reads take, and when a watch response arrives. */
function tapConnection(connection, load) {
  return new Proxy(connection, {
    get(target, prop) {
      if (prop === 'range') {
        return async (...args) => {
          const start = performance.now();
          let res;
          try {
            res = await target.range(...args);
          } catch (err) {
            // ResilientWatch would retry for ever; the benchmark reports it instead.
            send({ type: 'error', message: `range read failed: ${err?.message ?? err}` });
            throw err;
          }
          load.rangeMs ??= performance.now() - start;
          load.rangeKvs ??= res.kvs.length;
          return res;
        };
      }
      if (prop === 'watch') {
        return (range, startRevision, listener) =>
          target.watch(range, startRevision, {
            onEvents(events, revision) {
              current.event ??= performance.now();
              current.eventCount += events.length;
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

async function startWatcher({ endpoint, prefix, file }) {
  const { handler, source } = await loadJsonHandler();
  const connection = await connectEtcd({ endpoints: [endpoint], logger: silentLogger, timeoutMs: 60_000 });
  send({ type: 'connected', memory: ownMemory(), handler: source });

  const load = { rangeMs: undefined, rangeKvs: undefined };
  let firstOutcome;
  const firstInstalled = new Promise((resolve) => (firstOutcome = resolve));
  const sync = new ClusterSync(tapConnection(connection, load), {
    target: {
      name: 'scale',
      path: prefix.replace(/\/$/, ''),
      file,
      handler: stampedHandler(handler),
      handlerOptions: handler.parseOptions({}),
      checkTimeoutMs: 10_000,
      minMembers: 0,
    },
    logger: silentLogger,
    onOutcome(outcome, members) {
      const at = performance.now();
      const s = current;
      current = newStamps();
      const stages = {
        eventToRender: s.renderStart - s.event,
        render: s.renderEnd - s.renderStart,
        install: at - s.renderEnd,
        eventToInstalled: at - s.event,
      };
      if (firstOutcome) {
        firstOutcome({ outcome, members, render: stages.render, install: stages.install, at });
        firstOutcome = undefined;
      } else {
        send({ type: 'outcome', outcome, members, events: s.eventCount, stages });
      }
    },
  });

  const t0 = performance.now();
  await sync.start();
  const first = await firstInstalled;
  await sync.idle();
  send({
    type: 'ready',
    load: {
      totalMs: first.at - t0,
      rangeMs: load.rangeMs,
      rangeKvs: load.rangeKvs,
      renderMs: first.render,
      installMs: first.install,
      outcome: first.outcome,
      members: first.members,
    },
    memory: ownMemory(),
  });
  return async () => {
    await sync.stop();
    connection.close();
  };
}

let stop;
/** @param {any} message */
const onMessage = async (message) => {
  try {
    if (message.type === 'start') {
      stop = await startWatcher(message);
    } else if (message.type === 'memory') {
      // With --expose-gc, `collect` first runs a full GC: what the process really keeps alive.
      if (message.collect && typeof globalThis.gc === 'function') globalThis.gc();
      send({ type: 'memory', memory: ownMemory() });
    } else if (message.type === 'heapSnapshot') {
      if (message.collect && typeof globalThis.gc === 'function') globalThis.gc();
      const memory = ownMemory();
      send({ type: 'heapSnapshot', file: writeHeapSnapshot(message.file), memory });
    } else if (message.type === 'stop') {
      await stop?.();
      process.exit(0); // exit normally so that --cpu-prof writes its profile
    }
  } catch (err) {
    send({ type: 'error', message: String(err?.stack ?? err) });
  }
};
// Its errors are caught and sent to the parent inside.
process.on('message', (message) => void onMessage(message));
process.on('disconnect', () => process.exit(0));
