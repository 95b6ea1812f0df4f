import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { classifyKey, metaShapeProblem, parseMeta } from './key-model.js';

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

describe('parseMeta and metaShapeProblem on hostile input', () => {
  const deep = (n: number, open = '{"a":', close = '}') => open.repeat(n) + '1' + close.repeat(n);

  it('never throws or overflows, whatever the nesting', () => {
    for (const n of [6_000, 100_000]) {
      expect(parseMeta(deep(n))).toHaveProperty('a');
      expect(parseMeta(`{"__proto__":1,"x":${deep(n, '[', ']')}}`)).toHaveProperty('x');
      expect(parseMeta('{"\\u0061":' + deep(n) + '}')).toHaveProperty('a');
      expect(parseMeta('{'.repeat(n))).toEqual({});
      expect(metaShapeProblem(deep(n), 8, 256)).toEqual({ kind: 'depth', limit: 8 });
    }
  });

  it('finds depth and keys per object in one pass, ignoring strings', () => {
    expect(metaShapeProblem(deep(8), 8, 256)).toBeUndefined();
    expect(metaShapeProblem(deep(9), 8, 256)).toEqual({ kind: 'depth', limit: 8 });
    expect(metaShapeProblem('{"a":[[[[[[[1]]]]]]]}', 8, 256)).toBeUndefined();
    expect(metaShapeProblem('{"a":[[[[[[[[1]]]]]]]]}', 8, 256)).toEqual({ kind: 'depth', limit: 8 });
    expect(metaShapeProblem('{"{{{{{{{{{{[[[[":"}}}:::\\"{{{{{{{{{{{"}', 2, 1)).toBeUndefined();
    const many = (n: number) => '{' + Array.from({ length: n }, (_, i) => `"k${i}":{"x":1,"y":2}`).join(',') + '}';
    expect(metaShapeProblem(many(256), 8, 256)).toBeUndefined();
    expect(metaShapeProblem(many(300), 8, 256)).toEqual({ kind: 'keys', keys: 300, limit: 256 });
    expect(metaShapeProblem('{"a":{"b":1,"c":2,"d":3},"e":4}', 8, 2)).toEqual({ kind: 'keys', keys: 3, limit: 2 });
    expect(metaShapeProblem('[1,2,3,4]', 8, 2)).toBeUndefined(); // arrays have no keys
  });

  it('is linear: 150k keys or 64 KiB of brackets are scanned quickly', () => {
    const wide = '{' + Array.from({ length: 150_000 }, (_, i) => `"${i}":1`).join(',') + '}';
    const start = performance.now();
    for (let i = 0; i < 10; i++) {
      expect(metaShapeProblem(wide, 8, 1e9)).toBeUndefined();
      expect(metaShapeProblem('['.repeat(65_536), 1e9, 256)).toBeUndefined();
    }
    expect(performance.now() - start).toBeLessThan(5_000);
  });

  it('parseMeta never throws on arbitrary strings (property)', () => {
    const jsonish = fc.stringMatching(/^[{}[\]":,\\a-z0-9 _]*$/, { maxLength: 200 });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          jsonish,
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ v })),
        ),
        (text) => {
          const meta = parseMeta(text);
          expect(typeof meta).toBe('object');
          expect(Array.isArray(meta)).toBe(false);
          expect(Object.prototype.hasOwnProperty.call(meta, '__proto__')).toBe(false);
          metaShapeProblem(text, 3, 3);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('parseMeta agrees with JSON.parse on JSON objects (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const text = JSON.stringify(obj);
        fc.pre(!text.includes('__proto__'));
        expect(parseMeta(text)).toEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });
});
