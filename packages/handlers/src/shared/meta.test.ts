import type { RenderContext } from '@cluster-control/core';
import { describe, expect, it } from 'vitest';
import { member } from '#test-support/handler-fixtures.js';
import { metaInteger, nestsDeeperThan, refuseMeta, withMetaReports } from './meta.js';

describe('meta reports', () => {
  const collect = () => {
    const lines: string[] = [];
    const context: RenderContext = { cluster: 'web', path: '/clusters/web', report: (p) => lines.push(p) };
    return { lines, context };
  };
  const a = member('10.0.0.5:80', '10.0.0.5', 80, { weight: 'x', b: 'y', c: 'z', d: 'w' });
  const b = member('10.0.0.6:80', '10.0.0.6', 80, { weight: 'x' });

  it('outside withMetaReports, each refusal is reported at once', () => {
    const { lines, context } = collect();
    metaInteger(a, 'weight', { min: 1, max: 2 }, context);
    refuseMeta(a, 'b', 'why', context);
    expect(lines).toEqual(['member 10.0.0.5:80: meta.weight ignored (expected an integer from 1 to 2)', 'member 10.0.0.5:80: meta.b ignored (why)']);
  });

  it('inside, one line per member when the render ends, even if it throws', () => {
    const { lines, context } = collect();
    expect(() =>
      withMetaReports(context, (inner) => {
        for (const key of ['weight', 'b', 'c', 'd']) refuseMeta(a, key, `bad ${key}`, inner);
        refuseMeta(b, 'weight', 'bad', inner);
        // Nested use (a handler calling another's helper) adds to the same summary.
        withMetaReports(inner, (again) => refuseMeta(b, 'x y', 'bad key', again));
        expect(lines).toEqual([]);
        throw new Error('render failed');
      }),
    ).toThrow('render failed');
    expect(lines).toEqual([
      'member 10.0.0.5:80: 4 meta fields ignored: meta.weight (bad weight), meta.b (bad b), meta.c (bad c), and 1 more',
      'member 10.0.0.6:80: 2 meta fields ignored: meta.weight (bad), meta."x y" (bad key)',
    ]);
  });

  it('nestsDeeperThan counts levels without recursion', () => {
    let deep: unknown = 0;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(nestsDeeperThan(deep, 64)).toBe(true);
    expect(nestsDeeperThan(1, 0)).toBe(false);
    expect(nestsDeeperThan({}, 0)).toBe(true);
    expect(nestsDeeperThan({ a: [{}] }, 3)).toBe(false);
    expect(nestsDeeperThan({ a: [{ b: [] }] }, 3)).toBe(true);
  });
});
