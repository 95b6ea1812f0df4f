import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { tempDir } from '#test-support/cli.js';

const run = promisify(execFile);
const coreDir = resolve(import.meta.dirname, '..');

// @cluster-control/core is installable alone: packed from its built dist/, installed into a
// scratch project with npm (its own dependencies only), and used there against a real etcd.
describe.skipIf(!haveEtcd)('@cluster-control/core on its own', () => {
  let etcd: EtcdServer;
  let project: string;
  beforeAll(async () => {
    etcd = await startEtcd();
    project = await tempDir('cc-standalone-');
    const { stdout } = await run('pnpm', ['pack', '--pack-destination', project], { cwd: coreDir });
    const tarball = stdout.trim().split('\n').at(-1)!;
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: project });
  }, 180_000);
  afterAll(async () => {
    await etcd?.dispose();
  });

  it('brings no other cluster-control package', async () => {
    expect(await readdir(join(project, 'node_modules', '@cluster-control'))).toEqual(['core']);
    const pkg = JSON.parse(await readFile(join(project, 'node_modules/@cluster-control/core/package.json'), 'utf8')) as { dependencies: object };
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['etcd3', 'prom-client']);
  });

  it('registers, reads and renders a cluster through the public API', async () => {
    const script = `
      import { Registration, prepareCluster, silentLogger } from '@cluster-control/core';
      import { connectEtcd } from '@cluster-control/core/etcd';
      const etcd = await connectEtcd({ endpoints: [process.argv[2]] });
      const reg = new Registration(etcd, { key: '/clusters/alone/10.0.0.1:80', value: '{"weight":2}', ttl: 10, heartbeat: 3, logger: silentLogger });
      await reg.register();
      const handler = { name: 'lines', parseOptions: () => ({}), render: (ms) => ms.map((m) => m.name + ' ' + m.meta.weight).join('\\n') + '\\n' };
      const target = { name: 'alone', path: '/clusters/alone', file: process.argv[3], handler, handlerOptions: {}, checkTimeoutMs: 1000, minMembers: 0 };
      const { revision, outcome } = await prepareCluster(etcd, target, silentLogger);
      await reg.stop();
      const after = await etcd.range({ key: '/clusters/alone/', prefix: true });
      console.log(JSON.stringify({ revision: String(revision), outcome, left: after.kvs.length }));
      etcd.close();
    `;
    await writeFile(join(project, 'use-core.mjs'), script);
    const out = join(project, 'alone.txt');
    const { stdout } = await run(process.execPath, ['use-core.mjs', etcd.endpoint, out], { cwd: project, timeout: 30_000 });
    const result = JSON.parse(stdout) as { revision: string; outcome: string; left: number };
    expect(result.outcome).toBe('installed');
    expect(Number(result.revision)).toBeGreaterThan(1);
    expect(result.left).toBe(0);
    expect(await readFile(out, 'utf8')).toBe('10.0.0.1:80 2\n');
  });
});
