import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';

/** The member names etcd holds under a prefix, sorted as the json handler sorts them. */
async function etcdMembers(etcd: EtcdServer, path: string): Promise<string[]> {
  const out = await etcd.ctl('get', `${path}/`, '--prefix', '--keys-only');
  return out
    .split('\n')
    .filter(Boolean)
    .map((k) => k.slice(path.length + 1))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

describe.skipIf(!haveEtcd)('a watcher keeps its file equal to etcd', () => {
  let etcd: EtcdServer | undefined;
  afterEach(async () => {
    await etcd?.dispose();
    etcd = undefined;
  });

  async function setup(path: string) {
    etcd = await startEtcd();
    const dir = await tempDir();
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint], timeoutMs: 2000 },
      clusters: [{ name: 'web', path, handler: 'json', handlerConfig: 'web.json' }],
    });
    const members = async () => JSON.parse(await readFile(join(dir, 'web.json'), 'utf8')) as string[];
    return { server: etcd, dir, conf, members };
  }

  it('survives an etcd restart, keeping the last good file while etcd is down', async () => {
    const { server, conf, members } = await setup('/clusters/restart');
    for (let i = 1; i <= 3; i++) await server.ctl('put', `/clusters/restart/10.2.0.${i}:80`, '');
    const prepared = await runCli(['--conf', conf, 'prepare', 'web']);
    const watcher = spawnCli(['--conf', conf, 'watch', 'web', prepared.stdout.trim()]);
    await watcher.waitForLog(/in sync at revision/);

    await server.stop();
    // While etcd is away the file keeps its last good contents: never an empty list.
    await watcher.waitForLog(/watch broken|unavailable/);
    expect(await members()).toEqual(['10.2.0.1:80', '10.2.0.2:80', '10.2.0.3:80']);

    await server.start();
    await server.ctl('del', '/clusters/restart/10.2.0.2:80');
    await server.ctl('put', '/clusters/restart/10.2.0.4:80', '');
    const expected = await etcdMembers(server, '/clusters/restart');
    await waitFor(async () => JSON.stringify(await members()) === JSON.stringify(expected), { timeoutMs: 30_000, what: 'convergence after restart' });
    expect(watcher.stderr()).toMatch(/re-read at revision/);

    watcher.kill('SIGTERM');
    expect((await watcher.exited()).code).toBe(0);
  });

  it('starts from a compacted revision by re-reading everything', async () => {
    const { server, conf, members } = await setup('/clusters/compact');
    await server.ctl('put', '/clusters/compact/10.3.0.1:80', '');
    const prepared = await runCli(['--conf', conf, 'prepare', 'web']);
    const revision = prepared.stdout.trim();
    // Changes after prepare, then the history they live in is compacted away.
    await server.ctl('put', '/clusters/compact/10.3.0.2:80', '');
    await server.ctl('del', '/clusters/compact/10.3.0.1:80');
    await server.ctl('put', '/clusters/compact/10.3.0.3:80', '');
    await server.ctl('compact', String(await server.revision()));

    const watcher = spawnCli(['--conf', conf, 'watch', 'web', revision]);
    await watcher.waitForLog(/compacted/);
    await waitFor(async () => JSON.stringify(await members()) === JSON.stringify(['10.3.0.2:80', '10.3.0.3:80']), { what: 'state after compaction' });
    expect(await members()).toEqual(await etcdMembers(server, '/clusters/compact'));

    // And it goes on watching from the new revision.
    await server.ctl('put', '/clusters/compact/10.3.0.4:80', '');
    await waitFor(async () => (await members()).includes('10.3.0.4:80'), { what: 'a change after the re-read' });
    watcher.kill('SIGTERM');
    expect((await watcher.exited()).code).toBe(0);
  });

  it('recovers when its revision is compacted while it is disconnected', async () => {
    const { server, conf, members } = await setup('/clusters/compact2');
    await server.ctl('put', '/clusters/compact2/10.4.0.1:80', '');
    const watcher = spawnCli(['--conf', conf, 'watch', 'web', '0']);
    await waitFor(async () => (await members()).includes('10.4.0.1:80'), { what: 'first state' });
    await server.stop();
    await server.start();
    // Race the watcher's reconnect: many changes plus a compaction right away.
    for (let i = 2; i <= 6; i++) await server.ctl('put', `/clusters/compact2/10.4.0.${i}:80`, '');
    await server.ctl('del', '/clusters/compact2/10.4.0.1:80');
    await server.ctl('compact', String(await server.revision()));
    const expected = await etcdMembers(server, '/clusters/compact2');
    await waitFor(async () => JSON.stringify(await members()) === JSON.stringify(expected), { timeoutMs: 30_000, what: 'convergence' });
    watcher.kill('SIGTERM');
    expect((await watcher.exited()).code).toBe(0);
  });

  it('prepare gives up with a clear message and exit 1 when etcd is unreachable', async () => {
    const { server, conf } = await setup('/clusters/down');
    await server.stop();
    const started = Date.now();
    const res = await runCli(['--conf', conf, 'prepare', 'web', '--timeout', '2']);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/retrying/);
    expect(res.stderr.trim().split('\n').at(-1)).toMatch(/^cluster-control: prepare: gave up after 2s/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
