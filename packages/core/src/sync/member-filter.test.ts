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
});
