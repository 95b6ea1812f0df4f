import { describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd } from '#test-support/etcd-server.js';
import { useEtcdConnection } from '#test-support/etcd-fixture.js';
import type { EtcdConnection, WatchEvent } from './types.js';
import { connectEtcd } from './grpc-connection.js';
import { prefixRange } from './key-range.js';

describe.skipIf(!haveEtcd)('watch responses etcd splits into fragments', () => {
  let etcd: EtcdServer;
  let conn: EtcdConnection;
  useEtcdConnection(
    (endpoint) => connectEtcd({ endpoints: [endpoint], timeoutMs: 10_000 }),
    (started) => ({ etcd, conn } = started),
  );

  it('are asked for, and delivered as one batch once the last fragment arrived', async () => {
    // Count the raw responses that are fragments (etcd3 1.1.2 internals: the watch stream).
    let fragments = 0;
    const watchClient = (conn as unknown as { members: { client: { watchClient: { watch: (...a: unknown[]) => Promise<NodeJS.EventEmitter> } } }[] }).members[0]!.client.watchClient;
    const watch = watchClient.watch.bind(watchClient);
    watchClient.watch = async (...args: unknown[]) => {
      const stream = await watch(...args);
      stream.on('data', (res: { fragment?: boolean }) => void (res.fragment && fragments++));
      return stream;
    };

    const big = 'x'.repeat(1_000_000); // a catch-up of 5 of these is over etcd's 1.5 MiB request limit
    const before = await etcd.revision();
    for (let i = 0; i < 5; i++) await conn.put(`/frag/${i}`, big);
    const batches: WatchEvent[][] = [];
    let broken: Error | undefined;
    const handle = await conn.watch(prefixRange('/frag/'), before + 1n, {
      onEvents: (events) => batches.push(events),
      onProgress: () => {},
      onBroken: (err) => (broken = err),
    });
    const deadline = Date.now() + 10_000;
    while (batches.flat().length < 5 && !broken && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    handle.close();
    expect(broken).toBeUndefined();
    expect(fragments).toBeGreaterThan(0);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.map((e) => `${e.key}:${e.value.length}`)).toEqual([0, 1, 2, 3, 4].map((i) => `/frag/${i}:1000000`));
  });
});
