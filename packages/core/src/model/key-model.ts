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

/**
 * A member value's fields when it is a JSON object, else `{}`. Never throws, never recurses
 * (a value nested thousands deep is fine): `JSON.parse` is iterative in V8, and so is the walk
 * that drops `__proto__` keys.
 * `__proto__` keys are dropped at every depth so that later copying (spread, Object.assign)
 * of the result can't change an object's prototype.
 */
export function parseMeta(value: string): Record<string, unknown> {
  // Cheap pre-check: most values are plain strings (or empty), not worth a JSON.parse attempt.
  if (typeof value !== 'string' || !value.trimStart().startsWith('{')) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return {}; // not JSON: the value is opaque
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  // A `__proto__` key is spelt out or \u-escaped; only then is the walk worth it.
  if (value.includes('__proto__') || value.includes('\\u')) dropProtoKeys(parsed);
  return parsed as Record<string, unknown>;
}

/** Deletes own `__proto__` properties at every depth, with an explicit stack (linear, no recursion). */
function dropProtoKeys(root: object): void {
  const stack: object[] = [root];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (Object.prototype.hasOwnProperty.call(node, '__proto__')) delete (node as Record<string, unknown>)['__proto__'];
    for (const child of Object.values(node)) if (typeof child === 'object' && child !== null) stack.push(child as object);
  }
}

/** Why a value's JSON is over the meta caps (see `metaShapeProblem`). */
export type MetaShapeProblem = { kind: 'depth'; limit: number } | { kind: 'keys'; keys: number; limit: number };

/**
 * Whether the JSON text `value` nests deeper than `maxDepth` (objects and arrays; the outer
 * object is depth 1) or has an object with more than `maxKeys` keys. One pass over the text, no
 * recursion and no parsing: O(length) time and O(maxDepth) memory, whatever the input. The text
 * is not validated: a problem found in text that is not JSON means nothing (check with
 * `JSON.parse` before acting on it).
 */
export function metaShapeProblem(value: string, maxDepth: number, maxKeys: number): MetaShapeProblem | undefined {
  /** Keys seen so far in each open container (-1: an array). */
  const keys: number[] = [];
  let depth = 0;
  const n = value.length;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Skip the string, escapes included.
      for (i++; i < n; i++) {
        const d = value.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > maxDepth) return { kind: 'depth', limit: maxDepth };
      keys.push(c === 0x7b ? 0 : -1);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      if (depth === 0) return undefined; // not JSON
      depth--;
      keys.pop();
    } else if (c === 0x3a /* : */ && depth > 0) {
      const count = keys[depth - 1]!;
      if (count < 0) continue;
      if (count + 1 > maxKeys) return { kind: 'keys', keys: count + countKeys(value, i, depth), limit: maxKeys };
      keys[depth - 1] = count + 1;
    }
  }
  return undefined;
}

/** The keys, from the one whose `:` is at `from` on, of the object open at `depth`. */
function countKeys(value: string, from: number, depth: number): number {
  let count = 0;
  let level = depth;
  const n = value.length;
  for (let i = from; i < n && level >= depth; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < n; i++) {
        const d = value.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) level++;
    else if (c === 0x7d || c === 0x5d) level--;
    else if (c === 0x3a && level === depth) count++;
  }
  return count;
}
