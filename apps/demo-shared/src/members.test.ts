import { parseMembersJson } from '@cluster-control/core/sync';
import { describe, expect, it } from 'vitest';
import { toPeer } from './members.js';

// Reading the file back and validating every name is core's (parseMembersJson has its own tests);
// here: what a peer's URL is.
describe('toPeer', () => {
  it('asks http://host:port, IPv6 in brackets, port 80 when registered without one', () => {
    const text = JSON.stringify([
      { name: '127.0.0.10:8080', host: '127.0.0.10', port: 8080, meta: {} },
      { name: '127.0.0.9:8080', host: '127.0.0.9', port: 8080, meta: {} },
      { name: '[fd00::1]:81', host: 'fd00::1', port: 81, meta: {} },
      { name: 'web-1', host: 'web-1', port: null, meta: {} },
      { name: 'evil/x', host: 'evil.com/x', port: 80 },
    ]);
    expect(parseMembersJson(text).map(toPeer)).toEqual([
      { name: '127.0.0.9:8080', url: 'http://127.0.0.9:8080' },
      { name: '127.0.0.10:8080', url: 'http://127.0.0.10:8080' },
      { name: '[fd00::1]:81', url: 'http://[fd00::1]:81' },
      { name: 'web-1', url: 'http://web-1:80' },
    ]);
  });
});
