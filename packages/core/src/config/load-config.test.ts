import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { endpointsFromEnv, loadConfig, resolveConfigPath } from './load-config.js';

let dir: string;
const conf = (name: string, handlerConfig = 'out.json') => JSON.stringify({ clusters: [{ name, path: `/clusters/${name}`, handler: 'json', handlerConfig }] });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cc-config-'));
  await mkdir(path.join(dir, 'etc'));
  await writeFile(path.join(dir, 'cluster-control.conf'), conf('default'));
  await writeFile(path.join(dir, 'etc', 'explicit.conf'), conf('explicit', '../out/explicit.json'));
  await writeFile(path.join(dir, 'etc', 'env.conf'), conf('env'));
  await writeFile(path.join(dir, 'broken.conf'), '{\n  "clusters": [\n    { "name": "x", }\n  ]\n}\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function loadError(options: Parameters<typeof loadConfig>[0]): Promise<string> {
  const error = await loadConfig(options).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).message;
}

describe('loadConfig', () => {
  it('reads ./cluster-control.conf in cwd by default', async () => {
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.sourcePath).toBe(path.join(dir, 'cluster-control.conf'));
    expect(config.baseDir).toBe(dir);
    expect(config.clusters[0]?.name).toBe('default');
  });

  it('prefers CLUSTER_CONTROL_CONF over the default, resolved against cwd', async () => {
    const config = await loadConfig({ cwd: dir, env: { CLUSTER_CONTROL_CONF: 'etc/env.conf' } });
    expect(config.clusters[0]?.name).toBe('env');
  });

  it('prefers an explicit path over CLUSTER_CONTROL_CONF', async () => {
    const config = await loadConfig({ cwd: dir, path: 'etc/explicit.conf', env: { CLUSTER_CONTROL_CONF: 'etc/env.conf' } });
    expect(config.clusters[0]?.name).toBe('explicit');
  });

  it('resolves relative files against the config file directory, not cwd', async () => {
    const config = await loadConfig({ cwd: '/', path: path.join(dir, 'etc', 'explicit.conf') });
    expect(config.baseDir).toBe(path.join(dir, 'etc'));
    expect(config.clusters[0]?.file).toBe(path.join(dir, 'out', 'explicit.json'));
  });

  it('reports a missing file', async () => {
    const file = path.join(dir, 'nope.conf');
    expect(await loadError({ path: file })).toBe(`${file}: configuration file not found (set --conf or CLUSTER_CONTROL_CONF)`);
    expect(await loadError({ cwd: path.join(dir, 'etc'), env: {} })).toBe(`${path.join(dir, 'etc', 'cluster-control.conf')}: configuration file not found (set --conf or CLUSTER_CONTROL_CONF)`);
  });

  it('reports an unreadable file', async () => {
    expect(await loadError({ path: path.join(dir, 'etc') })).toBe(`${path.join(dir, 'etc')}: cannot read configuration file (it is a directory)`);
  });

  it('reports JSON syntax errors with the file, line and column', async () => {
    const file = path.join(dir, 'broken.conf');
    expect(await loadError({ path: file })).toBe(`${file}:3:20: invalid JSON: Expected double-quoted property name`);
  });
});

describe('loadConfig: etcd.tls files', () => {
  const KEY_MATERIAL = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC-secret-key-material';
  const tlsConf = async (name: string, tls: Record<string, string>) => {
    const file = path.join(dir, name);
    await writeFile(file, JSON.stringify({ etcd: { endpoints: ['https://h:2379'], tls } }));
    return file;
  };
  const PEM = `-----BEGIN PRIVATE KEY-----\n${KEY_MATERIAL}\n-----END PRIVATE KEY-----\n`;

  beforeAll(async () => {
    await writeFile(path.join(dir, 'ok.pem'), PEM);
    await writeFile(path.join(dir, 'raw.key'), `${KEY_MATERIAL}\n`);
  });

  it('accepts readable PEM files', async () => {
    const config = await loadConfig({ path: await tlsConf('tls-ok.conf', { ca: 'ok.pem', cert: 'ok.pem', key: 'ok.pem' }) });
    expect(config.etcd.tls).toEqual({ ca: path.join(dir, 'ok.pem'), cert: path.join(dir, 'ok.pem'), key: path.join(dir, 'ok.pem') });
  });

  it('a key that is not PEM: one line naming the field and the path, never the contents', async () => {
    const file = await tlsConf('tls-raw.conf', { ca: 'ok.pem', cert: 'ok.pem', key: 'raw.key' });
    const message = await loadError({ path: file });
    expect(message).toBe(`${file}: etcd.tls.key: ${path.join(dir, 'raw.key')} is not a PEM file (no "-----BEGIN" line; contents not shown)`);
    expect(message).not.toContain(KEY_MATERIAL.slice(0, 12));
  });

  it('a missing or unreadable file: names the field, the path and why', async () => {
    const missing = await tlsConf('tls-missing.conf', { ca: 'ok.pem', cert: 'ok.pem', key: 'nope.key' });
    expect(await loadError({ path: missing })).toBe(`${missing}: etcd.tls.key: cannot read ${path.join(dir, 'nope.key')} (no such file)`);
    const directory = await tlsConf('tls-dir.conf', { ca: 'etc' });
    expect(await loadError({ path: directory })).toBe(`${directory}: etcd.tls.ca: cannot read ${path.join(dir, 'etc')} (it is a directory)`);
  });
});

