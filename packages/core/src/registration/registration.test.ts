import { describe, expect, it } from 'vitest';
import type { EtcdConnection, KeyValue, RangeResult, WatchHandle } from '../etcd/types.js';
import type { KeyRange } from '../etcd/key-range.js';
import { silentLogger } from '../util/log.js';
import { Registration } from './registration.js';

/**
 * A one-key etcd whose leases expire `ttl` seconds after etcd granted or refreshed them, and
 * whose puts answer `putDelayMs` late (a busy etcd, or a process starved of CPU).
 */
function slowEtcd(putDelayMs: number) {
  let lease: { id: string; refreshedAt: number; ttl: number } | undefined;
  let key: KeyValue | undefined;
  let grants = 0;
  const alive = () => {
    if (lease && Date.now() >= lease.refreshedAt + lease.ttl * 1000) {
      lease = undefined;
      key = undefined;
    }
    return lease;
  };
  const etcd = {
    endpoints: ['fake'],
    async grantLease(ttl: number) {
      grants++;
      lease = { id: String(grants), refreshedAt: Date.now(), ttl };
      return lease.id;
    },
    async put(k: string, value: string, options: { lease?: string } = {}) {
      if (alive()?.id === options.lease) key = { key: k, value, modRevision: 1n, lease: options.lease ?? '0' };
      await new Promise((r) => setTimeout(r, putDelayMs));
      return 1n;
    },
    async putIfFree(k: string, value: string, id: string) {
      alive();
      if (key && key.lease !== id) return { ok: false, holder: { lease: key.lease, createRevision: 1n, modRevision: 1n } };
      return { ok: true, revision: await this.put(k, value, { lease: id }) };
    },
    async keepAlive(id: string) {
      const l = alive();
      if (!l || l.id !== id) return 0;
      l.refreshedAt = Date.now();
      return l.ttl;
    },
    async leaseTimeToLive(id: string) {
      const l = alive();
      return l && l.id === id ? l.ttl : -1;
    },
    async revokeLease() {
      lease = undefined;
      key = undefined;
    },
    async range(_range: KeyRange): Promise<RangeResult> {
      alive();
      return { kvs: key ? [key] : [], revision: 1n };
    },
    async delete() {
      return 0;
    },
    async watch(): Promise<WatchHandle> {
      return { requestProgress() {}, close() {} };
    },
    close() {},
  };
  return { etcd: etcd as unknown as EtcdConnection, grants: () => grants };
}

describe('Registration', () => {
  it('a lease that expired because the put answered late is an outage (register again), not a removal', async () => {
    // Granted at t0; the put answers at t0 + 1.5 s; the lease expires at t0 + 2 s, before the
    // first keepalive at t0 + 2.5 s. Counted from the answer, only 1 s passed: "revoked".
    // Counted from the request, 2.5 s > TTL: it simply expired.
    const fake = slowEtcd(1500);
    const registration = new Registration(fake.etcd, { key: '/c/10.0.0.1:80', value: '', ttl: 2, heartbeat: 1, logger: silentLogger, backoff: { initialMs: 10, maxMs: 10 } });
    await registration.register();
    const end = registration.run();
    const outcome = await Promise.race([end, new Promise((r) => setTimeout(() => r('still registered'), 4500))]);
    expect(outcome).toBe('still registered');
    expect(fake.grants()).toBeGreaterThanOrEqual(2); // registered again
    await registration.stop();
    expect(await end).toBe('stopped');
  }, 15_000);
});
