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
