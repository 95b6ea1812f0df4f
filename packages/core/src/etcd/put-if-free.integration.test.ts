import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import type { EtcdClient, EtcdConnection } from './types.js';
import { connectEtcd } from './grpc-connection.js';
import { connectEtcdGateway } from './gateway-connection.js';
import { singleKey } from './key-range.js';

// putIfFree (README: Owning a key: the own key is put only if absent or already on our lease), over
// gRPC and over the JSON gateway, against a real etcd: the same answers from both.
describe.skipIf(!haveEtcd)('putIfFree against a real etcd', () => {
  let etcd: EtcdServer;
  let grpc: EtcdConnection;
  let gw: EtcdClient;
  beforeAll(async () => {
    etcd = await startEtcd();
    grpc = await connectEtcd({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
    gw = connectEtcdGateway({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  });
  afterAll(async () => {
    grpc?.close();
    gw?.close();
    await etcd?.dispose();
  });

  const clients = () =>
    [
      ['gRPC', grpc],
      ['gateway', gw],
    ] as const;

  for (const name of ['gRPC', 'gateway'] as const) {
    describe(name, () => {
      const client = () => clients().find(([n]) => n === name)![1];
      const read = async (key: string) => (await grpc.range(singleKey(key))).kvs[0];

      it('puts an absent key, and again on the same lease; refuses a key on another lease and names it', async () => {
        const c = client();
        const key = `/pif/${name}/10.0.0.1:80`;
        const mine = await c.grantLease(30);
        const first = await c.putIfFree(key, 'a', mine);
        expect(first.ok).toBe(true);
        const created = first.ok ? first.revision : 0n;
        expect(created).toBe(await etcd.revision());
        expect(await read(key)).toMatchObject({ value: 'a', lease: mine });

        // Our own lease: put again (a re-registration after an ambiguous failure).
        const again = await c.putIfFree(key, 'b', mine);
        expect(again).toEqual({ ok: true, revision: await etcd.revision() });
        expect(await read(key)).toMatchObject({ value: 'b', lease: mine });

        // Another live lease: left alone, holder returned.
        const theirs = await c.grantLease(30);
        const refused = await c.putIfFree(key, 'c', theirs);
        expect(refused).toEqual({ ok: false, holder: { lease: mine, createRevision: created, modRevision: again.ok ? again.revision : -1n } });
        expect(await read(key)).toMatchObject({ value: 'b', lease: mine });

        // Once the holder is gone, the key is free.
        await c.revokeLease(mine);
        expect((await c.putIfFree(key, 'c', theirs)).ok).toBe(true);
        expect(await read(key)).toMatchObject({ value: 'c', lease: theirs });
        await c.revokeLease(theirs);
      });

      it('refuses a key put without a lease (holder lease "0")', async () => {
        const c = client();
        const key = `/pif/${name}/static`;
        const revision = await grpc.put(key, 'by hand');
        const lease = await c.grantLease(30);
        expect(await c.putIfFree(key, 'x', lease)).toEqual({ ok: false, holder: { lease: '0', createRevision: revision, modRevision: revision } });
        expect(await read(key)).toMatchObject({ value: 'by hand', lease: '0' });
        await c.revokeLease(lease);
      });

      it('a lease that no longer exists is an error, and nothing is put', async () => {
        const c = client();
        const key = `/pif/${name}/dead-lease`;
        const lease = await c.grantLease(30);
        await c.revokeLease(lease);
        await expect(c.putIfFree(key, 'x', lease)).rejects.toThrow(/lease not found/);
        expect(await read(key)).toBeUndefined();
      });

      it("sees the other client's leases: one lease id space", async () => {
        const other = name === 'gRPC' ? gw : grpc;
        const key = `/pif/${name}/cross`;
        const lease = await other.grantLease(30);
        expect((await other.putIfFree(key, '1', lease)).ok).toBe(true);
        expect((await client().putIfFree(key, '2', lease)).ok).toBe(true);
        const stranger = await client().grantLease(30);
        const refused = await client().putIfFree(key, '3', stranger);
        expect(refused.ok ? undefined : refused.holder.lease).toBe(lease);
        await other.revokeLease(lease);
        await other.revokeLease(stranger);
      });
    });
  }
});
