import { isIPv6 } from 'node:net';

export type HostKind = 'ipv4' | 'ipv6' | 'hostname';

export type ParsedMemberName = { ok: true; name: string; host: string; port: number | undefined; kind: HostKind } | { ok: false; reason: string };

// Everything a valid name can contain. Checked first, so no later step ever sees a byte that
// could break out of a config file line (newline, quote, `;`, `{`, `#`, space, ...).
const ALLOWED = /^[A-Za-z0-9.:[\]-]+$/;
const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const NUMERIC = /^[0-9]+$/;
const PORT = /^[1-9][0-9]*$/;

const reject = (reason: string): ParsedMemberName => ({ ok: false, reason });

/**
 * Validates a member name (the last segment of a member key) and returns its canonical form.
 * Never throws: the input is data from the network.
 */
export function parseMemberName(raw: string): ParsedMemberName {
  if (typeof raw !== 'string') return reject('not a string');
  let text = raw;
  if (text.includes('%')) {
    // The PHP version's demo wrote names percent-encoded (`10.0.0.5%3A8080`).
    try {
      text = decodeURIComponent(text);
    } catch {
      return reject('malformed percent-encoding');
    }
  }
  if (text === '') return reject('empty name');
  if (!ALLOWED.test(text)) return reject('contains a character not allowed in a host name');

  let hostPart: string;
  let portPart: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return reject('unterminated IPv6 bracket');
    hostPart = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return reject('unexpected text after IPv6 address');
      portPart = rest.slice(1);
    }
    if (!isIPv6(hostPart)) return reject('invalid IPv6 address');
  } else {
    if (text.includes('[') || text.includes(']')) return reject('misplaced bracket');
    const colon = text.indexOf(':');
    if (colon >= 0) {
      if (text.indexOf(':', colon + 1) >= 0) return reject('IPv6 address must be in brackets');
      hostPart = text.slice(0, colon);
      portPart = text.slice(colon + 1);
    } else {
      hostPart = text;
    }
  }

  let port: number | undefined;
  if (portPart !== undefined) {
    if (portPart === '') return reject('empty port');
    if (/^0+$/.test(portPart)) return reject('port out of range');
    if (!PORT.test(portPart)) return reject('invalid port');
    port = Number(portPart);
    if (port > 65535) return reject('port out of range');
  }

  let kind: HostKind;
  const host = hostPart.toLowerCase();
  if (text.startsWith('[')) {
    kind = 'ipv6';
  } else if (IPV4.test(host)) {
    kind = 'ipv4';
  } else {
    const why = hostNameProblem(host);
    if (why) return reject(why);
    kind = 'hostname';
  }
  const shown = kind === 'ipv6' ? `[${host}]` : host;
  return { ok: true, name: port === undefined ? shown : `${shown}:${port}`, host, port, kind };
}

function hostNameProblem(host: string): string | undefined {
  if (host === '') return 'empty host';
  if (host.length > 253) return 'host name too long';
  if (host.endsWith('.')) return 'trailing dot not allowed';
  const labels = host.split('.');
  for (const label of labels) {
    if (label === '') return 'empty host name label';
    if (label.length > 63) return 'host name label too long';
    if (!LABEL.test(label)) return 'host name label must not start or end with "-"';
  }
  // RFC 3696 2: the top-level label is never all-numeric, so `10.0.0.256` or `1.2.3` are
  // mistyped IPv4 addresses, not host names.
  if (NUMERIC.test(labels[labels.length - 1] ?? '')) {
    return labels.every((l) => NUMERIC.test(l)) ? 'invalid IPv4 address' : 'all-numeric top-level label';
  }
  return undefined;
}

/**
 * A string whose plain code-unit order is the member order: IPv4 (numerically by octets),
 * then IPv6 (numerically), then host names (alphabetically); then by port, no port first;
 * then by name, so that distinct names never tie.
 */
export function memberSortKey(parsed: { name: string; host: string; port: number | undefined; kind: HostKind }): string {
  let group: string;
  let host: string;
  switch (parsed.kind) {
    case 'ipv4':
      group = '0';
      host = parsed.host
        .split('.')
        .map((o) => o.padStart(3, '0'))
        .join('.');
      break;
    case 'ipv6':
      group = '1';
      host = expandIPv6(parsed.host);
      break;
    case 'hostname':
      group = '2';
      host = parsed.host;
      break;
  }
  // ' ' sorts below every host name character, so `a` < `a-b` < `a.b` holds.
  return `${group}${host} ${String(parsed.port ?? 0).padStart(5, '0')} ${parsed.name}`;
}

/**
 * Compares two member names in member order (see memberSortKey), e.g. to sort anything keyed by
 * a member name; names that do not parse come after every valid one, in code-unit order. Only
 * equal names compare equal.
 */
export function compareMemberNames(a: string, b: string): number {
  const key = (name: string) => {
    const parsed = parseMemberName(name);
    // The name as given breaks ties between spellings of one member (`web`, `WEB`).
    return parsed.ok ? `0${memberSortKey(parsed)} ${name}` : `1${name}`;
  };
  const ka = key(a);
  const kb = key(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** 32 hex digits for a valid IPv6 address (embedded IPv4 tail included). */
function expandIPv6(address: string): string {
  let text = address;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const o = tail.split('.').map(Number);
    const hex = (a = 0, b = 0) => ((a << 8) | b).toString(16);
    text = `${text.slice(0, lastColon + 1)}${hex(o[0], o[1])}:${hex(o[2], o[3])}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const fill = rest === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => g.padStart(4, '0')).join('');
}