describe('loadConfig: CLUSTER_CONTROL_ETCD', () => {
  const withEndpoints = async (name: string, etcd: Record<string, unknown>) => {
    const file = path.join(dir, name);
    await writeFile(file, JSON.stringify({ etcd }));
    return file;
  };

  it('replaces the configured endpoints, whatever form the file uses', async () => {
    const env = { CLUSTER_CONTROL_ETCD: 'http://10.0.0.9:2379, etcd2:4001 ,https://etcd3/' };
    const expected = ['http://10.0.0.9:2379', 'http://etcd2:4001', 'https://etcd3:2379'];
    for (const etcd of [{ endpoints: ['http://a:1', 'http://b:2'] }, { server: 'http://a:1/' }, { host: 'a', port: 1 }, {}]) {
      const file = await withEndpoints('env-etcd.conf', etcd);
      expect((await loadConfig({ path: file, env })).etcd.endpoints).toEqual(expected);
    }
  });

  it('an unset or blank variable changes nothing', async () => {
    const file = await withEndpoints('env-blank.conf', { endpoints: ['http://a:1'] });
    expect((await loadConfig({ path: file, env: {} })).etcd.endpoints).toEqual(['http://a:1']);
    expect((await loadConfig({ path: file, env: { CLUSTER_CONTROL_ETCD: ' ' } })).etcd.endpoints).toEqual(['http://a:1']);
  });

  it('a bad endpoint is one line naming the variable, user:password never shown', async () => {
    const file = await withEndpoints('env-bad.conf', {});
    const error = (value: string) => loadError({ path: file, env: { CLUSTER_CONTROL_ETCD: value } });
    const expected = 'CLUSTER_CONTROL_ETCD: expected comma-separated URLs like "http://10.0.0.1:2379,http://10.0.0.2:2379"';
    expect(await error('http://ok:1,ftp://h:21')).toBe(`${expected}, got "ftp://h:21"`);
    expect(await error('http://ok:1,,http://ok:2')).toBe(`${expected}, got an empty item`);
    expect(await error('http://h:2379/v3')).toBe(`${expected}, got "http://h:2379/v3"`);
    const secret = await error('http://cc:Hunter2@h:2379');
    expect(secret).toBe(`${expected} without user:password (put credentials in etcd.auth), got "http://***@h:2379"`);
    expect(secret).not.toContain('Hunter2');
    expect(await error('h\nx:1')).toBe(`${expected}, got "h\\nx:1"`);
  });

  it('endpointsFromEnv reads process.env-like objects', () => {
    expect(endpointsFromEnv({ CLUSTER_CONTROL_ETCD: '[fd00::1]:2379' })).toEqual(['http://[fd00::1]:2379']);
    expect(endpointsFromEnv({})).toBeUndefined();
  });
});

describe('resolveConfigPath', () => {
  it('ignores an empty CLUSTER_CONTROL_CONF', () => {
    expect(resolveConfigPath({ cwd: '/srv', env: { CLUSTER_CONTROL_CONF: '' } })).toBe('/srv/cluster-control.conf');
    expect(resolveConfigPath({ cwd: '/srv', env: { CLUSTER_CONTROL_CONF: '/etc/cc.conf' } })).toBe('/etc/cc.conf');
  });
});
