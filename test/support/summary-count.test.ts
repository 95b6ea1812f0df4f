import { describe, expect, it } from 'vitest';
import { type CountedTask, countResults } from './summary-count.js';

const test = (state?: string): CountedTask => ({ type: 'test', ...(state ? { result: { state } } : {}) });
const suite = (state: string | undefined, ...tasks: CountedTask[]): CountedTask => ({ type: 'suite', ...(state ? { result: { state } } : {}), tasks });

describe('countResults (the summary line)', () => {
  it('counts a failed test once, not again for its suite and file', () => {
    // The CI run that said "Tests 1 failed | 803 passed" while the line said 2 failed.
    const file = suite('fail', suite('fail', test('pass'), test('fail'), test('pass')), test('pass'));
    expect(countResults([file])).toEqual({ passed: 3, failed: 1, skipped: 0 });
  });

  it('counts failures in nested suites once each', () => {
    const file = suite('fail', suite('fail', suite('fail', test('fail')), test('fail')), suite('pass', test('pass')));
    expect(countResults([file])).toEqual({ passed: 1, failed: 2, skipped: 0 });
  });

  it('counts a suite whose beforeAll hook failed (its tests skipped) as one failure', () => {
    const file = suite('fail', suite('fail', test('skip'), test('skip')), suite('pass', test('pass')));
    expect(countResults([file])).toEqual({ passed: 1, failed: 1, skipped: 2 });
  });

  it('counts a file whose own hook failed, and a file that failed to load', () => {
    const hookFailed = suite('fail', test('skip'), suite('skip', test('skip')));
    const notLoaded = suite('fail');
    expect(countResults([hookFailed, notLoaded])).toEqual({ passed: 0, failed: 2, skipped: 2 });
  });

  it('counts an afterAll failure after passing tests, skipped and todo tests, and unhandled errors', () => {
    const file = suite('pass', suite('fail', test('pass')), test('skip'), test('todo'), test());
    expect(countResults([file], [new Error('unhandled'), 'rejection'])).toEqual({ passed: 1, failed: 3, skipped: 3 });
  });
});
