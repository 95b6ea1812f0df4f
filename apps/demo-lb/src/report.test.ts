import { describe, expect, it } from 'vitest';
import { buildReport, observe, reportKey, unreachable } from './report.js';

describe('observe (a web server answer)', () => {
  it('takes the ids of the databases it reached', () => {
    const answer = {
      name: '127.0.0.4:8080',
      databases: [
        { name: '127.0.0.2:8080', id: 'db-2' },
        { name: '127.0.0.3:8080', id: 'db-3' },
      ],
    };
    expect(observe('127.0.0.4:8080', answer)).toEqual({ name: '127.0.0.4:8080', databases: ['db-2', 'db-3'] });
  });

  it('names the databases it could not ask in the error', () => {
    const answer = {
      databases: [
        { name: '127.0.0.2:8080', id: 'db-2' },
        { name: '127.0.0.3:8080', error: 'timeout' },
      ],
    };
    expect(observe('w', answer)).toEqual({ name: 'w', databases: ['db-2'], error: 'database 127.0.0.3:8080: timeout' });
  });

  it('turns anything unexpected into an error', () => {
    expect(observe('w', null)).toEqual({ name: 'w', databases: undefined, error: 'answer is not a JSON object' });
    expect(observe('w', [1])).toEqual({ name: 'w', databases: undefined, error: 'answer is not a JSON object' });
    expect(observe('w', { databases: 'x' })).toEqual({ name: 'w', databases: undefined, error: 'answer has no database list' });
    expect(observe('w', { databases: [42, { id: 7 }] }).error).toBe('database ?: no id; ?: no id');
  });

  it('caps what it keeps from an answer', () => {
    const long = 'x'.repeat(5000);
    const result = observe('w', {
      databases: [
        { name: long, error: long },
        { name: 'a', id: long },
      ],
    });
    expect(result.databases).toEqual([]);
    expect(result.error!.length).toBeLessThanOrEqual(300);
  });
});

describe('buildReport', () => {
  it('has the documented shape', () => {
    const report = buildReport('127.0.0.6:8080', new Date('2030-01-02T03:04:05.000Z'), [{ name: 'w', databases: ['a'] }, unreachable('v', 'timeout')]);
    expect(report).toEqual({
      loadBalancer: '127.0.0.6:8080',
      generatedAt: '2030-01-02T03:04:05.000Z',
      webServers: [
        { name: 'v', databases: [], error: 'timeout', agrees: false },
        { name: 'w', databases: ['a'], agrees: true },
      ],
      databases: ['a'],
      consistent: false,
    });
  });

  it('reportKey ignores only the time', () => {
    const a = buildReport('lb', new Date(1), [{ name: 'w', databases: ['a'] }]);
    const b = buildReport('lb', new Date(2), [{ name: 'w', databases: ['a'] }]);
    const c = buildReport('lb', new Date(2), [{ name: 'w', databases: ['b'] }]);
    expect(reportKey(a)).toBe(reportKey(b));
    expect(reportKey(a)).not.toBe(reportKey(c));
  });
});
