import { describe, expect, it } from 'vitest';
import { type AddressPolicy, DEFAULT_ADDRESS_POLICY, parseCidr } from '../model/address-policy.js';
import type { Member } from '../model/member.js';
import { parseMemberName } from '../model/member-name.js';
import { HostResolver } from './host-resolver.js';
import { filterByAddress } from './member-filter.js';

function member(name: string): Member {
  const parsed = parseMemberName(name);
  if (!parsed.ok) throw new Error(name);
  return { name: parsed.name, host: parsed.host, port: parsed.port, key: `/c/${name}`, meta: {}, value: '' };
}

const resolver = new HostResolver({
  lookup: async (host) => {
    const table: Record<string, string[]> = { web1: ['10.0.0.1'], metadata: ['169.254.169.254'], dual: ['10.0.0.2', '192.168.0.2'] };
    const answer = table[host];
    if (!answer) throw Object.assign(new Error('no'), { code: 'ENOTFOUND' });
    return answer;
  },
});

describe('filterByAddress', () => {
  it('keeps allowed members in order and quarantines the others with the reason', async () => {
    const members = ['10.0.0.9:80', '169.254.169.254:80', 'web1:80', 'metadata:80', 'missing:80'].map(member);
    const { allowed, quarantined } = await filterByAddress(members, DEFAULT_ADDRESS_POLICY, resolver);
    expect(allowed.map((m) => m.name)).toEqual(['10.0.0.9:80', 'web1:80']);
    expect(quarantined.map((q) => [q.name, q.kind])).toEqual([
      ['169.254.169.254:80', 'address'],
      ['metadata:80', 'address'],
      ['missing:80', 'unresolved'],
    ]);
    expect(quarantined[1]!.reason).toMatch(/resolves to 169\.254\.169\.254/);
    expect(quarantined[2]!.reason).toBe('host name missing does not resolve (ENOTFOUND)');
  });

  it('checks every address a name resolves to against the allow list', async () => {
    const policy: AddressPolicy = { allow: [parseCidr('10.0.0.0/8')!], deny: [], hostnames: true };
    const { allowed, quarantined } = await filterByAddress(['web1:80', 'dual:80'].map(member), policy, resolver);
    expect(allowed.map((m) => m.name)).toEqual(['web1:80']);
    expect(quarantined[0]!.reason).toBe('host name dual resolves to 192.168.0.2: address not in the allowed networks');
  });

  it('quarantines every host name when host names are off, without resolving', async () => {
    let asked = 0;
    const counting = new HostResolver({ lookup: async () => (asked++, ['10.0.0.1']) });
    const { allowed, quarantined } = await filterByAddress(['web1:80', '10.0.0.1:80', '[fd00::1]:80'].map(member), { deny: [], hostnames: false }, counting);
    expect(allowed.map((m) => m.name)).toEqual(['10.0.0.1:80', '[fd00::1]:80']);
    expect(quarantined.map((q) => q.kind)).toEqual(['address']);
    expect(asked).toBe(0);
  });

  it('judges what changed since the last list allowed whole, whatever the walk finds (same answers as without it)', async () => {
    const verdicts = new WeakMap<Member, string | null>();
    const last: { allowed: readonly Member[] | undefined } = { allowed: undefined };
    const base = Array.from({ length: 10 }, (_, i) => member(`10.0.0.${i}:80`));
    const first = await filterByAddress(base, DEFAULT_ADDRESS_POLICY, undefined, verdicts, last);
    expect(first.allowed).toEqual(base);
    expect(last.allowed).toEqual(base);
    expect(last.allowed).not.toBe(base); // a copy: the caller's array may change

    // A denied member inserted, one removed, one replaced by a new object: each judged.
    const denied = member('169.254.169.254:80');
    const replaced = member('10.0.0.5:80');
    const next = [...base.slice(0, 3), denied, base[4]!, replaced, ...base.slice(6)];
    const second = await filterByAddress(next, DEFAULT_ADDRESS_POLICY, undefined, verdicts, last);
    const plain = await filterByAddress(next, DEFAULT_ADDRESS_POLICY, undefined);
    expect(second).toEqual(plain);
    expect(second.quarantined.map((q) => q.name)).toEqual(['169.254.169.254:80']);
    expect(last.allowed).toBeUndefined();

    // Several members gone at once and the order shuffled: the walk loses step, the answer does not change.
    const shuffled = [base[9]!, base[1]!, member('10.0.0.77:80'), base[0]!, member('10.0.0.78')];
    await filterByAddress(base, DEFAULT_ADDRESS_POLICY, undefined, verdicts, last);
    const third = await filterByAddress(shuffled, DEFAULT_ADDRESS_POLICY, undefined, verdicts, last);
    expect(third.allowed).toEqual(shuffled);
    const withDenied = [base[2]!, denied, base[3]!];
    expect(await filterByAddress(withDenied, DEFAULT_ADDRESS_POLICY, undefined, verdicts, last)).toEqual(await filterByAddress(withDenied, DEFAULT_ADDRESS_POLICY, undefined));
  });

  it('keeps denials (not allowances) across lists that are not allowed whole: same answers as without them', async () => {
    const verdicts = new WeakMap<Member, string | null>();
    const last: { allowed: readonly Member[] | undefined } = { allowed: undefined };
    const denied = member('169.254.169.254:80');
    const named = member('web1:80');
    const base = [...Array.from({ length: 20 }, (_, i) => member(`10.0.1.${i}:80`)), denied, named];
    const lists = [
      base,
      base.filter((_, i) => i < 3 || i > 7), // five in a row gone
      [member('10.0.0.200:80'), ...base.slice(10)], // one came, half gone
      [...base.slice(12), denied, member('169.254.0.9:80')],
      base,
    ];
    for (const list of lists) {
      const withState = await filterByAddress(list, DEFAULT_ADDRESS_POLICY, resolver, verdicts, last);
      expect(withState).toEqual(await filterByAddress(list, DEFAULT_ADDRESS_POLICY, resolver));
      expect(withState.quarantined.map((q) => q.name)).toContain('169.254.169.254:80');
    }
    expect(verdicts.has(base[0]!)).toBe(false); // an allowed member: no entry of its own
    expect(verdicts.get(denied)).toMatch(/169\.254/);
  });
});
