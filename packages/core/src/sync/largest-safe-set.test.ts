import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { largestSafeSet, type TrialResult } from './largest-safe-set.js';

/** A trial that fails while any bad item is in the set, naming the first one. */
function trialWith(bad: Set<number>, calls: number[][] = []) {
  return async (items: number[]): Promise<TrialResult> => {
    calls.push(items);
    const culprit = items.find((i) => bad.has(i));
    return culprit === undefined ? { ok: true } : { ok: false, reason: `bad ${culprit}` };
  };
}

describe('largestSafeSet', () => {
  it('keeps the known members and every good suspect, rejects each bad one with its own reason', async () => {
    const order = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const result = await largestSafeSet([1, 2], [3, 4, 5, 6, 7, 8, 9, 10], trialWith(new Set([4, 9])), order, 'bad 4');
    expect(result?.accepted).toEqual([1, 2, 3, 5, 6, 7, 8, 10]);
    expect(result?.rejected).toEqual([
      { item: 4, reason: 'bad 4' },
      { item: 9, reason: 'bad 9' },
    ]);
  });

  it('hands every trial its items in the given order', async () => {
    const calls: number[][] = [];
    await largestSafeSet([5, 1], [9, 3, 7], trialWith(new Set([3]), calls), [1, 3, 5, 7, 9], 'bad 3');
    for (const call of calls) expect(call).toEqual([...call].sort((a, b) => a - b));
  });

  it('blames nobody when the known members fail on their own (a broken check)', async () => {
    const broken = async (): Promise<TrialResult> => ({ ok: false, reason: 'check binary missing' });
    expect(await largestSafeSet([1], [2, 3], broken, [1, 2, 3], 'check binary missing')).toBeUndefined();
  });

  it('blames nobody when nothing is known and every suspect fails alone', async () => {
    const broken = async (): Promise<TrialResult> => ({ ok: false, reason: 'no' });
    expect(await largestSafeSet([], [1, 2, 3], broken, [1, 2, 3], 'no')).toBeUndefined();
    expect(await largestSafeSet([], [1], broken, [1], 'no')).toBeUndefined();
  });

  it('rejects every new member when each fails alone and an empty set passes (a removal still installs)', async () => {
    const result = await largestSafeSet([], [2, 3], trialWith(new Set([2, 3])), [2, 3], 'bad 2');
    expect(result?.accepted).toEqual([]);
    expect(result?.rejected.map((r) => r.item)).toEqual([2, 3]);
  });

  it('rejects a lone new member when an empty set passes', async () => {
    const result = await largestSafeSet([], [1], trialWith(new Set([1])), [1], 'bad 1');
    expect(result).toEqual({ accepted: [], rejected: [{ item: 1, reason: 'bad 1' }], trials: 1 });
  });

  it('needs about 2k·log2(n) trials for k bad among n suspects', async () => {
    const suspects = Array.from({ length: 1024 }, (_, i) => i);
    const result = await largestSafeSet([], suspects, trialWith(new Set([17])), suspects, 'bad 17');
    expect(result?.rejected.map((r) => r.item)).toEqual([17]);
    expect(result!.trials).toBeLessThanOrEqual(2 * 10 + 1);
  });

  it('property: accepted is exactly the good items, rejected exactly the bad ones', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 60 }), fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }), async (items, flags) => {
        const known = items.filter((_, i) => i % 3 === 0);
        const suspects = items.filter((_, i) => i % 3 !== 0);
        const bad = new Set(suspects.filter((_, i) => flags[i]));
        if (bad.size === 0) return;
        const order = [...items].sort((a, b) => a - b);
        const result = await largestSafeSet(known, suspects, trialWith(bad), order, 'whole');
        if (known.length === 0 && bad.size === suspects.length) {
          // Nothing known and nothing passes: could be a broken check; nobody is blamed.
          expect(result?.accepted ?? []).toEqual([]);
          return;
        }
        expect(result).toBeDefined();
        expect(result!.accepted).toEqual(order.filter((i) => !bad.has(i)));
        expect(result!.rejected.map((r) => r.item).sort((a, b) => a - b)).toEqual([...bad].sort((a, b) => a - b));
      }),
      { numRuns: 300 },
    );
  });
});
