import { describe, expect, it } from 'vitest';
import { DEFAULT_MEMBER_LIMITS } from '../model/member-limits.js';
import { ConfigError } from './config-error.js';
import { findCluster, parseConfig } from './load-config.js';

const SOURCE = '/etc/cc/cluster-control.conf';
const BASE = '/etc/cc';

const parse = (value: unknown) => parseConfig(JSON.stringify(value), SOURCE, BASE);
const minimalCluster = { name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: 'web.json' };
const withCluster = (fields: Record<string, unknown>) => parse({ clusters: [{ ...minimalCluster, ...fields }] });
const cluster = (fields: Record<string, unknown>) => withCluster(fields).clusters[0]!;

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).name).toBe('ConfigError');
    expect((error as Error).message).not.toContain('\n');
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}
const parseError = (value: unknown) => errorOf(() => parse(value));

// The sample from the PHP tool's README; its "handler:" typo is fixed in PHP_SAMPLE.
const PHP_README_SAMPLE = String.raw`{
    "etcd": {
        "host": "127.0.0.1",
        "port": 3001
    },
    "self": {
        "key": "/clusters/webapp/myip",
        "ttl": 60,
        "heartbeat": 30
    },
    "clusters": [
        {
            "name": "redis",
            "path": "/clusters/redis",
            "handler": "AlanKent\\ClusterControl\\Handlers\\RedisHandler",
            "handlerConfig": "filename.conf"
        },
        {
            "name": "mysql",
            "path": "/clusters/mysql",
            "handler:" "AlanKent\\ClusterControl\\Handlers\\MySQLHandler",
            "handlerConfig": "filename.conf"
        }
    ]
}
`;
const PHP_SAMPLE = PHP_README_SAMPLE.replace('"handler:" "', '"handler": "').replace(/"filename.conf"(?![\s\S]*filename)/, '"mysql.conf"');

/** What every normalized cluster gets when the file says nothing of members, limits or reload pacing. */
const CLUSTER_DEFAULTS = { addressPolicy: { deny: [], hostnames: true }, limits: DEFAULT_MEMBER_LIMITS, reloadMinIntervalMs: 1000 };

describe('parseConfig: PHP-era files', () => {
  it('accepts the README sample (with its typo fixed) unchanged', () => {
    const config = parseConfig(PHP_SAMPLE, SOURCE, BASE);
    expect(config).toEqual({
      sourcePath: SOURCE,
      baseDir: BASE,
      etcd: { endpoints: ['http://127.0.0.1:3001'], timeoutMs: 5000, transport: 'auto' },
      self: { key: '/clusters/webapp/myip', ttl: 60, heartbeat: 30, value: '' },
      status: { prefix: '/cluster-control/status', ttl: 10 },
      warnings: [],
      clusters: [
        {
          name: 'redis',
          path: '/clusters/redis',
          handler: 'AlanKent\\ClusterControl\\Handlers\\RedisHandler',
          handlerOptions: {},
          file: '/etc/cc/filename.conf',
          reloadTimeoutMs: 30_000,
          checkTimeoutMs: 30_000,
          minMembers: 0,
          ...CLUSTER_DEFAULTS,
        },
        {
          name: 'mysql',
          path: '/clusters/mysql',
          handler: 'AlanKent\\ClusterControl\\Handlers\\MySQLHandler',
          handlerOptions: {},
          file: '/etc/cc/mysql.conf',
          reloadTimeoutMs: 30_000,
          checkTimeoutMs: 30_000,
          minMembers: 0,
          ...CLUSTER_DEFAULTS,
        },
      ],
    });
  });

  it("reports the README sample's typo with line and column", () => {
    // V8's wording varies between Node versions; the place does not.
    expect(errorOf(() => parseConfig(PHP_README_SAMPLE, SOURCE, BASE))).toMatch(/^\/etc\/cc\/cluster-control\.conf:21:24: invalid JSON: \w/);
  });

  it.each([
    ['http://10.0.0.1:4001/', 'http://10.0.0.1:4001'],
    ['http://10.0.0.1:4001', 'http://10.0.0.1:4001'],
    ['etcd.local:4001', 'http://etcd.local:4001'],
    ['https://ETCD.example.com/', 'https://etcd.example.com:2379'],
    ['http://h:80/', 'http://h:80'],
    ['https://h:443', 'https://h:443'],
    ['http://[fd00::1]:2379/', 'http://[fd00::1]:2379'],
  ])('accepts etcd.server %j', (server, endpoint) => {
    expect(parse({ etcd: { server } }).etcd.endpoints).toEqual([endpoint]);
  });

  it.each([
    [{ host: '10.0.0.2', port: 4001 }, 'http://10.0.0.2:4001'],
    [{ host: 'etcd' }, 'http://etcd:2379'],
    [{ host: 'fd00::1', port: 2379 }, 'http://[fd00::1]:2379'],
    [{ host: '10.0.0.2', port: '4001' }, 'http://10.0.0.2:4001'],
    [{ port: 4001 }, 'http://127.0.0.1:4001'],
  ])('accepts etcd host/port %j', (etcd, endpoint) => {
    expect(parse({ etcd }).etcd.endpoints).toEqual([endpoint]);
  });
});

