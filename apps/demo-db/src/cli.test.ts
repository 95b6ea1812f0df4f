import { describe, expect, it } from 'vitest';
import { UsageError } from '@cluster-control/demo-shared';
import { defaultId, parseDbArgs } from './cli.js';
import { identity } from './app.js';

describe('demo-db arguments', () => {
  it('defaults the id to db-<last octet>-<port>', () => {
    expect(parseDbArgs(['--host', '127.0.0.7', '--port', '8081'], {})).toMatchObject({ id: 'db-7-8081', name: '127.0.0.7:8081' });
    expect(defaultId('127.0.0.1', 8080)).toBe('db-1-8080');
    expect(defaultId('db.local', 80)).toBe('db-local-80');
    expect(defaultId('::1', 80)).toBe('db-1-80');
  });

  it('takes --id, any printable text', () => {
    expect(parseDbArgs(['--id', 'primary'], {})).toMatchObject({ id: 'primary' });
    expect(parseDbArgs(['--id', '<b>"x"</b>'], {})).toMatchObject({ id: '<b>"x"</b>' });
  });

  it('rejects empty, overlong or multi-line ids', () => {
    const message = (id: string) => `--id: expected 1 to 100 printable characters, got ${JSON.stringify(id)}`;
    for (const id of ['', 'a\nb', 'x'.repeat(101)]) expect(() => parseDbArgs(['--id', id], {})).toThrow(new UsageError(message(id)));
  });

  it('rejects what every app rejects', () => {
    expect(() => parseDbArgs(['--port', 'x'], {})).toThrow('--port: expected an integer from 1 to 65535, got "x"');
    expect(() => parseDbArgs(['--nope'], {})).toThrow('unknown option --nope');
  });
});

describe('identity', () => {
  it('is the documented answer', () => {
    expect(identity('db-1', '127.0.0.2:8080')).toEqual({ id: 'db-1', name: '127.0.0.2:8080' });
  });
});
