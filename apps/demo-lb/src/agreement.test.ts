import { describe, expect, it } from 'vitest';
import { type Observation, compareLists, compareNames, computeAgreement, majorityList } from './agreement.js';

const ok = (name: string, ...databases: string[]): Observation => ({ name, databases });
const down = (name: string, error = 'timeout'): Observation => ({ name, databases: undefined, error });

describe('majorityList', () => {
  it('is undefined without lists', () => {
    expect(majorityList([])).toBeUndefined();
  });

  it('picks the most common list', () => {
    expect(majorityList([['a'], ['a', 'b'], ['a', 'b']])).toEqual(['a', 'b']);
    expect(majorityList([['a'], ['a'], ['a', 'b']])).toEqual(['a']);
  });

  it('breaks ties by the longest list', () => {
    expect(majorityList([['a'], ['a', 'b']])).toEqual(['a', 'b']);
    expect(majorityList([['a', 'b'], ['a']])).toEqual(['a', 'b']);
    expect(majorityList([[], ['x']])).toEqual(['x']);
  });

  it('then lexicographically, whatever the order of the input', () => {
    expect(
      majorityList([
        ['b', 'c'],
        ['a', 'c'],
      ]),
    ).toEqual(['a', 'c']);
    expect(
      majorityList([
        ['a', 'c'],
        ['b', 'c'],
      ]),
    ).toEqual(['a', 'c']);
    expect(majorityList([['db-10'], ['db-9']])).toEqual(['db-9']);
  });
});

describe('compareLists', () => {
  it('compares element by element, a prefix first', () => {
    expect(compareLists(['a'], ['a', 'b'])).toBeLessThan(0);
    expect(compareLists(['a', 'c'], ['a', 'b'])).toBeGreaterThan(0);
    expect(compareLists(['a'], ['a'])).toBe(0);
  });
});

describe('computeAgreement', () => {
  it('an empty cluster is consistent and lists nothing', () => {
    expect(computeAgreement([])).toEqual({ webServers: [], databases: [], consistent: true });
  });

  it('all web servers seeing the same databases agree', () => {
    const result = computeAgreement([ok('127.0.0.5:80', 'db-b', 'db-a'), ok('127.0.0.4:80', 'db-a', 'db-b')]);
    expect(result).toEqual({
      webServers: [
        { name: '127.0.0.4:80', databases: ['db-a', 'db-b'], agrees: true },
        { name: '127.0.0.5:80', databases: ['db-a', 'db-b'], agrees: true },
      ],
      databases: ['db-a', 'db-b'],
      consistent: true,
    });
  });

  it('marks the one that differs from the majority', () => {
    const result = computeAgreement([ok('w1', 'a', 'b'), ok('w2', 'a'), ok('w3', 'b', 'a')]);
    expect(result.databases).toEqual(['a', 'b']);
    expect(result.webServers.map((w) => [w.name, w.agrees])).toEqual([
      ['w1', true],
      ['w2', false],
      ['w3', true],
    ]);
    expect(result.consistent).toBe(false);
  });

  it('on a tie the longer list wins, so the one that has not caught up disagrees', () => {
    const result = computeAgreement([ok('w1', 'a'), ok('w2', 'a', 'b')]);
    expect(result.databases).toEqual(['a', 'b']);
    expect(result.webServers.map((w) => w.agrees)).toEqual([false, true]);
  });

  it('a web server that could not be asked neither votes nor agrees', () => {
    const result = computeAgreement([down('w1'), down('w2', 'connection refused'), ok('w3', 'a')]);
    expect(result.databases).toEqual(['a']);
    expect(result.webServers).toEqual([
      { name: 'w1', databases: [], error: 'timeout', agrees: false },
      { name: 'w2', databases: [], error: 'connection refused', agrees: false },
      { name: 'w3', databases: ['a'], agrees: true },
    ]);
    expect(result.consistent).toBe(false);
  });

  it('when none could be asked, the list is empty and nothing agrees', () => {
    const result = computeAgreement([down('w1')]);
    expect(result).toEqual({ webServers: [{ name: 'w1', databases: [], error: 'timeout', agrees: false }], databases: [], consistent: false });
  });

  it('an answer with an error (a database it could not ask) may agree but is not consistent', () => {
    const result = computeAgreement([
      { name: 'w1', databases: ['a'], error: 'database 127.0.0.9:80: timeout' },
      { name: 'w2', databases: ['a'], error: 'database 127.0.0.9:80: timeout' },
    ]);
    expect(result.webServers.every((w) => w.agrees)).toBe(true);
    expect(result.consistent).toBe(false);
  });

  it('sorts rows by name naturally and ids within a row', () => {
    const result = computeAgreement([ok('127.0.0.10:8080', 'db-10', 'db-9'), ok('127.0.0.9:8080', 'db-9', 'db-10')]);
    expect(result.webServers.map((w) => w.name)).toEqual(['127.0.0.9:8080', '127.0.0.10:8080']);
    expect(result.webServers[0]!.databases).toEqual(['db-9', 'db-10']);
  });

  it('treats an empty list as a list like any other', () => {
    const result = computeAgreement([ok('w1'), ok('w2')]);
    expect(result).toEqual({
      webServers: [
        { name: 'w1', databases: [], agrees: true },
        { name: 'w2', databases: [], agrees: true },
      ],
      databases: [],
      consistent: true,
    });
  });
});

describe('compareNames', () => {
  it('orders digit runs as numbers', () => {
    const names = ['127.0.0.10:80', '127.0.0.9:8080', '127.0.0.9:80', 'b', 'a', 'db-010', 'db-10', 'db-9'];
    expect([...names].sort(compareNames)).toEqual(['127.0.0.9:80', '127.0.0.9:8080', '127.0.0.10:80', 'a', 'b', 'db-9', 'db-010', 'db-10']);
  });
});
