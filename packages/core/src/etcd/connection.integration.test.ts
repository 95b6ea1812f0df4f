import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '../../../../test/support/etcd-server.js';
import { type EtcdConnection, connectEtcd } from './connection.js';
import { prefixRange } from './key-range.js';

describe.skipIf(!haveEtcd)('EtcdConnection.newestModRevision against a real etcd', () => {
  let etcd: EtcdServer;
  let conn: EtcdConnection;
  beforeAll(async () => {
    etcd = await startEtcd();
    conn = await connectEtcd({ endpoints: [etcd.endpoint] });
  });
  afterAll(async () => {
    conn?.close();
    await etcd?.dispose();
  });

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
