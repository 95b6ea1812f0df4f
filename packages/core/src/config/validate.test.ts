import { describe, expect, it } from 'vitest';
import { DEFAULT_MEMBER_LIMITS } from '../model/member-limits.js';
import { ConfigError } from './config-error.js';
import { parseConfig } from './load-config.js';
import { validateConfigFile } from './validate.js';

// What parse-config.test.ts does not already pin: the order mistakes are found in, the edges of
// the number and string checks, and hostile keys. The messages are those the earlier zod schema gave.

const SOURCE = '/etc/cc/cluster-control.conf';
const minimalCluster = { name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: 'web.json' };

const parseText = (text: string) => parseConfig(text, SOURCE, '/etc/cc');
function errorOf(text: string): string {
  try {
    parseText(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message.slice(SOURCE.length + 2);
  }
  throw new Error('expected a ConfigError');
}
const errorOfValue = (value: unknown) => errorOf(JSON.stringify(value));
const clusterError = (fields: Record<string, unknown>) => errorOfValue({ clusters: [{ ...minimalCluster, ...fields }] });

describe('validateConfigFile', () => {
  it('applies the defaults and drops unknown keys', () => {
    expect(validateConfigFile({})).toEqual({ etcd: { timeoutMs: 5000, transport: 'auto' }, clusters: [] });
    expect(validateConfigFile({ self: { key: '/k', extra: 1 }, clusters: [{ ...minimalCluster, colour: 'blue' }] })).toEqual({
      etcd: { timeoutMs: 5000, transport: 'auto' },
      self: { key: '/k', ttl: 60 },
      clusters: [{ ...minimalCluster, reloadTimeoutMs: 30_000, checkTimeoutMs: 30_000, minMembers: 0, limits: DEFAULT_MEMBER_LIMITS, reloadMinIntervalMs: 1000 }],
    });
  });

  it('leaves optional keys out rather than setting them to undefined', () => {
    const file = validateConfigFile({ etcd: { host: 'h' }, clusters: [minimalCluster] });
    expect(Object.keys(file.etcd)).toEqual(['host', 'timeoutMs', 'transport']);
    expect(Object.keys(file.clusters[0]!)).not.toContain('wait');
  });

  it('turns a quoted port into a number, leading zeros included', () => {
    expect(validateConfigFile({ etcd: { port: '080' } }).etcd.port).toBe(80);
    expect(errorOfValue({ etcd: { port: '99999999999999999999' } })).toBe('etcd.port: expected an integer between 1 and 65535, got 100000000000000000000');
    expect(errorOfValue({ etcd: { port: ' 80' } })).toBe('etcd.port: expected an integer between 1 and 65535, got " 80"');
  });
});

describe('parseConfig: the first mistake', () => {
  it('is looked for in the order of the schema, not of the file', () => {
    expect(errorOfValue({ clusters: [{}], self: {}, etcd: { timeoutMs: 0 } })).toBe('etcd.timeoutMs: expected an integer >= 1, got 0');
    expect(errorOfValue({ clusters: [{}], self: {} })).toBe('self.key: missing (expected a string)');
    expect(clusterError({ mode: 1, handler: 1, name: 1 })).toBe('clusters[0].name: expected a string, got 1');
    expect(errorOfValue({ etcd: { tls: 1, server: 1 } })).toBe('etcd.server: expected a string, got 1');
  });

  it('is in the lowest-numbered item of an array', () => {
    expect(errorOfValue({ etcd: { endpoints: ['http://h:1', '', 3] } })).toBe('etcd.endpoints[1]: expected a non-empty string, got ""');
    expect(errorOfValue({ clusters: [minimalCluster, minimalCluster, 5, null] })).toBe('clusters[2]: expected an object, got 5');
  });

  it('treats null as a value, not as a missing key', () => {
    expect(errorOfValue(null)).toBe('expected an object, got null');
    expect(errorOfValue({ etcd: null })).toBe('etcd: expected an object, got null');
    expect(errorOfValue({ clusters: null })).toBe('clusters: expected an array, got null');
    expect(clusterError({ minMembers: null })).toBe('clusters[0].minMembers: expected an integer >= 0, got null');
  });
});

describe('parseConfig: values', () => {
  it('rejects integers JavaScript cannot represent exactly, and infinities', () => {
    expect(errorOfValue({ etcd: { timeoutMs: 2 ** 53 } })).toBe('etcd.timeoutMs: expected an integer >= 1, got 9007199254740992');
    expect(errorOf('{"self":{"key":"/k","ttl":1e400}}')).toBe('self.ttl: expected an integer >= 2, got Infinity');
    expect(errorOf('{"self":{"key":"/k","heartbeat":1e400}}')).toBe('self.heartbeat: expected a number, got Infinity');
    expect(errorOf('{"self":{"key":"/k","heartbeat":-1e400}}')).toBe('self.heartbeat: expected a number, got -Infinity');
    expect(errorOfValue({ self: { key: '/k', heartbeat: -2 } })).toBe('self.heartbeat: expected a number > 0, got -2');
  });

  it('shortens long strings in messages', () => {
    expect(clusterError({ mode: 'x'.repeat(50) })).toBe(`clusters[0].mode: expected an octal permission string such as "0640", got "${'x'.repeat(40)}…"`);
  });

  it('reports the branch of a two-type field whose type matched, else both types', () => {
    expect(clusterError({ handlerConfig: '' })).toBe('clusters[0].handlerConfig: expected a non-empty string, got ""');
    expect(clusterError({ handlerConfig: { file: '' } })).toBe('clusters[0].handlerConfig.file: expected a non-empty string, got ""');
    expect(clusterError({ handlerConfig: ['web.json'] })).toBe('clusters[0].handlerConfig: expected a file name or an object of handler options, got an array');
    expect(clusterError({ check: null })).toBe('clusters[0].check: expected a command string or an array of strings, got null');
    expect(errorOfValue({ self: { key: '/k', value: [] } })).toBe('self.value: expected a string or an object, got an array');
  });
});

describe('parseConfig: hostile keys and values', () => {
  it('ignores a "__proto__" key in handlerConfig and in self.value', () => {
    const config = parseText(
      '{"self":{"key":"/k","value":{"__proto__":{"a":1},"b":2}},' +
        '"clusters":[{"name":"web","path":"/w","handler":"json","handlerConfig":{"__proto__":{"file":"p"},"upstream":"u"},"file":"web.json"}]}',
    );
    expect(config.self?.value).toBe('{"b":2}');
    expect(config.clusters[0]!.handlerOptions).toEqual({ upstream: 'u' });
    expect(Object.getPrototypeOf(config.clusters[0]!.handlerOptions)).toBe(Object.prototype);
    expect(config.clusters[0]!.file).toBe('/etc/cc/web.json');
  });

  it('does not take an output file from the prototype of handlerConfig', () => {
    const text = '{"clusters":[{"name":"web","path":"/w","handler":"json","handlerConfig":{"__proto__":{"file":"p"}}}]}';
    expect(errorOf(text)).toBe('clusters[0].handlerConfig: no output file: set "handlerConfig" to a file name, or "handlerConfig.file", or "file"');
  });

  it('passes deeply nested handler options through without walking them', () => {
    const deep = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
    const config = parseText(`{"clusters":[{"name":"web","path":"/w","handler":"json","handlerConfig":{"file":"f","deep":${deep}}}]}`);
    expect(Array.isArray(config.clusters[0]!.handlerOptions.deep)).toBe(true);
  });

  it('checks a long array in linear time', () => {
    const start = performance.now();
    const endpoints = Array.from({ length: 200_000 }, (_, i) => `http://h${i}:2379`);
    expect(errorOfValue({ etcd: { endpoints: [...endpoints, 7] } })).toBe('etcd.endpoints[200000]: expected a string, got 7');
    expect(performance.now() - start).toBeLessThan(2000);
  });
});
