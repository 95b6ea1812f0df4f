import { describe, expect, it } from 'vitest';
import { buildReport } from './report.js';
import { renderText, sanitizeLine } from './text-report.js';

describe('renderText', () => {
  it('one line per web server, then the summary', () => {
    const report = buildReport('lb', new Date(0), [
      { name: '127.0.0.4:8080', databases: ['db-b', 'db-a'] },
      { name: '127.0.0.5:8080', databases: ['db-a', 'db-b'] },
    ]);
    expect(renderText(report)).toBe('127.0.0.4:8080  db-a,db-b\n127.0.0.5:8080  db-a,db-b\nweb servers: 2, databases: 2, consistent: yes\n');
  });

  it('marks disagreement and errors', () => {
    const report = buildReport('lb', new Date(0), [
      { name: 'w1', databases: ['a', 'b'] },
      { name: 'w2', databases: ['a'] },
      { name: 'w3', databases: ['a', 'b'] },
      { name: 'w4', databases: undefined, error: 'connection refused' },
    ]);
    expect(renderText(report)).toBe(['w1  a,b', 'w2  a  DISAGREES', 'w3  a,b', 'w4  -  ERROR connection refused', 'web servers: 4, databases: 2, consistent: no', ''].join('\n'));
  });

  it('an empty cluster', () => {
    expect(renderText(buildReport('lb', new Date(0), []))).toBe('web servers: 0, databases: 0, consistent: yes\n');
  });

  it('untrusted text cannot forge lines', () => {
    const report = buildReport('lb', new Date(0), [{ name: 'w1', databases: ['a\nweb servers: 9, databases: 9, consistent: yes', 'b\u2028c'] }]);
    const lines = renderText(report).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('w1  a?web servers: 9, databases: 9, consistent: yes,b?c');
    expect(sanitizeLine('x\r\ty\u0000\u007f\u0085')).toBe('x??y???');
  });
});