describe('parseConfig: etcd', () => {
  it('defaults to the local etcd', () => {
    expect(parse({}).etcd).toEqual({ endpoints: ['http://127.0.0.1:2379'], timeoutMs: 5000, transport: 'auto' });
    expect(parse({}).clusters).toEqual([]);
    expect(parse({}).self).toBeUndefined();
  });

  it('accepts endpoints, auth, tls and timeouts, resolving tls files against the config directory', () => {
    const { etcd } = parse({
      etcd: {
        endpoints: ['http://h1:2379', 'https://h2:2380/', 'h3'],
        auth: { username: 'cc', password: 's3cret' },
        tls: { ca: 'pki/ca.pem', cert: '/abs/client.pem', key: '../client-key.pem' },
        timeoutMs: 1000,
        transport: 'grpc',
      },
    });
    expect(etcd).toEqual({
      endpoints: ['http://h1:2379', 'https://h2:2380', 'http://h3:2379'],
      auth: { username: 'cc', password: 's3cret' },
      tls: { ca: '/etc/cc/pki/ca.pem', cert: '/abs/client.pem', key: '/etc/client-key.pem' },
      timeoutMs: 1000,
      transport: 'grpc',
    });
  });

  it.each([
    [{ server: 'http://h:1', host: 'h' }, 'etcd: give only one of "server", "host"/"port" or "endpoints" (found "server" and "host"/"port")'],
    [{ endpoints: ['http://h:1'], port: 2 }, 'etcd: give only one of "server", "host"/"port" or "endpoints" (found "host"/"port" and "endpoints")'],
    [{ port: 70000 }, 'etcd.port: expected an integer between 1 and 65535, got 70000'],
    [{ host: 'h', port: 'x' }, 'etcd.port: expected an integer between 1 and 65535, got "x"'],
    [{ host: 'http://h' }, 'etcd.host: expected a host name or IP address, got "http://h"'],
    [{ server: 'ftp://h:21' }, 'etcd.server: expected a URL like "http://10.0.0.1:2379", got "ftp://h:21"'],
    [{ server: 'http://h:2379/v2/keys' }, 'etcd.server: expected a URL like "http://10.0.0.1:2379", got "http://h:2379/v2/keys"'],
    [{ endpoints: ['http://ok:1', 'http://bad:0'] }, 'etcd.endpoints[1]: expected a URL like "http://10.0.0.1:2379", got "http://bad:0"'],
    [{ endpoints: [] }, 'etcd.endpoints: expected at least 1 item(s)'],
    [{ endpoints: 'http://h:1' }, 'etcd.endpoints: expected an array, got "http://h:1"'],
    [{ auth: { username: 'u' } }, 'etcd.auth.password: missing (expected a string)'],
    [{ tls: { cert: 'c.pem' } }, 'etcd.tls: "cert" and "key" must be given together'],
    [{ timeoutMs: 0 }, 'etcd.timeoutMs: expected an integer >= 1, got 0'],
    [{ transport: 'http' }, 'etcd.transport: expected one of "auto", "gateway", "grpc", got "http"'],
  ])('rejects etcd %j', (etcd, message) => {
    expect(parseError({ etcd })).toBe(`${SOURCE}: ${message}`);
  });
});

