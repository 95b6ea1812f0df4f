import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { connectEtcdGateway } from '../etcd/gateway-connection.js';
import type { EtcdClient } from '../etcd/types.js';
import { silentLogger } from '../util/log.js';
import { registerKey } from './registration.js';

// registerKey waiting for a key another lease holds (README: Owning a key), against a real etcd.
describe.skipIf(!haveEtcd)('registerKey waiting for a held key', () => {
  let etcd: EtcdServer;
  let client: EtcdClient;
  beforeAll(async () => {
    etcd = await startEtcd();
    client = connectEtcdGateway({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  });
  afterAll(async () => {
    client?.close();
    await etcd?.dispose();
  });

  it('polls many times without piling up abort listeners, then registers once the holder lets go', async () => {
    const key = '/rk/web/10.0.0.1:80';
    const holder = await client.grantLease(30);
    expect((await client.putIfFree(key, 'first', holder)).ok).toBe(true);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const registering = registerKey(client, { key, value: 'second', ttl: 30, logger: silentLogger, pollMs: 5 });
      // Well past Node's limit of ten listeners per signal, had each poll left one behind.
      for (let polls = 0; polls < 40; polls++) await new Promise((r) => setTimeout(r, 5));
      await client.revokeLease(holder);
      const { lease } = await registering;
      expect(lease).not.toBe(holder);
      await new Promise((r) => setImmediate(r));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
