import { isIPv4, isIPv6 } from 'node:net';

/**
 * Which member addresses may reach a file (per cluster `members: { allow, deny, hostnames }`).
 * Pure: host names are checked here by kind only; what they resolve to is checked by the caller
 * with `addressVerdict` on each resolved address.
 */
export interface AddressPolicy {
  /** When set, an address must be inside one of these. */
  readonly allow?: readonly Cidr[] | undefined;
  /** Never allowed (besides the defaults below, which `allow` can override). */
  readonly deny: readonly Cidr[];
  /** Host-name members (not IP literals) on or off. */
  readonly hostnames: boolean;
  /**
   * Resolve host-name members before rendering (quarantining those that do not resolve, checking
   * what they resolve to). Unset: only when the cluster has a `check` (its consumer resolves names
   * when it loads the file, e.g. nginx -t) or an allow/deny list (which needs addresses).
   */
  readonly resolve?: boolean | undefined;
}

export interface Cidr {
  readonly text: string;
  readonly family: 4 | 6;
  readonly bits: bigint;
  readonly prefix: number;
}

/**
 * Never a backend unless explicitly allowed: addresses nothing can connect to (unspecified,
 * multicast, broadcast, reserved) and link-local ranges, which hold the cloud metadata service
 * (169.254.169.254), the classic target of a planted backend. Loopback stays allowed: sidecars
 * and single-host setups use it (deny it with `"deny": ["127.0.0.0/8", "::1/128"]`).
 */
export const DEFAULT_DENIED: readonly string[] = ['0.0.0.0/8', '169.254.0.0/16', '224.0.0.0/3', '::/128', 'fe80::/10', 'ff00::/8'];

export const DEFAULT_ADDRESS_POLICY: AddressPolicy = Object.freeze({ deny: [], hostnames: true });

/**
 * DEFAULT_DENIED's ranges of one family, parsed on first use of that family, not at load: the
 * first isIPv6 call compiles a large regular expression (~5 ms), which a command whose members
 * are all IPv4 addresses need never pay.
 */
const defaultDenied: { 4?: Cidr[]; 6?: Cidr[] } = {};
const defaultDeniedFor = (family: 4 | 6): Cidr[] => (defaultDenied[family] ??= DEFAULT_DENIED.filter((text) => text.includes(':') === (family === 6)).map((text) => parseCidr(text)!));

/** `10.0.0.0/8`, `fd00::/8`, or a bare address (a /32 or /128); undefined when it is none. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (family === undefined) return undefined;
  const width = family === 4 ? 32 : 128;
  let prefix = width;
  if (slash >= 0) {
    const digits = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(digits)) return undefined;
    prefix = Number(digits);
    if (prefix > width) return undefined;
  }
  const bits = addressBits(address, family);
  return { text, family, bits: mask(bits, prefix, width), prefix };
}

/** Why the IP address `host` may not reach a file, or undefined when it may. */
export function addressVerdict(policy: AddressPolicy, host: string): string | undefined {
  let family: 4 | 6 | undefined = isIPv4(host) ? 4 : isIPv6(host) ? 6 : undefined;
  if (family === undefined) return 'not an IP address';
  let bits = addressBits(host, family);
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is that IPv4 address.
  if (family === 6 && bits >> 32n === 0xffffn) {
    family = 4;
    bits &= 0xffffffffn;
  }
  const inside = (c: Cidr) => c.family === family && mask(bits, c.prefix, family === 4 ? 32 : 128) === c.bits;
  const denied = policy.deny.find(inside);
  if (denied) return `address denied by ${denied.text}`;
  if (policy.allow) {
    if (!policy.allow.some(inside)) return 'address not in the allowed networks';
    return undefined;
  }
  const reserved = defaultDeniedFor(family).find(inside);
  if (reserved) return `address in ${reserved.text} (unspecified, link-local, multicast or reserved; allow it explicitly to use it)`;
  return undefined;
}

function addressBits(address: string, family: 4 | 6): bigint {
  if (family === 4) return address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
  let text = address;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = addressBits(tail, 4);
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

function mask(bits: bigint, prefix: number, width: number): bigint {
  const keep = BigInt(width - prefix);
  return (bits >> keep) << keep;
}
