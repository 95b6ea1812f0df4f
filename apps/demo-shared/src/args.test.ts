import { describe, expect, it } from 'vitest';
import { UsageError, parseCommonArgs } from './args.js';

/** The common options alone, as demo-lb and demo-web take them. */
function parseCommon(argv: readonly string[], env: NodeJS.ProcessEnv) {
  const parsed = parseCommonArgs(argv, env, {});
  return parsed === 'help' ? 'help' : parsed.common;
}

const parse = (...argv: string[]) => parseCommon(argv, {});

describe("the demo apps' common arguments", () => {
  it('has the documented defaults', () => {
    expect(parse()).toEqual({
      host: '127.0.0.1',
      port: 8080,
      name: '127.0.0.1:8080',
      url: 'http://127.0.0.1:8080',
      etcd: ['http://127.0.0.1:2379'],
      prefix: '/clusterdemo',
      ttl: 5,
      dataDir: undefined,
    });
  });

  it('takes every option', () => {
    const args = parseCommon(['--host', '127.0.0.6', '--port', '9000', '--etcd', 'http://127.0.0.1:1,http://127.0.0.2:2', '--prefix', '/clusterdemo-abc1/', '--ttl', '3', '--data-dir', 'rel/dir'], {});
    expect(args).toMatchObject({
      host: '127.0.0.6',
      port: 9000,
      name: '127.0.0.6:9000',
      url: 'http://127.0.0.6:9000',
      etcd: ['http://127.0.0.1:1', 'http://127.0.0.2:2'],
      prefix: '/clusterdemo-abc1',
      ttl: 3,
    });
    expect(args !== 'help' && args.dataDir).toMatch(/^\/.*\/rel\/dir$/);
  });

  it('takes --opt=value and the etcd endpoint from the environment', () => {
    expect(parseCommon(['--port=81'], { CLUSTER_CONTROL_ETCD: 'https://etcd.example:2379' })).toMatchObject({ port: 81, etcd: ['https://etcd.example:2379'] });
    expect(parseCommon(['--etcd', 'http://a:1'], { CLUSTER_CONTROL_ETCD: 'http://b:2' })).toMatchObject({ etcd: ['http://a:1'] });
  });

  it('brackets an IPv6 host in its name and URL', () => {
    expect(parse('--host', '::1', '--port', '81')).toMatchObject({ host: '::1', name: '[::1]:81', url: 'http://[::1]:81' });
  });

  it('takes the host as core reads a member name (so the own key is valid), lower-cased', () => {
    expect(parse('--host', '[::1]')).toMatchObject({ host: '::1', name: '[::1]:8080' });
    expect(parse('--host', 'Web-1.Local')).toMatchObject({ host: 'web-1.local', url: 'http://web-1.local:8080' });
    for (const host of ['127.0.0.1:80', '127.0.0.1%3A80', 'web-', 'a..b', 'fe80::1%eth0', '']) {
      expect(() => parse('--host', host)).toThrow(new UsageError(`--host: expected an IP address or host name, got ${JSON.stringify(host)}`));
    }
  });

  it("passes an app's own options through", () => {
    expect(parseCommonArgs(['--id', 'primary', '--port', '81'], {}, { id: { type: 'string' } })).toMatchObject({ common: { port: 81 }, extra: { id: 'primary' } });
    expect(parseCommonArgs([], {}, { id: { type: 'string' } })).toMatchObject({ extra: {} });
  });

  it('asks for help', () => {
    expect(parse('--help')).toBe('help');
    expect(parse('-h')).toBe('help');
  });

  it.each([
    [['--port', 'abc'], '--port: expected an integer from 1 to 65535, got "abc"'],
    [['--port', '0'], '--port: expected an integer from 1 to 65535, got "0"'],
    [['--port', '65536'], '--port: expected an integer from 1 to 65535, got "65536"'],
    [['--port', '1e3'], '--port: expected an integer from 1 to 65535, got "1e3"'],
    [['--ttl', '0'], '--ttl: expected an integer from 1 to 3600, got "0"'],
    [['--ttl', '2.5'], '--ttl: expected an integer from 1 to 3600, got "2.5"'],
    [['--host', 'a b'], '--host: expected an IP address or host name, got "a b"'],
    [['--host', '127.0.0.256'], '--host: expected an IP address or host name, got "127.0.0.256"'],
    [['--etcd', 'localhost:2379'], '--etcd: expected an http(s) URL like http://127.0.0.1:2379, got "localhost:2379"'],
    [['--etcd', ','], '--etcd: expected one or more http(s) URLs, got nothing'],
    [['--prefix', 'clusterdemo'], '--prefix: expected a key path like /clusterdemo (letters, digits, ._~@+=-), got "clusterdemo"'],
    [['--prefix', '/a//b'], '--prefix: expected a key path like /clusterdemo (letters, digits, ._~@+=-), got "/a//b"'],
    [['--prefix', '/'], '--prefix: expected a key path like /clusterdemo (letters, digits, ._~@+=-), got "/"'],
    [['--data-dir', ''], '--data-dir: expected a directory, got an empty string'],
    [['--bogus'], 'unknown option --bogus'],
    [['--id', 'x'], 'unknown option --id'],
    [['--port'], '--port: expected a value'],
    [['extra'], 'unexpected argument extra'],
  ])('rejects %j: %s', (argv, message) => {
    expect(() => parseCommon(argv, {})).toThrow(new UsageError(message));
  });
});