describe('parseConfig: secrets never appear in an error', () => {
  const SECRET = 'Hunter2-S3cret';

  it.each([
    [{ auth: { username: 'cc', password: 12345 } }, 'etcd.auth.password: expected a string, got a number (value not shown)', '12345'],
    [{ auth: { username: 'cc', password: true } }, 'etcd.auth.password: expected a string, got a boolean (value not shown)', 'true'],
    [{ auth: { username: 'cc', password: [SECRET] } }, 'etcd.auth.password: expected a string, got an array (value not shown)', SECRET],
    [{ auth: { username: 'cc', password: { p: SECRET } } }, 'etcd.auth.password: expected a string, got an object (value not shown)', SECRET],
    [{ auth: { username: 987654, password: SECRET } }, 'etcd.auth.username: expected a string, got a number (value not shown)', '987654'],
    [{ auth: { username: '', password: SECRET } }, 'etcd.auth.username: expected a non-empty string, got an empty one', SECRET],
    [{ auth: `cc:${SECRET}` }, 'etcd.auth: expected an object with "username" and "password", got a string (value not shown)', SECRET],
    [{ auth: { password: SECRET } }, 'etcd.auth.username: missing (expected a string)', SECRET],
    [{ server: `http://cc:${SECRET}@h:2379` }, 'etcd.server: expected a URL like "http://10.0.0.1:2379" without user:password (put credentials in etcd.auth), got "http://***@h:2379"', SECRET],
    [
      { endpoints: ['http://ok:1', `https://cc:${SECRET}@h2:2379/`] },
      'etcd.endpoints[1]: expected a URL like "http://10.0.0.1:2379" without user:password (put credentials in etcd.auth), got "https://***@h2:2379/"',
      SECRET,
    ],
    [{ endpoints: [`cc:${SECRET}@h3:2379`] }, 'etcd.endpoints[0]: expected a URL like "http://10.0.0.1:2379" without user:password (put credentials in etcd.auth), got "***@h3:2379"', SECRET],
    [{ endpoints: [`http://${SECRET}@h4`] }, 'etcd.endpoints[0]: expected a URL like "http://10.0.0.1:2379" without user:password (put credentials in etcd.auth), got "http://***@h4"', SECRET],
    [{ host: `cc:${SECRET}@h5` }, 'etcd.host: expected a host name or IP address, got "***@h5"', SECRET],
    // A wrong type elsewhere that holds a URL with userinfo: shortened, and redacted first.
    [{ endpoints: `http://cc:${SECRET}@h6.example.com:2379` }, 'etcd.endpoints: expected an array, got "http://***@h6.example.com:2379"', SECRET],
    [{ server: '', auth: { username: 'cc', password: SECRET } }, 'etcd.server: expected a non-empty string, got ""', SECRET],
  ])('%j', (etcd, message, secret) => {
    const error = parseError({ etcd });
    expect(error).toBe(`${SOURCE}: ${message}`);
    expect(error).not.toContain(secret);
  });

  it('a valid password is kept as written, whatever it contains', () => {
    expect(parse({ etcd: { auth: { username: 'cc', password: '' } } }).etcd.auth).toEqual({ username: 'cc', password: '' });
  });
});

