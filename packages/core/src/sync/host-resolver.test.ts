import { describe, expect, it } from 'vitest';
import { HostResolver } from './host-resolver.js';

describe('HostResolver', () => {
  it('caches answers and failures for their TTLs', async () => {
    let now = 0;
    const asked: string[] = [];
    const resolver = new HostResolver({
      ttlMs: 1000,
      negativeTtlMs: 100,
      now: () => now,
      lookup: async (host) => {
        asked.push(host);
        if (host === 'bad.invalid') throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
        return ['10.0.0.1'];
      },
    });
    expect(await resolver.resolve('web')).toEqual({ ok: true, addresses: ['10.0.0.1'] });
    expect(await resolver.resolve('bad.invalid')).toEqual({ ok: false, reason: 'host name bad.invalid does not resolve (ENOTFOUND)' });
    now = 50;
    await resolver.resolve('web');
    await resolver.resolve('bad.invalid');
    expect(asked).toEqual(['web', 'bad.invalid']);
    now = 200; // the failure expired, the answer did not
    await resolver.resolve('web');
    await resolver.resolve('bad.invalid');
    expect(asked).toEqual(['web', 'bad.invalid', 'bad.invalid']);
  });

  it('bounds a lookup that does not answer', async () => {
    const resolver = new HostResolver({ timeoutMs: 50, lookup: () => new Promise(() => {}) });
    const started = Date.now();
    expect(await resolver.resolve('slow')).toEqual({ ok: false, reason: 'host name slow did not resolve within 50 ms' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('asks once for concurrent requests of one name', async () => {
    let calls = 0;
    const resolver = new HostResolver({ lookup: async () => (calls++, ['10.0.0.2']) });
    await Promise.all([resolver.resolve('a'), resolver.resolve('a'), resolver.resolve('a')]);
    expect(calls).toBe(1);
  });

  it('forgets the oldest names past maxEntries', async () => {
    let calls = 0;
    const resolver = new HostResolver({ maxEntries: 2, lookup: async () => (calls++, ['10.0.0.3']) });
    for (const host of ['a', 'b', 'c', 'a']) await resolver.resolve(host);
    expect(calls).toBe(4);
  });

  it('resolves localhost through the system resolver, and .invalid never', async () => {
    const resolver = new HostResolver();
    const local = await resolver.resolve('localhost');
    expect(local.ok).toBe(true);
    expect((await resolver.resolve('nonexistent-host.invalid')).ok).toBe(false);
  });
});
