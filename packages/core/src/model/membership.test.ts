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

describe('Membership limits (quarantine)', () => {
  const limits = { valueBytes: 100, metaDepth: 3, metaKeys: 4, spellings: 3, clusterBytes: 1_000 };
  const q = (m: Membership) => m.quarantined().map((x) => `${x.key.slice(P.length + 1)}: ${x.reason}`);

  it('quarantines values over a cap, with one-line reasons, in member order', () => {
    const m = new Membership(P, limits);
    const d = m.reset([
      kv('10.0.0.3', 'x'.repeat(101)),
      kv('10.0.0.1', '{"a":{"b":{"c":{}}}}'),
      kv('10.0.0.2', '{"a":1,"b":2,"c":3,"d":4,"e":5}'),
      kv('10.0.0.4', '{"a":{"b":{}}}'),
      kv('10.0.0.5', '{{{{{{ not json'),
      kv('bad name', 'x'.repeat(500)),
      kv('a/b', 'x'.repeat(500)),
    ]);
    expect(names(m)).toEqual(['10.0.0.4', '10.0.0.5']);
    expect(q(m)).toEqual([
      '10.0.0.1: meta nested deeper than 3 (limits.metaDepth)',
      '10.0.0.2: meta object with 5 keys, over 4 (limits.metaKeys)',
      '10.0.0.3: value is 101 bytes, over the limit of 100 (limits.valueBytes)',
    ]);
    expect(d.quarantined.map((x) => x.name)).toEqual(['10.0.0.3', '10.0.0.1', '10.0.0.2']);
    expect(d.quarantined[0]).toEqual({ name: '10.0.0.3', key: `${P}/10.0.0.3`, reason: 'value is 101 bytes, over the limit of 100 (limits.valueBytes)' });
    expect(d.rejected).toHaveLength(1);
    expect(d.nested).toEqual([`${P}/a/b`]);
  });

  it('counts bytes, not characters', () => {
    const m = new Membership(P, limits);
    m.reset([kv('a', 'é'.repeat(50)), kv('b', 'é'.repeat(51))]);
    expect(names(m)).toEqual(['a']);
    expect(q(m)).toEqual(['b: value is 102 bytes, over the limit of 100 (limits.valueBytes)']);
  });

  it('keeps no value for a quarantined key', () => {
    const m = new Membership(P, limits);
    const big = 'y'.repeat(10_000);
    m.reset([kv('a', big)]);
    expect(JSON.stringify(m.quarantined())).not.toContain('yyyy');
    expect(JSON.stringify((m as unknown as { held: Map<string, unknown> }).held.get(`${P}/a`))).not.toContain('yyyy');
  });

  it('a quarantined key is judged again when it changes, and forgotten when deleted', () => {
    const m = new Membership(P, limits);
    m.reset([kv('a', 'ok'), kv('b', 'ok')]);
    expect(m.takeChanged()).toBe(true);
    let d = m.apply([put('a', 'x'.repeat(200))]);
    expect(names(m)).toEqual(['b']);
    expect(d.quarantined.map((x) => x.key)).toEqual([`${P}/a`]);
    expect(m.takeChanged()).toBe(true); // a member left
    d = m.apply([put('a', 'x'.repeat(300))]); // still over the same cap: not new
    expect(d.quarantined).toEqual([]);
    expect(q(m)).toEqual(['a: value is 300 bytes, over the limit of 100 (limits.valueBytes)']);
    expect(m.takeChanged()).toBe(false);
    d = m.apply([put('a', '{"a":{"b":{"c":{"d":1}}}}')]); // another cap: reported again
    expect(d.quarantined.map((x) => x.reason)).toEqual(['meta nested deeper than 3 (limits.metaDepth)']);
    m.apply([put('a', '{"weight":2}')]); // fixed
    expect(names(m)).toEqual(['a', 'b']);
    expect(m.members()[0]!.meta).toEqual({ weight: 2 });
    expect(m.quarantined()).toEqual([]);
    expect(m.takeChanged()).toBe(true);
    m.apply([put('c', 'x'.repeat(200))]);
    expect(m.takeChanged()).toBe(false); // quarantined from the start: the members did not change
    m.apply([del('c')]);
    expect(m.quarantined()).toEqual([]);
    expect(m.takeChanged()).toBe(false);
    // A re-read with the same data changes and reports nothing.
    m.apply([put('c', 'x'.repeat(200))]);
    const same = [kv('a', '{"weight":2}'), kv('b', 'ok'), kv('c', 'x'.repeat(200))];
    d = m.reset(same);
    expect(d.quarantined).toEqual([]);
    expect(m.takeChanged()).toBe(false);
    expect(q(m)).toHaveLength(1);
    // A re-read without the key forgets it.
    m.reset(same.slice(0, 2));
    expect(m.quarantined()).toEqual([]);
  });

  it('spends the cluster budget in read order, and frees it on deletes', () => {
    const m = new Membership(P, { ...limits, clusterBytes: 250 });
    m.reset([kv('a', 'x'.repeat(100)), kv('b', 'x'.repeat(100)), kv('c', 'x'.repeat(100)), kv('d', 'x'.repeat(50))]);
    expect(names(m)).toEqual(['a', 'b', 'd']);
    expect(q(m)).toEqual(['c: cluster value budget of 250 bytes used up (limits.clusterBytes)']);
    m.apply([put('e', 'x')]);
    expect(q(m)).toHaveLength(2);
    m.apply([del('a'), put('c', 'y'.repeat(100))]); // changed after space was freed: admitted
    expect(names(m)).toEqual(['b', 'c', 'd']);
    m.apply([put('b', 'short')]);
    m.apply([put('e', 'x'.repeat(90))]);
    expect(names(m)).toEqual(['b', 'c', 'd', 'e']);
    // Nested and rejected keys cost nothing.
    m.apply([put('x/y', 'x'.repeat(100)), put('no pe', 'x'.repeat(100))]);
    expect(m.quarantined()).toEqual([]);
    // A re-read judges the budget afresh, in key order.
    m.reset([kv('a', 'x'.repeat(100)), kv('b', 'x'.repeat(100)), kv('c', 'x'.repeat(100))]);
    expect(names(m)).toEqual(['a', 'b']);
    expect(q(m)).toEqual(['c: cluster value budget of 250 bytes used up (limits.clusterBytes)']);
  });

  it('quarantines a name spelt by too many keys, whatever the order, until enough are gone', () => {
    const spell = ['WEB', 'WEb', 'WeB', 'Web', 'wEB'];
    const m = new Membership(P, limits); // spellings: 3
    m.apply([put('web', 'other'), put(spell[0]!, '0'), put(spell[1]!, '1')]);
    expect(names(m)).toEqual(['web']);
    m.takeChanged();
    const d = m.apply([put(spell[2]!, '2')]);
    expect(names(m)).toEqual([]);
    expect(d.quarantined).toEqual([{ name: 'web', key: `${P}/web`, reason: 'spelt by more than 3 keys (limits.spellings)' }]);
    expect(m.takeChanged()).toBe(true);
    m.apply([put(spell[3]!, '3'), put(spell[4]!, '4'), put('WEB', 'changed')]);
    expect(m.quarantined()).toHaveLength(1);
    m.apply([del('web'), del('wEB')]);
    expect(names(m)).toEqual([]);
    m.apply([del('WEB')]); // three left: the highest of them is the member again
    expect(m.members()).toEqual([expect.objectContaining({ key: `${P}/Web`, value: '3' })]);
    expect(m.quarantined()).toEqual([]);
    expect(m.takeChanged()).toBe(true);

    // Same keys, any order: same result.
    const keys = ['web', ...spell];
    for (let round = 0; round < 20; round++) {
      const shuffled = [...keys].sort(() => Math.random() - 0.5);
      const n = new Membership(P, limits);
      n.apply(shuffled.map((k) => put(k, k)));
      expect(n.members()).toEqual([]);
      n.apply(shuffled.filter((k) => k !== 'Web' && k !== 'WEB' && k !== 'web').map(del));
      expect(n.members()).toEqual([expect.objectContaining({ key: `${P}/web`, value: 'web' })]);
    }
  });

  it('a paged reset changes nothing until it ends, and nothing if abandoned', () => {
    const m = new Membership(P, limits);
    m.reset([kv('a', '1'), kv('b', '2'), kv('q', 'x'.repeat(200))]);
    m.takeChanged();
    const before = m.members();
    const r = m.beginReset();
    r.add([kv('a', 'changed'), kv('c', '3')]);
    r.add([kv('d', 'x'.repeat(200))]);
    expect(m.members()).toEqual(before);
    expect(m.quarantined().map((x) => x.name)).toEqual(['q']);
    expect(m.takeChanged()).toBe(false);
    // Abandoned: a later reset starts from the state before it.
    const r2 = m.beginReset();
    r2.add([kv('a', '1')]);
    r2.add([kv('b', '2'), kv('e', '5')]);
    const d = r2.end();
    expect(names(m)).toEqual(['a', 'b', 'e']);
    expect(m.quarantined()).toEqual([]);
    expect(d.quarantined).toEqual([]);
    expect(m.takeChanged()).toBe(true);
    expect(() => r2.end()).toThrow();
    // The abandoned one was never applied.
    expect(m.members().find((x) => x.name === 'c')).toBeUndefined();
  });

  it('100k spellings of one name: put then deleted in linear time', { timeout: 60_000 }, () => {
    // 17 letters: 2^17 case variants of one host name.
    const base = 'abcdefghijklmnopq';
    const variant = (i: number) => [...base].map((c, j) => ((i >> j) & 1 ? c.toUpperCase() : c)).join('');
    const m = new Membership(P); // default: 16 spellings
    const n = 100_000;
    const time = (f: () => void) => {
      const t = performance.now();
      f();
      return performance.now() - t;
    };
    const putAll = time(() => {
      for (let i = 0; i < n; i++) m.apply([put(variant(i), String(i))]);
    });
    expect(m.size).toBe(0);
    expect(m.quarantined()).toEqual([{ name: base, key: `${P}/${base}`, reason: 'spelt by more than 16 keys (limits.spellings)' }]);
    // Deleted one at a time, each its own watch response, checking the result as a watcher would.
    let half = 0;
    const deleteAll = time(() => {
      for (let i = 0; i < n; i++) {
        m.apply([del(variant(i))]);
        if (i === n / 2) half = m.quarantined().length;
        if (i % 1000 === 0) {
          m.members();
          m.takeChanged();
        }
        if (n - i - 1 === 16) {
          // Back within the cap: the highest of the 16 keys left is the member.
          const highest = Array.from({ length: 16 }, (_, j) => variant(n - 1 - j))
            .sort()
            .at(-1);
          expect(m.members()).toEqual([expect.objectContaining({ key: `${P}/${highest}` })]);
        }
      }
    });
    expect(half).toBe(1);
    expect(m.size).toBe(0);
    expect(m.quarantined()).toEqual([]);
    // Quadratic (the old arrays) took ~6 s for the deletes alone; linear takes well under a second.
    expect(putAll).toBeLessThan(5_000);
    expect(deleteAll).toBeLessThan(5_000);
  });

  it('a value nested 6,000 deep (or any shape) never throws', () => {
    const m = new Membership(P, { ...limits, valueBytes: 1e6, clusterBytes: 1e9 });
    const deep = '{"a":'.repeat(6_000) + '1' + '}'.repeat(6_000);
    const d = m.reset([kv('a', deep), kv('b', '['.repeat(6_000)), kv('c', '{"x":' + '['.repeat(6_000) + ']'.repeat(6_000) + '}')]);
    expect(names(m)).toEqual(['b']);
    expect(d.quarantined.map((x) => x.name)).toEqual(['a', 'c']);
    // With the default limits, the same value is only too deep.
    const n = new Membership(P);
    n.apply([put('a', deep)]);
    expect(n.quarantined()[0]!.reason).toBe('meta nested deeper than 8 (limits.metaDepth)');
  });

  it('random puts and deletes with limits agree with a fresh read of the same keys', () => {
    let seed = 11;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pool = ['a', 'A', 'b:1', 'B:1', 'b%3A1', '10.0.0.1', '10.0.0.2:80', '10.0.0.2%3A80', 'z.example', 'Z.example', 'z.EXAMPLE', 'Z.Example'];
    const values = ['', 'x', 'x'.repeat(101), '{"a":{"b":{"c":{}}}}', '{"w":1}', '{"a":1,"b":2,"c":3,"d":4,"e":5}'];
    const lim = { ...limits, clusterBytes: 1e9 };
    const m = new Membership(P, lim);
    const model = new Map<string, string>();
    for (let round = 0; round < 400; round++) {
      const batch: MembershipEvent[] = [];
      for (let i = rand(4); i >= 0; i--) {
        const name = pool[rand(pool.length)]!;
        batch.push(rand(3) === 0 ? del(name) : put(name, values[rand(values.length)]));
      }
      m.apply(batch);
      for (const e of batch) {
        if (e.type === 'put') model.set(e.key, e.value);
        else model.delete(e.key);
      }
      const fresh = new Membership(P, lim);
      fresh.reset([...model].map(([key, value]) => ({ key, value })));
      expect(m.members()).toEqual(fresh.members());
      expect(m.quarantined()).toEqual(fresh.quarantined());
    }
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
