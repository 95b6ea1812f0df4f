import { describe, expect, it } from 'vitest';
import { compareMemberNames, memberSortKey, parseMemberName } from './member-name.js';

function ok(raw: string) {
  const r = parseMemberName(raw);
  if (!r.ok) throw new Error(`expected ${JSON.stringify(raw)} to be accepted, got: ${r.reason}`);
  return r;
}

function reason(raw: string): string {
  const r = parseMemberName(raw);
  if (r.ok) throw new Error(`expected ${JSON.stringify(raw)} to be rejected, got ${r.name}`);
  return r.reason;
}

describe('parseMemberName', () => {
  it('accepts IPv4 with and without port', () => {
    expect(ok('10.0.0.5')).toEqual({ ok: true, name: '10.0.0.5', host: '10.0.0.5', port: undefined, kind: 'ipv4' });
    expect(ok('10.0.0.5:6379')).toMatchObject({ name: '10.0.0.5:6379', host: '10.0.0.5', port: 6379 });
    for (const ip of ['0.0.0.0', '255.255.255.255', '1.2.3.4', '192.168.100.200', '10.0.0.99']) expect(ok(ip).kind).toBe('ipv4');
  });

  it('rejects malformed IPv4', () => {
    for (const ip of ['256.1.1.1', '10.0.0.256', '1.2.3', '1.2.3.4.5', '010.0.0.1', '10.0.0.05', '1..2.3', '1.2.3.4.', '999', '00.0.0.0']) {
      expect(parseMemberName(ip).ok, ip).toBe(false);
    }
    expect(reason('10.0.0.256')).toBe('invalid IPv4 address');
    expect(reason('1.2.3.4.')).toBe('trailing dot not allowed');
  });

  it('accepts bracketed IPv6, lowercased as written', () => {
    expect(ok('[fd00::5]')).toEqual({ ok: true, name: '[fd00::5]', host: 'fd00::5', port: undefined, kind: 'ipv6' });
    expect(ok('[FD00::5]:80')).toMatchObject({ name: '[fd00::5]:80', host: 'fd00::5', port: 80 });
    expect(ok('[::1]').host).toBe('::1');
    expect(ok('[::ffff:10.0.0.1]:443').name).toBe('[::ffff:10.0.0.1]:443');
    expect(ok('[2001:db8:0:0:0:0:0:1]').name).toBe('[2001:db8:0:0:0:0:0:1]');
  });

  it('rejects bad IPv6 forms', () => {
    expect(reason('fd00::5')).toBe('IPv6 address must be in brackets');
    expect(reason('fd00::5:80')).toBe('IPv6 address must be in brackets');
    expect(reason('[fd00::5')).toBe('unterminated IPv6 bracket');
    expect(reason('[fd00::g]')).toBe('invalid IPv6 address');
    expect(reason('[10.0.0.1]')).toBe('invalid IPv6 address');
    expect(reason('[]')).toBe('invalid IPv6 address');
    expect(reason('[fd00::5]80')).toBe('unexpected text after IPv6 address');
    expect(reason('[fd00::5]:')).toBe('empty port');
    expect(parseMemberName('[fe80::1%25eth0]').ok).toBe(false); // zone id
    expect(parseMemberName('[fe80::1%eth0]').ok).toBe(false);
    expect(reason('fd00]')).toBe('misplaced bracket');
    expect(parseMemberName('[fd00::5]:80]').ok).toBe(false);
  });

  it('accepts RFC 1123 host names, lowercased', () => {
    expect(ok('Redis-1.Example.COM:6379')).toEqual({
      ok: true,
      name: 'redis-1.example.com:6379',
      host: 'redis-1.example.com',
      port: 6379,
      kind: 'hostname',
    });
    expect(ok('db').name).toBe('db');
    expect(ok('3com.net').kind).toBe('hostname');
    expect(ok('1.2.3.4a').kind).toBe('hostname');
    expect(ok('a'.repeat(63) + '.b').host).toHaveLength(65);
    const longest = Array.from({ length: 4 }, () => 'a'.repeat(62)).join('.') + '.x'; // 253 chars
    expect(longest).toHaveLength(253);
    expect(ok(longest).host).toBe(longest);
  });

  it('rejects bad host names', () => {
    expect(reason('-web')).toMatch(/start or end/);
    expect(reason('web-')).toMatch(/start or end/);
    expect(reason('web.-x')).toMatch(/start or end/);
    expect(reason('a'.repeat(64))).toBe('host name label too long');
    expect(reason(Array.from({ length: 4 }, () => 'a'.repeat(62)).join('.') + '.xy')).toBe('host name too long');
    expect(reason('web.example.com.')).toBe('trailing dot not allowed');
    expect(reason('.web')).toBe('empty host name label');
    expect(reason('web..x')).toBe('empty host name label');
    expect(reason('under_score')).toBe('contains a character not allowed in a host name');
    expect(reason('')).toBe('empty name');
    expect(reason(':80')).toBe('empty host');
    expect(reason('.')).toBe('trailing dot not allowed');
    expect(reason('web.123')).toBe('all-numeric top-level label');
  });

  it('checks ports', () => {
    expect(ok('h:1').port).toBe(1);
    expect(ok('h:65535').port).toBe(65535);
    expect(reason('h:0')).toBe('port out of range');
    expect(reason('h:00')).toBe('port out of range');
    expect(reason('h:65536')).toBe('port out of range');
    expect(reason('h:99999999999999999999')).toBe('port out of range');
    expect(reason('h:080')).toBe('invalid port');
    expect(reason('h:8o')).toBe('invalid port');
    expect(reason('h:')).toBe('empty port');
    expect(parseMemberName('h:+80').ok).toBe(false);
    expect(parseMemberName('h:-80').ok).toBe(false);
    expect(parseMemberName('h: 80').ok).toBe(false);
    expect(parseMemberName('h:80:81').ok).toBe(false);
  });

  it('decodes percent-encoded names first', () => {
    expect(ok('10.0.0.5%3A8080')).toMatchObject({ name: '10.0.0.5:8080', port: 8080 });
    expect(ok('10.0.0.5%3a8080').name).toBe('10.0.0.5:8080');
    expect(ok('%5Bfd00%3A%3A5%5D%3A80').name).toBe('[fd00::5]:80');
    expect(reason('10.0.0.5%3')).toBe('malformed percent-encoding');
    expect(reason('10.0.0.5%ZZ')).toBe('malformed percent-encoding');
    expect(reason('%E0%A4%A')).toBe('malformed percent-encoding');
    expect(reason('%C0%AF')).toBe('malformed percent-encoding'); // overlong UTF-8
    // Decoding happens once: a double-encoded name keeps a `%` and is rejected.
    expect(parseMemberName('10.0.0.5%253A80').ok).toBe(false);
  });

  it('rejects anything that could inject into a config file', () => {
    const bad = [
      '10.0.0.5%0A',
      '10.0.0.5%0Aserver evil',
      '10.0.0.5%0D',
      '10.0.0.5%00',
      '10.0.0.5\n',
      '10.0.0.5 ',
      'a b',
      'a\tb',
      'a"b',
      "a'b",
      'a;b',
      'a{b',
      'a}b',
      'a#b',
      'a>b',
      'a<b',
      'a/b',
      'a%2Fb',
      'a\\b',
      'a$b',
      'a`b',
      'a,b',
      'a*b',
      'ünïcode',
      'xn--bcher-kva.example',
    ];
    for (const raw of bad.slice(0, -1)) {
      expect(reason(raw), JSON.stringify(raw)).toMatch(/not allowed|malformed/);
    }
    // Punycode is plain LDH and therefore fine.
    expect(ok('xn--bcher-kva.example').name).toBe('xn--bcher-kva.example');
  });

  it('never throws, and accepted names only contain safe characters', () => {
    // Deterministic pseudo-random strings biased towards interesting characters.
    let seed = 0x2545f491;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const alphabet = ['0', '1', '2', '5', '9', '.', ':', '[', ']', '-', 'a', 'F', 'z', '%', '3A', '0A', '%3A', '%0A', ' ', '\n', '"', ';', '/', '\u00e9', '\ud800', '::', '255', '65535'];
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      let s = '';
      const len = rand(12);
      for (let j = 0; j < len; j++) {
        s += rand(4) === 0 ? String.fromCharCode(rand(0x3000)) : alphabet[rand(alphabet.length)];
      }
      const r = parseMemberName(s);
      if (r.ok) {
        accepted++;
        expect(r.name, JSON.stringify(s)).toMatch(/^[A-Za-z0-9.:[\]-]+$/);
        expect(r.host, JSON.stringify(s)).toMatch(/^[a-z0-9.:-]+$/);
        // Canonical names are fixed points.
        const again = parseMemberName(r.name);
        expect(again.ok && again.name).toBe(r.name);
      } else {
        expect(typeof r.reason).toBe('string');
      }
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it('does not throw on non-string input', () => {
    expect(parseMemberName(undefined as unknown as string).ok).toBe(false);
  });
});

describe('memberSortKey', () => {
  const sorted = (names: string[]) =>
    names
      .map((n) => {
        const r = parseMemberName(n);
        if (!r.ok) throw new Error(n);
        return { n: r.name, k: memberSortKey(r) };
      })
      .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
      .map((e) => e.n);

  it('orders IPv4 numerically, then IPv6, then host names, then ports', () => {
    expect(sorted(['web', 'a-b', 'a.b', 'a', '[fd00::10]', '[::1]:80', '[fd00::9]', '10.0.0.10', '10.0.0.9:80', '10.0.0.9', '2.0.0.0', '10.0.0.9:443', 'a:8080', 'a:80'])).toEqual([
      '2.0.0.0',
      '10.0.0.9',
      '10.0.0.9:80',
      '10.0.0.9:443',
      '10.0.0.10',
      '[::1]:80',
      '[fd00::9]',
      '[fd00::10]',
      'a',
      'a:80',
      'a:8080',
      'a-b',
      'a.b',
      'web',
    ]);
  });

  it('orders IPv6 numerically, embedded IPv4 included', () => {
    expect(sorted(['[::ffff:10.0.0.2]', '[::ffff:a00:1]', '[1::]', '[::2]'])).toEqual(['[::2]', '[::ffff:a00:1]', '[::ffff:10.0.0.2]', '[1::]']);
  });
});

describe('compareMemberNames', () => {
  it('sorts names in member order, names that do not parse last', () => {
    const names = ['web', 'bad name', '[::1]:80', '10.0.0.10:80', '10.0.0.9:8080', '10.0.0.9:80', '!', '10.0.0.9'];
    expect([...names].sort(compareMemberNames)).toEqual(['10.0.0.9', '10.0.0.9:80', '10.0.0.9:8080', '10.0.0.10:80', '[::1]:80', 'web', '!', 'bad name']);
  });

  it('is 0 only for the same name', () => {
    expect(compareMemberNames('10.0.0.5:80', '10.0.0.5:80')).toBe(0);
    expect(compareMemberNames('x', 'x')).toBe(0);
    expect(compareMemberNames('web', 'WEB')).not.toBe(0);
  });
});
