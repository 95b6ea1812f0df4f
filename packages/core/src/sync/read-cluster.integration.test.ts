import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import type { EtcdClient, EtcdConnection, KeyValue } from '../etcd/types.js';
import { connectEtcd } from '../etcd/grpc-connection.js';
import { connectEtcdGateway } from '../etcd/gateway-connection.js';
import { prefixRange } from '../etcd/key-range.js';
import { pagedRange } from '../etcd/paged-range.js';
import { readCluster } from './prepare.js';

const run = promisify(execFile);
const coreDist = (entry: string) => fileURLToPath(new URL(`../../dist/${entry}/index.js`, import.meta.url));

describe.skipIf(!haveEtcd)('paged reads against a real etcd', () => {
  let etcd: EtcdServer;
  let grpc: EtcdConnection;
  let gateway: EtcdClient;
  beforeAll(async () => {
    etcd = await startEtcd();
    grpc = await connectEtcd({ endpoints: [etcd.endpoint], timeoutMs: 20_000 });
    gateway = connectEtcdGateway({ endpoints: [etcd.endpoint], timeoutMs: 20_000 });
  });
  afterAll(async () => {
    grpc?.close();
    gateway?.close();
    await etcd?.dispose();
  });

  for (const which of ['grpc', 'gateway'] as const) {
    it(`${which}: limit and more, then every page at the first page's revision`, async () => {
      const client = which === 'grpc' ? grpc : gateway;
      const prefix = `/paged-${which}/`;
      for (let i = 0; i < 10; i++) await grpc.put(`${prefix}k${i}`, `v${i}`);
      const first = await client.range(prefixRange(prefix), { limit: 3 });
      expect(first.kvs.map((kv) => kv.key)).toEqual([`${prefix}k0`, `${prefix}k1`, `${prefix}k2`]);
      expect(first.more).toBe(true);
      expect(first.lastKey).toEqual(Buffer.from(`${prefix}k2`));
      const all = await client.range(prefixRange(prefix), { limit: 10 });
      expect(all.more).toBe(false);

      // Keys put, changed and deleted between pages are not seen: the read is one snapshot.
      const before = await etcd.revision();
      const seen: KeyValue[] = [];
      let pages = 0;
      const res = await pagedRange(client, prefixRange(prefix), {
        firstLimit: 2,
        minLimit: 1,
        maxLimit: 2,
        onPage: async (kvs) => {
          seen.push(...kvs);
          pages++;
          await grpc.put(`${prefix}k${pages}a`, 'new'); // lands right after the page's keys
          await grpc.put(`${prefix}k9`, 'changed');
          await grpc.delete(`${prefix}k8`);
        },
      });
      expect(seen.map((kv) => `${kv.key.slice(prefix.length)}=${kv.value}`)).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}=v${i}`));
      expect(pages).toBe(5);
      expect(res.revision).toBe(before);
      expect(res.headerRevision).toBe(before);
      expect((await client.range(prefixRange(prefix))).kvs.length).toBeGreaterThan(10);
    });
  }

  it('a key that is not valid UTF-8 does not derail paging', async () => {
    const prefix = '/paged-bytes/';
    // Keys written as raw bytes: 0xff sorts above everything, 0xc3 0x28 is malformed UTF-8.
    await grpc.put(`${prefix}a`, '1');
    await grpc.put(`${prefix}\u00c3(`, '2'); // valid UTF-8: c3 83 28
    const client = (grpc as unknown as { members: { client: { kv: { put(req: object): Promise<unknown> } } }[] }).members[0]!.client;
    await client.kv.put({ key: Buffer.concat([Buffer.from(prefix), Buffer.from([0xc3, 0x28])]), value: Buffer.from('3') }); // malformed UTF-8
    await client.kv.put({ key: Buffer.concat([Buffer.from(prefix), Buffer.from([0xff, 0x01])]), value: Buffer.from('4') });
    await grpc.put(`${prefix}z`, '5');
    for (const c of [grpc, gateway]) {
      const values: string[] = [];
      await pagedRange(c, prefixRange(prefix), { firstLimit: 1, minLimit: 1, maxLimit: 1, onPage: (kvs) => void values.push(...kvs.map((kv) => kv.value)) });
      // etcd's byte order: a (61), z (7a), c3 28, c3 83 28, ff 01. Each key once, none skipped.
      expect(values).toEqual(['1', '5', '3', '2', '4']);
    }
  });
});

describe.skipIf(!haveEtcd)('readCluster with 200 values of 1.4 MB (280 MB under one prefix)', () => {
  let etcd: EtcdServer;
  let grpc: EtcdConnection;
  const path = '/clusters/hostile';
  const big = 'x'.repeat(1_400_000);
  beforeAll(async () => {
    etcd = await startEtcd({ extraArgs: ['--quota-backend-bytes', String(4 * 2 ** 30)] });
    grpc = await connectEtcd({ endpoints: [etcd.endpoint], timeoutMs: 30_000 });
    for (let i = 0; i < 20; i++) await grpc.put(`${path}/10.0.0.${i + 1}:80`, `{"weight":${i}}`);
    // Between and after the normal members in key order: 10.0.1.x sorts after 10.0.0.x, big-* after both.
    const keys = Array.from({ length: 200 }, (_, i) => (i < 100 ? `${path}/10.0.1.${i}:80` : `${path}/big-${i}.example:80`));
    for (let i = 0; i < keys.length; i += 4) await Promise.all(keys.slice(i, i + 4).map((key) => grpc.put(key, big)));
    await grpc.put(`${path}/zz.example`, 'last');
  }, 120_000);
  afterAll(async () => {
    grpc?.close();
    await etcd?.dispose();
  });

  it('through gRPC and through the gateway: the normal members, and 200 quarantined', { timeout: 60_000 }, async () => {
    const gateway = connectEtcdGateway({ endpoints: [etcd.endpoint], timeoutMs: 30_000 });
    try {
      for (const client of [grpc, gateway]) {
        const read = await readCluster(client, path);
        expect(read.members.map((m) => m.name)).toEqual([...Array.from({ length: 20 }, (_, i) => `10.0.0.${i + 1}:80`), 'zz.example']);
        expect(read.members[3]!.meta).toEqual({ weight: 3 });
        expect(read.quarantined).toHaveLength(200);
        expect(read.quarantined[0]).toEqual({
          name: '10.0.1.0:80',
          key: `${path}/10.0.1.0:80`,
          kind: 'limits',
          reason: 'value is 1400000 bytes, over the limit of 65536 (limits.valueBytes)',
        });
        expect(read.diagnostics.quarantined).toHaveLength(200);
        expect(read.revision).toBe(await etcd.revision());
      }
    } finally {
      gateway.close();
    }
  });

  it('peak RSS of a process reading it (figures printed)', { timeout: 60_000 }, async () => {
    // The built package, in a fresh process, so that VmHWM is this read's alone.
    const script = `
      import { readFileSync } from 'node:fs';
      const core = { ...(await import(${JSON.stringify(coreDist('etcd'))})), ...(await import(${JSON.stringify(coreDist('sync'))})) };
      const [which, endpoint] = process.argv.slice(1);
      const client = which === 'grpc' ? await core.connectEtcd({ endpoints: [endpoint], timeoutMs: 30000 }) : core.connectEtcdGateway({ endpoints: [endpoint], timeoutMs: 30000 });
      const t = Date.now();
      const read = await core.readCluster(client, ${JSON.stringify(path)});
      const ms = Date.now() - t;
      client.close();
      const hwm = Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      console.log(JSON.stringify({ members: read.members.length, quarantined: read.quarantined.length, ms, hwm }));
    `;
    const results: Record<string, { members: number; quarantined: number; ms: number; hwm: number }> = {};
    for (const which of ['grpc', 'gateway']) {
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, which, etcd.endpoint], { maxBuffer: 1 << 20 });
      results[which] = JSON.parse(stdout.trim().split('\n').at(-1)!);
    }
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
    console.log(
      `readCluster of 280 MB (200 x 1.4 MB + 21 members): ${Object.entries(results)
        .map(([k, r]) => `${k}: peak RSS ${mb(r.hwm)}, ${r.ms} ms`)
        .join('; ')}`,
    );
    for (const r of Object.values(results)) {
      expect(r).toMatchObject({ members: 21, quarantined: 200 });
      // One page of at most 64 huge values at a time, never the whole 280 MB (was 1.5 GB through the gateway).
      expect(r.hwm).toBeLessThan(600 * 2 ** 20);
    }
  });
});