describe('parseConfig: self', () => {
  it('defaults ttl to 60, heartbeat to a third of the ttl and value to ""', () => {
    expect(parse({ self: { key: '/k' } }).self).toEqual({ key: '/k', ttl: 60, heartbeat: 20, value: '' });
    expect(parse({ self: { key: '/k', ttl: 10 } }).self?.heartbeat).toBe(3.333);
    expect(parse({ self: { key: '/k', ttl: 2, heartbeat: 0.5 } }).self?.heartbeat).toBe(0.5);
  });

  it('stores an object value as JSON text', () => {
    expect(parse({ self: { key: '/k', value: { weight: 3, zone: 'b' } } }).self?.value).toBe('{"weight":3,"zone":"b"}');
    expect(parse({ self: { key: '/k', value: 'up' } }).self?.value).toBe('up');
  });

  it.each([
    [{}, 'self.key: missing (expected a string)'],
    [{ key: '/k', ttl: 1 }, 'self.ttl: expected an integer >= 2, got 1'],
    [{ key: '/k', ttl: 30.5 }, 'self.ttl: expected an integer >= 2, got 30.5'],
    [{ key: '/k', ttl: 60, heartbeat: 60 }, 'self.heartbeat: must be less than self.ttl (60), got 60'],
    [{ key: '/k', heartbeat: 0 }, 'self.heartbeat: expected a number > 0, got 0'],
    [{ key: '/k', value: 5 }, 'self.value: expected a string or an object, got 5'],
  ])('rejects self %j', (self, message) => {
    expect(parseError({ self })).toBe(`${SOURCE}: ${message}`);
  });
});

