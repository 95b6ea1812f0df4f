import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config/config-error.js';
import type { AnyHandler } from './handler.js';
import { builtinNameFor, resolveHandler } from './resolve-handler.js';

const json: AnyHandler = { name: 'json', parseOptions: (o) => o, render: () => '[]\n' };
const builtins = { json, redis: { ...json, name: 'redis' }, mysql: { ...json, name: 'mysql' } };

describe('builtinNameFor', () => {
  it('maps PHP class names to built-in names', () => {
    expect(builtinNameFor('AlanKent\\ClusterControl\\Handlers\\JsonHandler')).toBe('json');
    expect(builtinNameFor('\\AlanKent\\ClusterControl\\Handlers\\RedisHandler')).toBe('redis');
    expect(builtinNameFor('AlanKent\\ClusterControl\\Handlers\\MySQLHandler')).toBe('mysql');
  });
  it('keeps plain names and leaves paths and packages alone', () => {
    expect(builtinNameFor('nginx')).toBe('nginx');
    expect(builtinNameFor('./h.js')).toBeUndefined();
    expect(builtinNameFor('@acme/handler')).toBeUndefined();
  });
});

describe('resolveHandler', () => {
  it('finds built-ins by name and by PHP class name', async () => {
    const baseDir = tmpdir();
    expect(await resolveHandler('json', { builtins, baseDir })).toBe(json);
    expect((await resolveHandler('AlanKent\\ClusterControl\\Handlers\\MySQLHandler', { builtins, baseDir })).name).toBe('mysql');
  });

  it('loads a handler module by path relative to the config directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cc-handler-'));
    await writeFile(join(dir, 'upper.mjs'), `export default { name: 'upper', parseOptions: (o) => o, render: (ms) => ms.map((m) => m.name.toUpperCase()).join('\\n') };`);
    const handler = await resolveHandler('./upper.mjs', { builtins, baseDir: dir });
    expect(handler.name).toBe('upper');
    expect(handler.render([{ name: 'web-1' }] as never, {}, { cluster: 'c', path: '/c' })).toBe('WEB-1');
  });

  it('loads a handler package by name from the config directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cc-handler-'));
    const pkg = join(dir, 'node_modules', 'cc-handler-lines');
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'cc-handler-lines', type: 'module', exports: './index.js' }));
    await writeFile(join(pkg, 'index.js'), `export const handler = { name: 'lines', parseOptions: (o) => o, render: (ms) => ms.map((m) => m.name).join('\\n') };`);
    expect((await resolveHandler('cc-handler-lines', { builtins, baseDir: dir })).name).toBe('lines');
  });

  it('names the field in one-line errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cc-handler-'));
    await writeFile(join(dir, 'bad.mjs'), 'export default { nope: true };');
    const opts = { builtins, baseDir: dir, field: 'clusters[2].handler' };
    await expect(resolveHandler('AlanKent\\ClusterControl\\Handlers\\FooHandler', opts)).rejects.toThrow(/^clusters\[2\]\.handler: unknown handler/);
    await expect(resolveHandler('no-such-package-xyz', opts)).rejects.toThrow(ConfigError);
    await expect(resolveHandler('./bad.mjs', opts)).rejects.toThrow(/exports no handler/);
    await expect(resolveHandler('./missing.mjs', opts)).rejects.toThrow(/could not load handler module/);
  });
});
