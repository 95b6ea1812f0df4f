import { describe, expect, it } from 'vitest';
import { classifyKey, parseMeta } from './key-model.js';

describe('classifyKey', () => {
  const p = '/clusters/redis';
  it('classifies keys relative to the prefix', () => {
    expect(classifyKey(p, '/clusters/redis/10.0.0.5:6379')).toEqual({ kind: 'member', name: '10.0.0.5:6379' });
    expect(classifyKey(p, '/clusters/redis/10.0.0.5%3A6379')).toEqual({ kind: 'member', name: '10.0.0.5%3A6379' });
    expect(classifyKey(p, '/clusters/redis/a/b')).toEqual({ kind: 'nested' });
    expect(classifyKey(p, '/clusters/redis/a/')).toEqual({ kind: 'nested' });
    expect(classifyKey(p, '/clusters/redis')).toEqual({ kind: 'self' });
    expect(classifyKey(p, '/clusters/redis2/x')).toEqual({ kind: 'outside' });
    expect(classifyKey(p, '/clusters/redis2')).toEqual({ kind: 'outside' });
    expect(classifyKey(p, '/clusters/redi')).toEqual({ kind: 'outside' });
    expect(classifyKey(p, '/clusters/web/10.0.0.5')).toEqual({ kind: 'outside' });
    expect(classifyKey(p, '')).toEqual({ kind: 'outside' });
  });

  it('gives the empty name for `prefix/` (rejected later by name validation)', () => {
    expect(classifyKey(p, '/clusters/redis/')).toEqual({ kind: 'member', name: '' });
  });
});

describe('parseMeta', () => {
  it('returns the fields of a JSON object', () => {
    expect(parseMeta('{"weight":3,"zone":"b"}')).toEqual({ weight: 3, zone: 'b' });
    expect(parseMeta('  {"a":{"b":[1]}} ')).toEqual({ a: { b: [1] } });
    expect(parseMeta('{}')).toEqual({});
  });

  it('ignores anything else', () => {
    for (const v of ['', 'up', '1', 'null', '[1,2]', '"x"', 'true', '{', '{"a":', '{a:1}', '{}x']) {
      expect(parseMeta(v), v).toEqual({});
    }
    expect(parseMeta(undefined as unknown as string)).toEqual({});
  });

  it('drops __proto__ keys at every depth', () => {
    const meta = parseMeta('{"__proto__":{"polluted":1},"a":{"__proto__":{"x":1},"y":2}}');
    expect(Object.keys(meta)).toEqual(['a']);
    expect(meta.a).toEqual({ y: 2 });
    const copy = { ...meta, ...(meta.a as object) };
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Escaped spelling of the same key.
    expect(Object.keys(parseMeta('{"\\u005f_proto__":{"x":1},"b":1}'))).toEqual(['b']);
    expect(Object.keys(parseMeta('{"\\u0061":1}'))).toEqual(['a']);
  });
});