describe('parseConfig: clusters', () => {
  it('takes the output file from a string handlerConfig, resolved against the config directory', () => {
    expect(cluster({ handlerConfig: 'out/web.json' })).toMatchObject({ file: '/etc/cc/out/web.json', handlerOptions: {} });
    expect(parseConfig(JSON.stringify({ clusters: [minimalCluster] }), 'x.conf', 'relative/dir').clusters[0]?.file).toBe(`${process.cwd()}/relative/dir/web.json`);
  });

  it('takes handler options and the file from an object handlerConfig', () => {
    const c = cluster({ handler: './handlers/upstream.js', handlerConfig: { file: '/etc/nginx/up.conf', upstream: 'web', weight: 2 } });
    expect(c).toMatchObject({ handler: './handlers/upstream.js', file: '/etc/nginx/up.conf', handlerOptions: { upstream: 'web', weight: 2 } });
  });

  it('accepts "file" as an alternative to handlerConfig.file', () => {
    expect(cluster({ handlerConfig: { port: 80 }, file: 'web.txt' })).toMatchObject({ file: '/etc/cc/web.txt', handlerOptions: { port: 80 } });
    expect(cluster({ handlerConfig: undefined, file: 'web.txt' })).toMatchObject({ file: '/etc/cc/web.txt', handlerOptions: {} });
  });

  it('normalizes the path and applies the extensions', () => {
    const c = cluster({
      path: '/clusters/web//',
      reload: `sh -c 'apachectl graceful && logger reloaded'`,
      check: ['nginx', '-t', '-c', '{src}'],
      reloadTimeoutMs: 5000,
      wait: { min: 50, max: 1000 },
      minMembers: 2,
      mode: '0640',
    });
    expect(c).toEqual({
      name: 'web',
      path: '/clusters/web',
      handler: 'json',
      handlerOptions: {},
      file: '/etc/cc/web.json',
      reload: ['sh', '-c', 'apachectl graceful && logger reloaded'],
      check: ['nginx', '-t', '-c', '{src}'],
      reloadTimeoutMs: 5000,
      checkTimeoutMs: 30_000,
      wait: { min: 50, max: 1000 },
      minMembers: 2,
      mode: 0o640,
      ...CLUSTER_DEFAULTS,
    });
    expect(cluster({ mode: '755' }).mode).toBe(0o755);
  });

  it('ignores unknown keys, with one warning each', () => {
    const config = parse({ future: true, etcd: { host: 'h', retries: 3 }, clusters: [{ ...minimalCluster, colour: 'blue' }] });
    expect(config.clusters[0]).not.toHaveProperty('colour');
    expect(config.etcd.endpoints).toEqual(['http://h:2379']);
    expect(config.warnings).toEqual([`${SOURCE}: future: unknown field, ignored`, `${SOURCE}: etcd.retries: unknown field, ignored`, `${SOURCE}: clusters[0].colour: unknown field, ignored`]);
  });

  it('relative check and reload programs are found in the config directory; bare names in PATH', () => {
    expect(cluster({ reload: './bin/reload.sh --now', check: ['bin/check', '{src}'] })).toMatchObject({
      reload: ['/etc/cc/bin/reload.sh', '--now'],
      check: ['/etc/cc/bin/check', '{src}'],
    });
    expect(cluster({ reload: '../sbin/x', check: '/usr/sbin/nginx -t -c {src}' })).toMatchObject({ reload: ['/etc/sbin/x'], check: ['/usr/sbin/nginx', '-t', '-c', '{src}'] });
    expect(cluster({ reload: 'apachectl graceful', check: ['nginx', '-t', '-c', './{src}'] })).toMatchObject({ reload: ['apachectl', 'graceful'], check: ['nginx', '-t', '-c', './{src}'] });
    // Only the program: arguments are the command's business.
    expect(cluster({ reload: `sh -c './x && ./y'` }).reload).toEqual(['sh', '-c', './x && ./y']);
  });

  it.each([
    [{ handler: 42 }, 'clusters[0].handler: expected a string, got 42'],
    [{ handler: '' }, 'clusters[0].handler: expected a non-empty string, got ""'],
    [{ name: undefined }, 'clusters[0].name: missing (expected a string)'],
    [{ path: 'clusters/web' }, 'clusters[0].path: expected a key prefix such as "/clusters/web", got "clusters/web"'],
    [{ path: '/' }, 'clusters[0].path: expected a key prefix such as "/clusters/web", got "/"'],
    [{ handlerConfig: undefined }, 'clusters[0].handlerConfig: no output file: set "handlerConfig" to a file name, or "handlerConfig.file", or "file"'],
    [{ handlerConfig: { port: 80 } }, 'clusters[0].handlerConfig: no output file: set "handlerConfig" to a file name, or "handlerConfig.file", or "file"'],
    [{ handlerConfig: 7 }, 'clusters[0].handlerConfig: expected a file name or an object of handler options, got 7'],
    [{ handlerConfig: { file: 7 } }, 'clusters[0].handlerConfig.file: expected a string, got 7'],
    [{ file: 'other.json' }, 'clusters[0].file: conflicts with clusters[0].handlerConfig; give the output file once'],
    [{ handlerConfig: { file: 'a' }, file: 'b' }, 'clusters[0].file: conflicts with clusters[0].handlerConfig.file; give the output file once'],
    [{ reload: '' }, 'clusters[0].reload: expected a command, got an empty one'],
    [{ check: [] }, 'clusters[0].check: expected a command, got an empty one'],
    [{ reload: `sh -c 'oops` }, 'clusters[0].reload: unterminated single quote at character 7'],
    [{ reload: ['ok', 1] }, 'clusters[0].reload[1]: expected a string, got 1'],
    [{ reload: { cmd: 'x' } }, 'clusters[0].reload: expected a command string or an array of strings, got an object'],
    [{ wait: { min: 10, max: 5 } }, 'clusters[0].wait: min (10) must not exceed max (5)'],
    [{ wait: { min: 10 } }, 'clusters[0].wait.max: missing (expected an integer >= 0)'],
    [{ minMembers: -1 }, 'clusters[0].minMembers: expected an integer >= 0, got -1'],
    [{ mode: 644 }, 'clusters[0].mode: expected an octal permission string such as "0640", got 644'],
    [{ mode: '0999' }, 'clusters[0].mode: expected an octal permission string such as "0640", got "0999"'],
  ])('rejects cluster %j', (fields, message) => {
    expect(errorOf(() => withCluster(fields))).toBe(`${SOURCE}: ${message}`);
  });

  it('names the failing entry by index and reports only the first issue', () => {
    const clusters = [minimalCluster, { ...minimalCluster, name: 'db', handler: ['x'], path: 5 }];
    expect(parseError({ clusters })).toBe(`${SOURCE}: clusters[1].path: expected a string, got 5`);
  });

  it('rejects duplicate names', () => {
    const clusters = [minimalCluster, { ...minimalCluster, handlerConfig: 'b.json' }];
    expect(parseError({ clusters })).toBe(`${SOURCE}: clusters[1].name: duplicate cluster name "web" (also clusters[0])`);
  });

  it('rejects a file that is not an object', () => {
    expect(parseError([])).toBe(`${SOURCE}: expected an object, got an array`);
    expect(parseError({ clusters: {} })).toBe(`${SOURCE}: clusters: expected an array, got an object`);
  });
});

