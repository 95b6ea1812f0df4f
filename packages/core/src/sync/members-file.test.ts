import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMembersJson, readMembersFile } from './members-file.js';

describe('parseMembersJson (the json handler output, read back)', () => {
  it('reads the objects format, in member order', () => {
    const text = JSON.stringify([
      { name: '127.0.0.10:8080', host: '127.0.0.10', port: 8080, meta: { weight: 3 } },
      { name: '127.0.0.9:8080', host: '127.0.0.9', port: 8080, meta: {} },
      { name: '[fd00::1]:81', host: 'fd00::1', port: 81, meta: {} },
      { name: 'web-1', host: 'web-1', port: null, meta: {} },
    ]);
    expect(parseMembersJson(text)).toEqual([
      { name: '127.0.0.9:8080', host: '127.0.0.9', port: 8080, kind: 'ipv4', meta: {} },
      { name: '127.0.0.10:8080', host: '127.0.0.10', port: 8080, kind: 'ipv4', meta: { weight: 3 } },
      { name: '[fd00::1]:81', host: 'fd00::1', port: 81, kind: 'ipv6', meta: {} },
      { name: 'web-1', host: 'web-1', port: undefined, kind: 'hostname', meta: {} },
    ]);
  });

  it('reads the names format', () => {
    expect(parseMembersJson('["10.0.0.6","10.0.0.5:80"]\n')).toEqual([
      { name: '10.0.0.5:80', host: '10.0.0.5', port: 80, kind: 'ipv4', meta: {} },
      { name: '10.0.0.6', host: '10.0.0.6', port: undefined, kind: 'ipv4', meta: {} },
    ]);
  });

  it('validates every name again and takes host and port from it, not from the other fields', () => {
    const text = JSON.stringify([
      { name: 'evil/x', host: 'evil.com/x', port: 80 },
      { name: 'a@b:80', host: 'a@b', port: 80 },
      { name: 'h:0', host: 'h', port: 0 },
      { name: 'h:1.5', host: 'h', port: 1.5 },
      { name: '10.0.0.5\n:80' },
      { host: 'nameless', port: 80 },
      { name: 5 },
      'x y',
      null,
      [],
      { name: 'ok:80', host: 'evil.com', port: 1, meta: 'not an object' },
    ]);
    expect(parseMembersJson(text)).toEqual([{ name: 'ok:80', host: 'ok', port: 80, kind: 'hostname', meta: {} }]);
  });

  it('keeps the first of repeated names (after canonicalisation)', () => {
    const text = JSON.stringify([{ name: 'WEB:80', meta: { n: 1 } }, { name: 'web:80', meta: { n: 2 } }, 'web%3A80']);
    expect(parseMembersJson(text)).toEqual([{ name: 'web:80', host: 'web', port: 80, kind: 'hostname', meta: { n: 1 } }]);
  });

  it('rejects text that is not a JSON array', () => {
    expect(() => parseMembersJson('{}')).toThrow('expected a JSON array');
    expect(() => parseMembersJson('')).toThrow(SyntaxError);
  });
});

describe('readMembersFile', () => {
  it('reads a cluster file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cc-members-'));
    try {
      await writeFile(join(dir, 'db.json'), '[{"name":"10.0.0.5:5432","host":"10.0.0.5","port":5432,"meta":{}}]\n');
      expect(await readMembersFile(join(dir, 'db.json'))).toEqual([{ name: '10.0.0.5:5432', host: '10.0.0.5', port: 5432, kind: 'ipv4', meta: {} }]);
      await expect(readMembersFile(join(dir, 'missing.json'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
