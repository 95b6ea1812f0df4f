import { describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd } from '#test-support/etcd-server.js';
import { useEtcdConnection } from '#test-support/etcd-fixture.js';
import { waitFor } from '#test-support/cli.js';
import type { EtcdConnection } from '../etcd/types.js';
import { connectEtcd } from '../etcd/grpc-connection.js';
import { prefixRange } from '../etcd/key-range.js';
import { createLogger } from '../util/log.js';
import { ResilientWatch, type WatchSink } from './resilient-watch.js';

/** A sink that mirrors the range as a key → value map, the way a real consumer would. */
function mirror() {
  const state = new Map<string, string>();
  const reasons: string[] = [];
  const sink: WatchSink = {
    snapshot(kvs, _rev, reason) {
      reasons.push(reason);
      state.clear();
      for (const kv of kvs) state.set(kv.key, kv.value);
    },
    events(events) {
      for (const e of events) {
        if (e.type === 'put') state.set(e.key, e.value);
        else state.delete(e.key);
      }
    },
  };
  return { state, reasons, sink, keys: () => [...state.keys()].sort() };
}

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }) };
}

describe.skipIf(!haveEtcd)('ResilientWatch against a real etcd', () => {
  let etcd: EtcdServer;
  let conn: EtcdConnection;
  useEtcdConnection(
    (endpoint) => connectEtcd({ endpoints: [endpoint], timeoutMs: 1000 }),
    (started) => ({ etcd, conn } = started),
  );

  it('hands over from a revision: the state at it, then every change after it', async () => {
    await etcd.ctl('put', '/rw/a/1', 'x');
    const start = await etcd.revision();
    await etcd.ctl('put', '/rw/a/2', 'y');
    await etcd.ctl('del', '/rw/a/1');
    const m = mirror();
    const { logger } = capture();
    const watch = new ResilientWatch(conn, prefixRange('/rw/a/'), m.sink, { logger, label: 'a', startRevision: start }).start();
    await watch.synced;
    await waitFor(() => m.keys().join() === '/rw/a/2', { what: 'changes after the start revision' });
    expect(m.reasons).toEqual(['start']);
    await watch.stop();
  });

  it('stop() during the first read ends the watch (it used to open the watch anyway and never end)', async () => {
    const { logger } = capture();
    let stopping: Promise<void> | undefined;
    const sink: WatchSink = {
      snapshot() {
        // The read has arrived, the watch is not open yet: the moment a signal hit a starting heartbeat.
        stopping = watch.stop();
      },
      events() {},
    };
    const watch = new ResilientWatch(conn, prefixRange('/rw/stop-early/'), sink, { logger, label: 'stop-early' }).start();
    await waitFor(() => stopping !== undefined, { what: 'the first read' });
    const ended = await Promise.race([stopping!.then(() => 'stopped'), new Promise((resolve) => setTimeout(() => resolve('still running after 3 s'), 3_000))]);
    expect(ended).toBe('stopped');
  });

  it('treats a silent watch as broken (etcd frozen), then converges when etcd answers again', async () => {
    const m = mirror();
    const { lines, logger } = capture();
    const watch = new ResilientWatch(conn, prefixRange('/rw/stall/'), m.sink, { logger, label: 'stall', progressIntervalMs: 200, stallTimeoutMs: 1000 }).start();
    await watch.synced;
    etcd.signal('SIGSTOP'); // the process is alive, its sockets open, but it never answers
    try {
      await waitFor(() => lines.some((l) => /watch silent for over 1000 ms/.test(l)), { timeoutMs: 5000, what: 'stall detection' });
      // While etcd is frozen nothing is delivered: the sink keeps its last good state.
      expect(m.reasons).toEqual(['start']);
    } finally {
      etcd.signal('SIGCONT');
    }
    await etcd.ctl('put', '/rw/stall/after', '1');
    await waitFor(() => m.state.get('/rw/stall/after') === '1', { timeoutMs: 15_000, what: 'convergence after SIGCONT' });
    expect(m.reasons.at(-1)).toBe('resync');
    await watch.stop();
  });

  it('does not hang or crash when started while etcd does not answer', async () => {
    const m = mirror();
    const { lines, logger } = capture();
    await etcd.ctl('put', '/rw/down/k', 'v');
    etcd.signal('SIGSTOP');
    const watch = new ResilientWatch(conn, prefixRange('/rw/down/'), m.sink, { logger, label: 'down', backoff: { initialMs: 100, maxMs: 500 } }).start();
    try {
      await waitFor(() => lines.filter((l) => /etcd unavailable/.test(l)).length >= 2, { timeoutMs: 10_000, what: 'retries with deadlines' });
      expect(m.reasons).toEqual([]);
    } finally {
      etcd.signal('SIGCONT');
    }
    await watch.synced;
    expect(m.keys()).toEqual(['/rw/down/k']);
    await watch.stop();
  });
  it('delivers reads page by page to a sink that takes pages, at one revision', async () => {
    const kvs = Array.from({ length: 300 }, (_, i) => ({ key: `/rw/pages/k${String(i).padStart(3, '0')}`, value: String(i) }));
    for (let i = 0; i < kvs.length; i += 50) await Promise.all(kvs.slice(i, i + 50).map((kv) => conn.put(kv.key, kv.value)));
    const start = await etcd.revision();
    await conn.put('/rw/pages/later', 'x'); // after the hand-off revision: comes as an event
    const pages: number[] = [];
    const state = new Map<string, string>();
    const ends: bigint[] = [];
    const sink: WatchSink = {
      snapshot: () => expect.unreachable('snapshot is not called when beginSnapshot is there'),
      beginSnapshot: (reason) => {
        expect(reason).toBe('start');
        const staged = new Map<string, string>();
        return {
          page: (page) => {
            pages.push(page.length);
            for (const kv of page) staged.set(kv.key, kv.value);
          },
          end: (revision) => {
            ends.push(revision);
            state.clear();
            for (const [k, v] of staged) state.set(k, v);
          },
        };
      },
      events: (events) => {
        for (const e of events) {
          if (e.type === 'put') state.set(e.key, e.value);
          else state.delete(e.key);
        }
      },
    };
    const { logger } = capture();
    const watch = new ResilientWatch(conn, prefixRange('/rw/pages/'), sink, { logger, label: 'pages', startRevision: start }).start();
    await watch.synced;
    await waitFor(() => state.get('/rw/pages/later') === 'x', { what: 'the change after the hand-off' });
    expect(ends).toEqual([start]);
    expect(pages).toEqual([64, 236]); // 64 first, then as many as fit the byte aim
    expect(state.size).toBe(301);
    await watch.stop();
  });
});