describe('parseConfig: JSON syntax errors', () => {
  it.each([
    ['{\n  "etcd": {\n    "host": "h",\n  }\n}', '4:3', 'Expected double-quoted property name'],
    ['{\n  "clusters": [\n    { "name": }\n  ]\n}', '3:15', "Unexpected token '}'"],
    ['{\n  "clusters": [\n', '3:1', 'Unexpected end of JSON input'],
    ['', '1:1', 'Unexpected end of JSON input'],
  ])('reports line and column in %j', (text, at, message) => {
    expect(errorOf(() => parseConfig(text, SOURCE, BASE))).toBe(`${SOURCE}:${at}: invalid JSON: ${message}`);
  });

  it('accepts a byte-order mark', () => {
    expect(parseConfig('\uFEFF{}', SOURCE, BASE).clusters).toEqual([]);
  });
});

describe('findCluster', () => {
  const config = parse({ clusters: [minimalCluster, { ...minimalCluster, name: 'db', handlerConfig: 'db.json' }] });

  it('finds a cluster by name', () => {
    expect(findCluster(config, 'db').file).toBe('/etc/cc/db.json');
  });

  it('lists the configured clusters when the name is unknown', () => {
    expect(errorOf(() => findCluster(config, 'redis'))).toBe(`${SOURCE}: unknown cluster "redis" (configured: web, db)`);
    expect(errorOf(() => findCluster(parse({}), 'redis'))).toBe(`${SOURCE}: unknown cluster "redis" (no clusters configured)`);
  });
});

describe('ConfigError', () => {
  it('keeps its message on one line', () => {
    expect(new ConfigError('a\n  b\r\nc').message).toBe('a b c');
    expect(new ConfigError('a  b\t \n\u2028 c \rd').message).toBe('a  b c d');
  });
});

// Found by the fault suite's property test (test/faults/bad-input.fault.test.ts): each of these
// threw RangeError or took seconds to minutes (quadratic regexes) instead of failing fast with one
// line.
describe('parseConfig: hostile files', () => {
  it('reports deeply nested unterminated JSON', () => {
    expect(errorOf(() => parseConfig('['.repeat(100_000), SOURCE, BASE))).toBe(`${SOURCE}:1:100001: invalid JSON: Unexpected end of JSON input`);
  });

  it('rejects a self.value nested too deeply to store', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(errorOf(() => parseConfig(`{"self":{"key":"/k","value":{"a":${deep}}}}`, SOURCE, BASE))).toBe(`${SOURCE}: self.value: nested too deeply`);
  });

  it('takes linear time on long runs of blanks and slashes', () => {
    const start = performance.now();
    expect(parseError({ etcd: { server: ' '.repeat(200_000) } })).toMatch(/^\S+: etcd\.server: expected a URL/);
    expect(withCluster({ path: `${'/'.repeat(200_000)}a` }).clusters[0]!.path).toBe(`${'/'.repeat(200_000)}a`);
    expect(performance.now() - start).toBeLessThan(1000);
  });
});

