import { describe, expect, it } from 'vitest';
import { compareNames, parsePeers } from './members.js';

describe('parsePeers (the json handler output, format "objects")', () => {
  it('reads name and url, sorted naturally', () => {
    const text = JSON.stringify([
      { name: '127.0.0.10:8080', host: '127.0.0.10', port: 8080, meta: {} },
      { name: '127.0.0.9:8080', host: '127.0.0.9', port: 8080, meta: {} },
      { name: '[fd00::1]:81', host: 'fd00::1', port: 81, meta: {} },
      { name: 'web-1', host: 'web-1', port: null, meta: {} },
    ]);
    expect(parsePeers(text)).toEqual([
      { name: '127.0.0.9:8080', url: 'http://127.0.0.9:8080' },
      { name: '127.0.0.10:8080', url: 'http://127.0.0.10:8080' },
      { name: '[fd00::1]:81', url: 'http://[fd00::1]:81' },
      { name: 'web-1', url: 'http://web-1:80' },
    ]);
  });

  it('leaves out entries that are not a plain host and port', () => {
    const text = JSON.stringify([
      { name: 'evil/x', host: 'evil.com/x', port: 80 },
      { name: 'a@b:80', host: 'a@b', port: 80 },
      { name: 'h:0', host: 'h', port: 0 },
      { name: 'h:1.5', host: 'h', port: 1.5 },
      'x',
      null,
      { name: 'ok:80', host: 'ok', port: 80 },
    ]);
    expect(parsePeers(text)).toEqual([{ name: 'ok:80', url: 'http://ok:80' }]);
  });

  it('rejects a file that is not a JSON array', () => {
    expect(() => parsePeers('{}')).toThrow('expected a JSON array');
    expect(() => parsePeers('')).toThrow();
  });
});

describe('compareNames', () => {
  it('orders digit runs as numbers', () => {
    const names = ['127.0.0.10:80', '127.0.0.9:8080', '127.0.0.9:80', 'b', 'a', 'db-010', 'db-10', 'db-9'];
    expect([...names].sort(compareNames)).toEqual(['127.0.0.9:80', '127.0.0.9:8080', '127.0.0.10:80', 'a', 'b', 'db-9', 'db-010', 'db-10']);
  });
});
