export type KeyClass = { kind: 'member'; name: string } | { kind: 'nested' } | { kind: 'outside' } | { kind: 'self' };

/**
 * Where `key` sits relative to the cluster `prefix` (e.g. `/clusters/redis`, no trailing slash).
 * A member's `name` is the raw last segment; validate it with `parseMemberName`.
 */
export function classifyKey(prefix: string, key: string): KeyClass {
  if (key === prefix) return { kind: 'self' };
  const dir = prefix + '/';
  if (!key.startsWith(dir)) return { kind: 'outside' };
  const name = key.slice(dir.length);
  return name.includes('/') ? { kind: 'nested' } : { kind: 'member', name };
}

/** The etcd key range `[start, end)` holding every key under `prefix + '/'`. */
export function memberRange(prefix: string): { start: string; end: string } {
  const start = prefix + '/';
  return { start, end: prefixRangeEnd(start) };
}

/**
 * etcd's "prefix end" for a UTF-8 key: the smallest key greater than every key starting with
 * `prefix`. etcd increments the last byte; on strings we increment the last code point instead,
 * which bounds the same set of valid UTF-8 keys (UTF-8 byte order is code point order) and
 * always yields a valid string. `''` (or nothing left to increment) gives `'\0'`: all keys.
 */
export function prefixRangeEnd(prefix: string): string {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1; // skip the surrogate range
      return points.join('') + String.fromCodePoint(next);
    }
  }
  return '\0';
}

/** Byte version of `prefixRangeEnd`, exactly etcd's `clientv3.GetPrefixRangeEnd`. */
export function prefixRangeEndBytes(prefix: Uint8Array): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const byte = prefix[i]!;
    if (byte < 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1));
      end[i] = byte + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

const dropProto = (key: string, value: unknown): unknown => (key === '__proto__' ? undefined : value);

/**
 * A member value's fields when it is a JSON object, else `{}`. Never throws.
 * `__proto__` keys are dropped at every depth so that later copying (spread, Object.assign)
 * of the result can't change an object's prototype.
 */
export function parseMeta(value: string): Record<string, unknown> {
  // Cheap pre-check: most values are plain strings (or empty), not worth a JSON.parse attempt.
  if (typeof value !== 'string' || !value.trimStart().startsWith('{')) return {};
  try {
    // A `__proto__` key is spelt out or \u-escaped; the reviver is slow, so use it only then.
    const risky = value.includes('__proto__') || value.includes('\\u');
    const parsed: unknown = risky ? JSON.parse(value, dropProto) : JSON.parse(value);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // not JSON: the value is opaque
  }
  return {};
}