describe('parseConfig: unknown fields', () => {
  const warnings = (value: unknown) => parse(value).warnings;

  it('suggests the closest known name for a likely typo', () => {
    expect(warnings({ clusters: [{ ...minimalCluster, relaod: 'x', chekc: 'y', minmembers: 2, waitt: {} }] })).toEqual([
      `${SOURCE}: clusters[0].relaod: unknown field, ignored (did you mean "reload"?)`,
      `${SOURCE}: clusters[0].chekc: unknown field, ignored (did you mean "check"?)`,
      `${SOURCE}: clusters[0].minmembers: unknown field, ignored (did you mean "minMembers"?)`,
      `${SOURCE}: clusters[0].waitt: unknown field, ignored (did you mean "wait"?)`,
    ]);
    expect(warnings({ cluster: [], etcd: { endpoint: ['http://h:1'], timeout: 5 } })).toEqual([
      `${SOURCE}: cluster: unknown field, ignored (did you mean "clusters"?)`,
      `${SOURCE}: etcd.endpoint: unknown field, ignored (did you mean "endpoints"?)`,
      `${SOURCE}: etcd.timeout: unknown field, ignored (did you mean "timeoutMs"?)`,
    ]);
    expect(warnings({ etcd: { unrelated: 1 } })).toEqual([`${SOURCE}: etcd.unrelated: unknown field, ignored`]);
  });

  it('looks into every fixed section, not into handlerConfig or self.value', () => {
    const file = {
      etcd: { auth: { username: 'u', password: 'p', pasword: 'x' }, tls: { ca: 'ca.pem', crt: 'c.pem' } },
      self: { key: '/k', tll: 5, value: { anything: 1 } },
      clusters: [{ ...minimalCluster, handlerConfig: { file: 'x', whatever: 1 }, wait: { min: 1, max: 2, mid: 1 }, members: { allow: [], denny: [] }, limits: { valueByte: 1 } }],
      status: { prefix: '/s', tl: 3 },
    };
    expect(warnings(file)).toEqual([
      `${SOURCE}: etcd.auth.pasword: unknown field, ignored (did you mean "password"?)`,
      `${SOURCE}: etcd.tls.crt: unknown field, ignored (did you mean "cert"?)`,
      `${SOURCE}: self.tll: unknown field, ignored (did you mean "ttl"?)`,
      `${SOURCE}: clusters[0].wait.mid: unknown field, ignored (did you mean "min"?)`,
      `${SOURCE}: clusters[0].members.denny: unknown field, ignored (did you mean "deny"?)`,
      `${SOURCE}: clusters[0].limits.valueByte: unknown field, ignored (did you mean "valueBytes"?)`,
      `${SOURCE}: status.tl: unknown field, ignored (did you mean "ttl"?)`,
    ]);
  });

  it('never shows a value, and keeps a strange key on one line', () => {
    const SECRET = 'Hunter2-S3cret';
    const shown = warnings({ etcd: { auth: { username: 'u', password: SECRET, token: SECRET } }, 'a\nb': 1, '': 2, 'x\u2028y': 3, ['k'.repeat(100)]: 4 });
    expect(shown.join('|')).not.toContain(SECRET);
    expect(shown).toEqual([
      `${SOURCE}: ["a\\nb"]: unknown field, ignored`,
      `${SOURCE}: [""]: unknown field, ignored`,
      `${SOURCE}: ["x\\u2028y"]: unknown field, ignored`,
      `${SOURCE}: ["${'k'.repeat(64)}…"]: unknown field, ignored`,
      `${SOURCE}: etcd.auth.token: unknown field, ignored`,
    ]);
    for (const line of shown) expect(line).not.toMatch(/[\n\r\u2028\u2029]/);
  });

  it('lists the first 20 and counts the rest, in linear time', () => {
    const many = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`relaod${i}`, i]));
    const text = JSON.stringify({ clusters: [{ ...minimalCluster, ...many }] });
    const start = performance.now();
    const shown = parseConfig(text, SOURCE, BASE).warnings;
    expect(performance.now() - start).toBeLessThan(1000);
    expect(shown).toHaveLength(21);
    expect(shown[0]).toBe(`${SOURCE}: clusters[0].relaod0: unknown field, ignored (did you mean "reload"?)`);
    expect(shown[20]).toBe(`${SOURCE}: and 49980 more unknown field(s), ignored`);
  });

  it('a long key gets no suggestion, however it starts', () => {
    expect(warnings({ ['relaod'.repeat(50_000)]: 1 })).toEqual([`${SOURCE}: ["${'relaod'.repeat(10)}rela…"]: unknown field, ignored`]);
  });

  it('a known file has none', () => {
    expect(parseConfig(PHP_SAMPLE, SOURCE, BASE).warnings).toEqual([]);
  });
});

