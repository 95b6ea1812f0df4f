import { describe, expect, it } from 'vitest';
import { parseWebArgs } from './cli.js';
import { buildWebReport, databaseResult } from './report.js';

describe('databaseResult', () => {
  it('takes the id from a database answer', () => {
    expect(databaseResult('127.0.0.2:8080', { id: 'db-2', name: '127.0.0.2:8080' })).toEqual({ name: '127.0.0.2:8080', id: 'db-2' });
  });

  it('turns anything else into a short error', () => {
    expect(databaseResult('d', 'x')).toEqual({ name: 'd', error: 'answer is not a JSON object' });
    expect(databaseResult('d', [])).toEqual({ name: 'd', error: 'answer is not a JSON object' });
    expect(databaseResult('d', { id: 3 })).toEqual({ name: 'd', error: 'answer has no id' });
    expect(databaseResult('d', { id: '' })).toEqual({ name: 'd', error: 'answer has no id' });
    expect(databaseResult('d', { id: 'x'.repeat(201) })).toEqual({ name: 'd', error: 'id too long' });
  });
});

describe('buildWebReport', () => {
  it('lists the databases sorted by name', () => {
    const report = buildWebReport('127.0.0.4:8080', [
      { name: '127.0.0.10:8080', id: 'b' },
      { name: '127.0.0.3:8080', error: 'timeout' },
      { name: '127.0.0.2:8080', id: 'a' },
    ]);
    expect(report).toEqual({
      name: '127.0.0.4:8080',
      databases: [
        { name: '127.0.0.2:8080', id: 'a' },
        { name: '127.0.0.3:8080', error: 'timeout' },
        { name: '127.0.0.10:8080', id: 'b' },
      ],
    });
  });
});

describe('demo-web arguments', () => {
  it('takes the common options only', () => {
    expect(parseWebArgs(['--host', '127.0.0.4', '--ttl', '2'], {})).toMatchObject({ name: '127.0.0.4:8080', ttl: 2 });
    expect(() => parseWebArgs(['--id', 'x'], {})).toThrow('unknown option --id');
  });
});
