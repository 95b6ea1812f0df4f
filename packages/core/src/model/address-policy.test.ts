import { describe, expect, it } from 'vitest';
import { type AddressPolicy, DEFAULT_ADDRESS_POLICY, addressVerdict, parseCidr } from './address-policy.js';

const policy = (p: { allow?: string[]; deny?: string[]; hostnames?: boolean }): AddressPolicy => ({
  ...(p.allow ? { allow: p.allow.map((c) => parseCidr(c)!) } : {}),
  deny: (p.deny ?? []).map((c) => parseCidr(c)!),
  hostnames: p.hostnames ?? true,
});

describe('parseCidr', () => {
  it('reads networks and bare addresses of both families', () => {
    expect(parseCidr('10.0.0.0/8')).toMatchObject({ family: 4, prefix: 8 });
    expect(parseCidr('10.1.2.3')).toMatchObject({ family: 4, prefix: 32 });
    expect(parseCidr('fd00::/8')).toMatchObject({ family: 6, prefix: 8 });
    expect(parseCidr('::1')).toMatchObject({ family: 6, prefix: 128 });
  });

  it('refuses what is not a network', () => {
    for (const text of ['10.0.0.0/33', '10.0.0/8', 'fd00::/129', 'example.com/8', '10.0.0.0/', '10.0.0.0/8/8', '']) expect(parseCidr(text), text).toBeUndefined();
  });

  it('masks host bits, so 10.1.2.3/8 is 10.0.0.0/8', () => {
    expect(parseCidr('10.1.2.3/8')!.bits).toBe(parseCidr('10.0.0.0/8')!.bits);
  });
});

describe('addressVerdict', () => {
  it('allows ordinary and loopback addresses by default', () => {
    for (const host of ['10.0.0.5', '192.168.1.1', '127.0.0.1', '::1', 'fd00::5', '2001:db8::1']) expect(addressVerdict(DEFAULT_ADDRESS_POLICY, host), host).toBeUndefined();
  });

  it('denies unspecified, link-local (metadata service), multicast and reserved addresses by default', () => {
    for (const host of ['0.0.0.0', '169.254.169.254', '224.0.0.1', '255.255.255.255', '::', 'fe80::1', 'ff02::1', '::ffff:169.254.169.254']) {
      expect(addressVerdict(DEFAULT_ADDRESS_POLICY, host), host).toMatch(/allow it explicitly/);
    }
  });

  it('an allow list admits only its networks, and overrides the defaults', () => {
    const p = policy({ allow: ['10.0.0.0/8', '169.254.0.0/16'] });
    expect(addressVerdict(p, '10.9.9.9')).toBeUndefined();
    expect(addressVerdict(p, '169.254.1.1')).toBeUndefined();
    expect(addressVerdict(p, '192.168.0.1')).toBe('address not in the allowed networks');
    expect(addressVerdict(p, 'fd00::1')).toBe('address not in the allowed networks');
  });

  it('deny wins over allow', () => {
    const p = policy({ allow: ['10.0.0.0/8'], deny: ['10.0.0.0/24'] });
    expect(addressVerdict(p, '10.0.0.7')).toBe('address denied by 10.0.0.0/24');
    expect(addressVerdict(p, '10.0.1.7')).toBeUndefined();
  });

  it('matches IPv6 networks, and IPv4-mapped addresses as IPv4', () => {
    const p = policy({ deny: ['fd00::/8', '127.0.0.0/8'] });
    expect(addressVerdict(p, 'fd12:3456::1')).toBe('address denied by fd00::/8');
    expect(addressVerdict(p, 'fe00::1')).toBeUndefined();
    expect(addressVerdict(p, '::ffff:127.0.0.1')).toBe('address denied by 127.0.0.0/8');
  });
});