describe('parseConfig: members policy and limits', () => {
  it('reads allow/deny networks, host names and limits', () => {
    const c = parse({ clusters: [{ ...minimalCluster, members: { allow: ['10.0.0.0/8', 'fd00::/8'], deny: ['10.0.9.9'], hostnames: false }, limits: { valueBytes: 1024 }, reloadMinIntervalMs: 0 }] })
      .clusters[0]!;
    expect(c.addressPolicy.allow?.map((a) => a.text)).toEqual(['10.0.0.0/8', 'fd00::/8']);
    expect(c.addressPolicy.deny.map((a) => a.text)).toEqual(['10.0.9.9']);
    expect(c.addressPolicy.hostnames).toBe(false);
    expect(c.limits).toEqual({ ...DEFAULT_MEMBER_LIMITS, valueBytes: 1024 });
    expect(c.reloadMinIntervalMs).toBe(0);
  });

  it('names the field of a bad network or limit', () => {
    const clusterError = (fields: Record<string, unknown>) => errorOf(() => withCluster(fields)).replace(`${SOURCE}: `, '');
    expect(clusterError({ members: { allow: ['10.0.0.0/33'] } })).toBe('clusters[0].members.allow[0]: expected an address or network such as "10.0.0.0/8" or "fd00::/8", got "10.0.0.0/33"');
    expect(clusterError({ members: { hostnames: 'no' } })).toBe('clusters[0].members.hostnames: expected true or false, got "no"');
    expect(clusterError({ limits: { metaDepth: 0 } })).toBe('clusters[0].limits.metaDepth: expected an integer between 1 and 1000, got 0');
    expect(clusterError({ reloadMinIntervalMs: -1 })).toBe('clusters[0].reloadMinIntervalMs: expected an integer >= 0, got -1');
  });
});

describe('parseConfig: status', () => {
  it('defaults to /cluster-control/status with a 10 s TTL; false turns it off; a prefix is normalized', () => {
    expect(parse({}).status).toEqual({ prefix: '/cluster-control/status', ttl: 10 });
    expect(parse({ status: false }).status).toBe(false);
    expect(parse({ status: { prefix: '/fleet//', ttl: 5 } }).status).toEqual({ prefix: '/fleet', ttl: 5 });
  });

  it('refuses a status prefix that overlaps a cluster', () => {
    expect(parseError({ status: { prefix: '/clusters/web/status' }, clusters: [minimalCluster] })).toMatch(/clusters\[0\]\.path: overlaps the status prefix "\/clusters\/web\/status"/);
    expect(parseError({ status: { prefix: '/clusters' }, clusters: [minimalCluster] })).toMatch(/overlaps the status prefix/);
    expect(parseError({ status: { prefix: 'status' } })).toMatch(/status\.prefix: expected a key prefix/);
    expect(parseError({ status: { ttl: 1 } })).toMatch(/status\.ttl: expected an integer >= 2, got 1/);
  });
});
