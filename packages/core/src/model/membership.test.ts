import { describe, expect, it } from 'vitest';
import { LogOnce } from './log-once.js';
import { Membership, type MembershipEvent } from './membership.js';

const P = '/clusters/web';
const kv = (name: string, value = '') => ({ key: `${P}/${name}`, value });
const put = (name: string, value = ''): MembershipEvent => ({ type: 'put', ...kv(name, value) });
const del = (name: string): MembershipEvent => ({ type: 'delete', key: `${P}/${name}`, value: '' });
const names = (m: Membership) => m.members().map((x) => x.name);

describe('Membership', () => {
  it('starts empty and unchanged', () => {
    const m = new Membership(P);
    expect(m.members()).toEqual([]);
    expect(m.size).toBe(0);
    expect(m.takeChanged()).toBe(false);
  });

  it('reset builds sorted members with meta and reports bad keys', () => {
    const m = new Membership(P);
    const d = m.reset([
      kv('web-b'),
      kv('10.0.0.10:80', '{"weight":3}'),
      kv('10.0.0.9:80', 'up'),
      kv('[fd00::5]:80'),
      kv('bad name'),
      kv('a/b'),
      kv('10.0.0.256'),
      { key: '/clusters/web2/10.0.0.1', value: '' },
      { key: P, value: '' },
    ]);
    expect(names(m)).toEqual(['10.0.0.9:80', '10.0.0.10:80', '[fd00::5]:80', 'web-b']);
    expect(m.size).toBe(4);
    expect(d.rejected).toEqual([
      { key: `${P}/bad name`, reason: 'contains a character not allowed in a host name' },
      { key: `${P}/10.0.0.256`, reason: 'invalid IPv4 address' },
    ]);
    expect(d.nested).toEqual([`${P}/a/b`]);
    const first = m.members()[1]!;
    expect(first).toEqual({ name: '10.0.0.10:80', host: '10.0.0.10', port: 80, key: `${P}/10.0.0.10:80`, meta: { weight: 3 }, value: '{"weight":3}' });
    expect(m.members()[0]!.meta).toEqual({});
    expect(m.takeChanged()).toBe(true);
    expect(m.takeChanged()).toBe(false);
  });

  it('reset replaces everything', () => {
    const m = new Membership(P);
    m.reset([kv('a'), kv('b')]);
    m.reset([kv('c')]);
    expect(names(m)).toEqual(['c']);
    m.reset([]);
    expect(names(m)).toEqual([]);
    expect(m.size).toBe(0);
  });

  it('apply handles puts and deletes in order', () => {
    const m = new Membership(P);
    m.reset([kv('10.0.0.2')]);
    m.takeChanged();
    const d = m.apply([put('10.0.0.1'), put('10.0.0.3'), del('10.0.0.2'), put('x/y'), put('no;pe'), del('10.0.0.99'), del('x/y')]);
    expect(names(m)).toEqual(['10.0.0.1', '10.0.0.3']);
    expect(d.nested).toEqual([`${P}/x/y`]);
    expect(d.rejected.map((r) => r.key)).toEqual([`${P}/no;pe`]);
    expect(m.takeChanged()).toBe(true);

    m.apply([put('10.0.0.4'), del('10.0.0.4')]);
    expect(m.takeChanged()).toBe(false);
    expect(names(m)).toEqual(['10.0.0.1', '10.0.0.3']);
  });

  it('takeChanged sees value changes but not no-op puts or re-reads', () => {
    const m = new Membership(P);
    m.reset([kv('a', '1'), kv('b', '2')]);
    expect(m.takeChanged()).toBe(true);
    m.apply([put('a', '1')]);
    expect(m.takeChanged()).toBe(false);
    m.reset([kv('b', '2'), kv('a', '1')]);
    expect(m.takeChanged()).toBe(false);
    m.apply([put('a', '{"weight":2}')]);
    expect(m.takeChanged()).toBe(true);
    expect(m.members()[0]!.meta).toEqual({ weight: 2 });
    m.apply([put('bad!'), put('c/d')]);
    expect(m.takeChanged()).toBe(false);
  });

  it('merges keys that decode to the same name; the highest key wins', () => {
    const m = new Membership(P);
    m.reset([kv('10.0.0.5%3A80', 'encoded'), kv('10.0.0.5:80', 'plain'), kv('10.0.0.6')]);
    expect(m.size).toBe(2);
    expect(m.members()[0]).toMatchObject({ name: '10.0.0.5:80', key: `${P}/10.0.0.5:80`, value: 'plain' });

    // Same result whatever the arrival order.
    const n = new Membership(P);
    n.apply([put('10.0.0.5:80', 'plain'), put('10.0.0.5%3A80', 'encoded')]);
    expect(n.members()[0]).toMatchObject({ key: `${P}/10.0.0.5:80`, value: 'plain' });
    n.takeChanged();

    // A change to the losing key changes nothing.
    n.apply([put('10.0.0.5%3A80', 'encoded 2')]);
    expect(n.takeChanged()).toBe(false);

    // When the winner goes, the other spelling takes over.
    n.apply([del('10.0.0.5:80')]);
    expect(n.members()).toHaveLength(1);
    expect(n.members()[0]).toMatchObject({ name: '10.0.0.5:80', key: `${P}/10.0.0.5%3A80`, value: 'encoded 2' });
    expect(n.takeChanged()).toBe(true);

    n.apply([del('10.0.0.5%3A80')]);
    expect(n.members()).toEqual([]);
    expect(n.size).toBe(0);

    // Case differences in host names merge too.
    const c = new Membership(P);
    c.reset([kv('Web'), kv('web')]);
    expect(c.members()).toHaveLength(1);
    expect(c.members()[0]!.key).toBe(`${P}/web`);
  });

  it('with many spellings of one name, the highest key wins whatever is added, changed or deleted', () => {
    // Code-unit order of these keys: 'WEB' < 'Web' < 'wEb' < 'web'.
    const m = new Membership(P);
    const winner = () => {
      const list = m.members();
      expect(list.length).toBeLessThanOrEqual(1);
      return list[0] ? `${list[0].key.slice(P.length + 1)}=${list[0].value}` : 'none';
    };
    m.apply([put('Web', '1'), put('WEB', '2')]);
    expect(winner()).toBe('Web=1');
    expect(m.takeChanged()).toBe(true);
    m.apply([put('web', '3'), put('wEb', '4')]);
    expect(winner()).toBe('web=3');
    expect(m.takeChanged()).toBe(true);
    m.apply([put('wEb', '5'), put('WEB', '6')]); // losers change: nothing visible
    expect(m.takeChanged()).toBe(false);
    m.apply([del('web')]); // the next highest takes over, with its latest value
    expect(winner()).toBe('wEb=5');
    expect(m.takeChanged()).toBe(true);
    m.apply([del('Web'), del('wEb')]);
    expect(winner()).toBe('WEB=6');
    m.apply([put('web', '7'), del('WEB')]);
    expect(winner()).toBe('web=7');
    expect(m.size).toBe(1);
    m.apply([del('web')]);
    expect(winner()).toBe('none');
    expect(m.size).toBe(0);
    // Nothing left behind: the same keys again behave as new.
    m.reset([kv('WEB', 'a'), kv('wEb', 'b')]);
    expect(winner()).toBe('wEb=b');
  });

  it('keeps the sort order across incremental changes', () => {
    const m = new Membership(P);
    m.reset([kv('10.0.0.5'), kv('b'), kv('[::1]')]);
    m.apply([put('a'), put('10.0.0.1'), put('b', 'changed'), put('10.0.0.5:1'), put('[::1]:2')]);
    expect(names(m)).toEqual(['10.0.0.1', '10.0.0.5', '10.0.0.5:1', '[::1]', '[::1]:2', 'a', 'b']);
    m.apply([put('10.0.0.5', 'changed'), del('a'), put('0.0.0.1')]);
    expect(names(m)).toEqual(['0.0.0.1', '10.0.0.1', '10.0.0.5', '10.0.0.5:1', '[::1]', '[::1]:2', 'b']);
  });

  it('returns copies, so callers cannot corrupt the state', () => {
    const m = new Membership(P);
    m.reset([kv('a'), kv('b')]);
    const list = m.members();
    list.pop();
    expect(names(m)).toEqual(['a', 'b']);
  });

  it('re-adding a displaced duplicate does not list it twice', () => {
    const m = new Membership(P);
    m.reset([kv('h%3A1', 'x')]);
    m.members();
    m.apply([put('h:1', 'y')]); // displaces the encoded key
    m.apply([del('h:1')]); // encoded key wins again, before any rebuild
    expect(m.members()).toEqual([expect.objectContaining({ key: `${P}/h%3A1`, value: 'x' })]);
    m.apply([put('h:1', 'y')]);
    m.members();
    m.apply([del('h:1')]);
    expect(m.members()).toEqual([expect.objectContaining({ key: `${P}/h%3A1`, value: 'x' })]);
  });

  it('agrees with a full sort after many random changes', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pool = ['a', 'b:1', 'b:2', '10.0.0.1', '10.0.0.2:80', '10.0.0.2%3A80', '9.9.9.9', '[::1]', '[fd00::1]:5', 'z.example', 'B:1'];
    const m = new Membership(P);
    const model = new Map<string, string>();
    for (let round = 0; round < 300; round++) {
      // Mostly small batches (incremental patching), sometimes big ones (full re-sort).
      const batch: MembershipEvent[] = [];
      const n = rand(10) === 0 ? 400 : rand(4);
      for (let i = 0; i < n; i++) {
        const name = rand(3) === 0 ? `h${rand(500)}` : pool[rand(pool.length)]!;
        batch.push(rand(3) === 0 ? del(name) : put(name, String(rand(3))));
      }
      m.apply(batch);
      for (const e of batch) {
        if (e.type === 'put') model.set(e.key, e.value);
        else model.delete(e.key);
      }
      if (rand(2) === 0) {
        const fresh = new Membership(P);
        fresh.reset([...model].map(([key, value]) => ({ key, value })));
        expect(m.members()).toEqual(fresh.members());
        expect(m.size).toBe(fresh.size);
      }
    }
  });

  it('takeChanged stays correct when not called for a long time', () => {
    const m = new Membership(P);
    for (let i = 0; i < 1000; i++) m.apply([put(`h${i}`), del(`h${i}`)]);
    expect(m.takeChanged()).toBe(true); // conservative after overflow
    expect(m.takeChanged()).toBe(false);
    m.apply([put('a'), del('a')]);
    expect(m.takeChanged()).toBe(false);
  });

  it('stays correct at 100k members (speed is measured by pnpm bench, not here)', { timeout: 30_000 }, () => {
    const m = new Membership(P);
    const kvs = [];
    for (let i = 0; i < 100_000; i++) kvs.push(kv(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:${1000 + (i % 7)}`, `{"i":${i}}`));
    kvs.reverse();
    m.reset(kvs);
    expect(m.members()).toHaveLength(100_000);
    expect(m.members()[0]!.name).toBe('10.0.0.0:1000');
    m.takeChanged();
    for (let i = 0; i < 100; i++) {
      m.apply([put(`host-${i}.example`), del(`10.0.0.${i}:${1000 + (i % 7)}`)]);
      m.members();
      m.takeChanged();
    }
    expect(m.size).toBe(100_000);
    expect(m.members().at(-1)!.name).toBe('host-99.example');
    // A re-read with the same data changes nothing and is cheap.
    const same = m.members().map((x) => ({ key: x.key, value: x.value }));
    m.reset(same.reverse());
    expect(m.takeChanged()).toBe(false);
  });
});

describe('LogOnce', () => {
  it('is true once per key until forgotten', () => {
    const once = new LogOnce();
    expect(once.first('a')).toBe(true);
    expect(once.first('a')).toBe(false);
    expect(once.first('b')).toBe(true);
    once.forget('a');
    expect(once.first('a')).toBe(true);
  });

  it('is bounded', () => {
    const once = new LogOnce(2);
    once.first('a');
    once.first('b');
    once.first('c'); // evicts a
    expect(once.first('b')).toBe(false);
    expect(once.first('a')).toBe(true);
  });
});
