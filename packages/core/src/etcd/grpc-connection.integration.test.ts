import { describe, expect, it, vi } from 'vitest';
import { type EtcdServer, haveEtcd } from '#test-support/etcd-server.js';
import { useEtcdConnection } from '#test-support/etcd-fixture.js';
import type { EtcdConnection, WatchEvent } from './types.js';
import { connectEtcd } from './grpc-connection.js';
import { prefixRange, singleKey } from './key-range.js';

describe.skipIf(!haveEtcd)('EtcdConnection.newestModRevision against a real etcd', () => {
  let conn: EtcdConnection;
  useEtcdConnection(
    (endpoint) => connectEtcd({ endpoints: [endpoint] }),
    (started) => (conn = started.conn),
  );

  it('is the highest mod revision in the range, whichever key has it, and 0 when empty', async () => {
    const range = prefixRange('/newest/web/');
    expect(await conn.newestModRevision(range)).toBe(0n);
    const a = await conn.put('/newest/web/a', '1');
    const b = await conn.put('/newest/web/b', '1');
    expect(await conn.newestModRevision(range)).toBe(b);
    const a2 = await conn.put('/newest/web/a', '2'); // an older key, changed last
    expect(a2).toBeGreaterThan(b);
    expect(await conn.newestModRevision(range)).toBe(a2);
    await conn.put('/newest/web2/z', '1'); // a neighbouring prefix is not in the range
    expect(await conn.newestModRevision(range)).toBe(a2);
    await conn.delete('/newest/web/a'); // deletes leave no key behind: the newest remaining one counts
    expect(await conn.newestModRevision(range)).toBe(b);
    expect(a).toBeLessThan(b);
  });
});

describe.skipIf(!haveEtcd)('EtcdConnection with large responses against a real etcd', () => {
  let etcd: EtcdServer;
  let conn: EtcdConnection;
  useEtcdConnection(
    (endpoint) => connectEtcd({ endpoints: [endpoint], timeoutMs: 10_000 }),
    (started) => ({ etcd, conn } = started),
  );

  // gRPC refuses messages over 4 MiB unless told otherwise: a cluster of ~65k members (or a
  // watch catching up over a few MiB of changes) would never be read, only retried.
  it('reads and watches responses larger than 4 MiB', async () => {
    const big = 'x'.repeat(1_000_000); // under etcd's 1.5 MiB request limit; five make 5 MB
    const before = await etcd.revision();
    for (let i = 0; i < 5; i++) await conn.put(`/big/${i}`, big);

    const read = await conn.range(prefixRange('/big/'));
    expect(read.kvs.map((kv) => kv.value.length)).toEqual([1_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000]);

    // Watching from before the puts: etcd sends the catch-up as one response of ~5 MB.
    const events: WatchEvent[] = [];
    let broken: Error | undefined;
    const handle = await conn.watch(prefixRange('/big/'), before + 1n, {
      onEvents: (batch) => events.push(...batch),
      onProgress: () => {},
      onBroken: (err) => (broken = err),
    });
    const deadline = Date.now() + 10_000;
    while (events.length < 5 && !broken && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    handle.close();
    expect(broken).toBeUndefined();
    expect(events.map((e) => e.key)).toEqual(['/big/0', '/big/1', '/big/2', '/big/3', '/big/4']);
  });
});

describe.skipIf(!haveEtcd)('an idle gRPC connection to a real etcd', () => {
  let conn: EtcdConnection;
  useEtcdConnection(
    (endpoint) => connectEtcd({ endpoints: [endpoint] }),
    (started) => (conn = started.conn),
  );

  // etcd refuses keepalive pings on a connection with no call in flight: after three it sends
  // GOAWAY "too many pings", the connection drops, and grpc-js prints an error line of its own on
  // stderr (not in our log format). Pings go only while a call (a watch, a keepalive) is open.
  it('is not sent away for pinging while no call is in flight (45 s idle)', { timeout: 70_000 }, async () => {
    const errors = vi.spyOn(console, 'error');
    try {
      await conn.put('/idle/a', '1');
      await new Promise((r) => setTimeout(r, 45_000));
      expect((await conn.range(singleKey('/idle/a'))).kvs).toHaveLength(1);
      expect(errors.mock.calls.map((args) => args.join(' '))).not.toContainEqual(expect.stringMatching(/excess pings/));
    } finally {
      errors.mockRestore();
    }
  });
});
