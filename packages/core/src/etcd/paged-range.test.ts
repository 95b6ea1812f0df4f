import { describe, expect, it } from 'vitest';
import type { EtcdClient, KeyValue, RangeOptions, RangeResult } from './types.js';
import { prefixRange, type KeyRange } from './key-range.js';
import { isTooLarge, pagedRange } from './paged-range.js';

/** A stand-in for etcd's range with limits: sorted keys at one revision, `more`, and a byte limit per answer. */
function fakeEtcd(kvs: KeyValue[], maxBytes = Infinity) {
  const sorted = [...kvs].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  const calls: RangeOptions[] = [];
  const etcd: Pick<EtcdClient, 'range'> = {
    async range(range: KeyRange, options: RangeOptions = {}): Promise<RangeResult> {
      calls.push(options);
      const from = options.from === undefined ? Buffer.from(range.key) : Buffer.from(options.from);
      const inRange = sorted.filter((kv) => kv.key.startsWith(range.key) && Buffer.compare(Buffer.from(kv.key), from) >= 0);
      const page = options.limit ? inRange.slice(0, options.limit) : inRange;
      const bytes = page.reduce((n, kv) => n + kv.value.length, 0);
      if (bytes > maxBytes) throw new Error(`8 RESOURCE_EXHAUSTED: Received message larger than max (${bytes} vs ${maxBytes})`);
      const last = page.at(-1);
      return { kvs: page, revision: 99n, more: page.length < inRange.length, lastKey: last ? Buffer.from(last.key) : undefined };
    },
  };
  return { etcd, calls };
}

const kv = (key: string, value = ''): KeyValue => ({ key, value, modRevision: 1n, lease: '0' });

describe('pagedRange', () => {
  it('reads every key once, in order, at the first page revision', async () => {
    const all = Array.from({ length: 1000 }, (_, i) => kv(`/p/${String(i).padStart(4, '0')}`, 'v'));
    const { etcd, calls } = fakeEtcd([...all, kv('/q/outside')]);
    const got: string[] = [];
    const res = await pagedRange(etcd, prefixRange('/p/'), { onPage: (kvs) => void got.push(...kvs.map((x) => x.key)) });
    expect(got).toEqual(all.map((x) => x.key));
    expect(res).toEqual({ revision: 99n, headerRevision: 99n, keys: 1000, pages: res.pages });
    expect(calls[0]).toEqual({ limit: 64 });
    // Later pages: at the first page's revision, from just after the last key, growing at most twofold.
    expect(calls[1]).toEqual({ limit: 256, revision: 99n, from: Buffer.from('/p/0063\0') });
    expect(calls.map((c) => c.limit)).toEqual([64, 256, 1024]);
  });

  it('keeps the given revision, and pages stay near the byte aim', async () => {
    const all = Array.from({ length: 300 }, (_, i) => kv(`/p/${String(i).padStart(3, '0')}`, 'x'.repeat(1000)));
    const { etcd, calls } = fakeEtcd(all);
    const res = await pagedRange(etcd, prefixRange('/p/'), { revision: 5n, pageBytes: 20_000, onPage: () => {} });
    expect(res.revision).toBe(5n);
    expect(res.headerRevision).toBe(99n);
    expect(calls.every((c) => c.revision === 5n)).toBe(true);
    expect(calls.slice(1).every((c) => c.limit === 19)).toBe(true);
  });

  it('halves a page that is too large, down to one key', async () => {
    const all = [kv('/p/a', 'x'.repeat(10)), ...Array.from({ length: 40 }, (_, i) => kv(`/p/b${String(i).padStart(2, '0')}`, 'x'.repeat(1000)))];
    const { etcd, calls } = fakeEtcd(all, 2500);
    const got: KeyValue[] = [];
    await pagedRange(etcd, prefixRange('/p/'), { onPage: (kvs) => void got.push(...kvs) });
    expect(got.map((x) => x.key)).toEqual(all.map((x) => x.key));
    expect(calls.slice(0, 6).map((c) => c.limit)).toEqual([64, 32, 16, 8, 4, 2]);
    expect(Math.max(...calls.slice(6).map((c) => c.limit!))).toBeLessThanOrEqual(2);
  });

  it('one page when the client ignores limits', async () => {
    const etcd = { range: async () => ({ kvs: [kv('/p/a'), kv('/p/b')], revision: 3n }) };
    const pages: number[] = [];
    expect(await pagedRange(etcd, prefixRange('/p/'), { onPage: (kvs) => void pages.push(kvs.length) })).toMatchObject({ revision: 3n, pages: 1, keys: 2 });
    expect(pages).toEqual([2]);
  });

  it('recognises size errors', () => {
    expect(isTooLarge(new Error('8 RESOURCE_EXHAUSTED: Received message larger than max (300 vs 200)'))).toBe(true);
    expect(isTooLarge(new Error('14 UNAVAILABLE: No connection established'))).toBe(false);
  });
});
