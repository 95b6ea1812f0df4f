import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { connectEtcd } from './grpc-connection.js';
import { prefixRange } from './key-range.js';
import type { EtcdConnection } from './types.js';

// Pins keepChannelsOnCallErrors (etcd3-patches.ts) to etcd3's internals: fails if they change.

describe.skipIf(!haveEtcd)('EtcdConnection: a failed call leaves the other streams alone', () => {
  let etcd: EtcdServer;
  let conn: EtcdConnection;
  beforeAll(async () => {
    etcd = await startEtcd();
    conn = await connectEtcd({ endpoints: [etcd.endpoint], timeoutMs: 300 });
  });
  afterAll(async () => {
    etcd?.signal('SIGCONT');
    conn?.close();
    await etcd?.dispose();
  });

  // etcd3 closes every gRPC channel to a host when one call fails "recoverably" (a missed
  // deadline, etcd's "too many requests"): with many watches on one connection, each slow call
  // dropped them all, and their re-reads were slow again (bench/, scale suite, 10k leases).
  it('keeps the watch channel open when a read misses its deadline', async () => {
    const handle = await conn.watch(prefixRange('/survive/'), (await etcd.revision()) + 1n, { onEvents: () => {}, onProgress: () => {}, onBroken: () => {} });
    const watchChannel = channelOf(conn, 'Watch');
    expect(watchChannel?.getConnectivityState(false)).not.toBe(SHUTDOWN);
    etcd.signal('SIGSTOP'); // a frozen etcd: the read times out after 300 ms
    await expect(conn.range(prefixRange('/survive/'))).rejects.toThrow(/deadline/i);
    etcd.signal('SIGCONT');
    expect(watchChannel?.getConnectivityState(false)).not.toBe(SHUTDOWN);
    expect(channelOf(conn, 'Watch')).toBe(watchChannel);
    handle.close();
  });
});

/** grpc-js's connectivity state SHUTDOWN: a closed channel. */
const SHUTDOWN = 4;

/** The gRPC channel etcd3 uses for `service` on the connection's endpoint (etcd3 1.1.2 internals). */
function channelOf(conn: EtcdConnection, service: string): { getConnectivityState(connect: boolean): number } | undefined {
  type Host = { cachedServices: Record<string, { getChannel(): { getConnectivityState(connect: boolean): number } } | undefined> };
  const members = (conn as unknown as { members: { client: { pool: { hosts: Host[] } } }[] }).members;
  return members[0]?.client.pool.hosts[0]?.cachedServices[service]?.getChannel();
}
