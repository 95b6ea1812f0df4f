import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';

// The PHP version's sample startup script, step by step, with its config files unchanged.
describe.skipIf(!haveEtcd)('the PHP startup flow', () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd?.dispose();
  });

  const url = () => new URL(etcd.endpoint);
  const phpConfigs = {
    'server form': () => ({ server: `${etcd.endpoint}/` }),
    'host/port form': () => ({ host: url().hostname, port: Number(url().port) }),
  };

  for (const [form, etcdSection] of Object.entries(phpConfigs)) {
    it(`runs prepare → watch → heartbeat → watchkey → removekey (${form})`, async () => {
      const dir = await tempDir();
      const cluster = `/clusters/php-${form.replace(/\W/g, '')}`;
      // Written exactly as a PHP user would have it: class names, handlerConfig as a file name.
      await writeJson(join(dir, 'cluster-control.conf'), {
        etcd: etcdSection(),
        self: { key: `${cluster}/10.0.0.5:80`, ttl: 10, heartbeat: 2 },
        clusters: [{ name: 'webapp', path: cluster, handler: 'AlanKent\\ClusterControl\\Handlers\\JsonHandler', handlerConfig: 'webapp.json' }],
      });
      const file = join(dir, 'webapp.json');
      const readMembers = async () => JSON.parse(await readFile(file, 'utf8')) as string[];

      // heartbeat --once: the own key exists before anything else runs.
      const once = await runCli(['cc:heartbeat', '--once'], { cwd: dir });
      expect(once.code).toBe(0);
      expect(await etcd.ctl('get', `${cluster}/10.0.0.5:80`, '--print-value-only')).toBe('\n');

      // prepare prints the revision, and only that, on stdout.
      const prepared = await runCli(['cc:clusterprepare', 'webapp'], { cwd: dir });
      expect(prepared.code).toBe(0);
      expect(prepared.stdout).toMatch(/^\d+\n$/);
      expect(await readMembers()).toEqual(['10.0.0.5:80']);

      // A member added between prepare and watch (percent-encoded, as the PHP demo wrote it) is not lost.
      await etcd.ctl('put', `${cluster}/10.0.0.7%3A8080`, '');
      const reloadLog = join(dir, 'reloads.log');
      const watcher = spawnCli(['cc:clusterwatch', 'webapp', prepared.stdout.trim(), 'sh', '-c', `echo "$CLUSTER_CONTROL_MEMBERS" >> ${reloadLog}`], { cwd: dir });
      await waitFor(async () => (await readMembers()).includes('10.0.0.7:8080'), { what: 'the member added before watch started' });
      expect(await readMembers()).toEqual(['10.0.0.5:80', '10.0.0.7:8080']);
      await waitFor(async () => (await readFile(reloadLog, 'utf8').catch(() => '')).includes('10.0.0.5:80 10.0.0.7:8080'), { what: 'reload command with the members in its env' });

      // heartbeat takes the key over; watchkey waits on it.
      const heartbeat = spawnCli(['cc:heartbeat'], { cwd: dir });
      await heartbeat.waitForLog(/registered/);
      const watchkey = spawnCli(['cc:watchkey'], { cwd: dir });
      await watchkey.waitForLog(/is present; watching/);

      const listed = await runCli(['members', 'webapp'], { cwd: dir });
      expect(listed.code).toBe(0);
      expect(listed.stdout).toBe('10.0.0.5:80\n10.0.0.7:8080\n');

      // removekey: the operator's "remove this node": heartbeat and watchkey exit 0, the file follows.
      const removed = await runCli(['cc:removekey'], { cwd: dir });
      expect(removed.code).toBe(0);
      expect((await heartbeat.exited()).code).toBe(0);
      expect((await watchkey.exited()).code).toBe(0);
      await waitFor(async () => JSON.stringify(await readMembers()) === JSON.stringify(['10.0.0.7:8080']), { what: 'file without the removed node' });

      // removekey again: already absent is still success.
      expect((await runCli(['cc:removekey'], { cwd: dir })).code).toBe(0);

      watcher.kill('SIGTERM');
      const watcherExit = await watcher.exited();
      expect(watcherExit.code).toBe(0);
      expect(watcherExit.stdout).toBe('');
    });
  }

  it('members --json reports names, hosts, ports and meta', async () => {
    const dir = await tempDir();
    await writeJson(join(dir, 'cluster-control.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      clusters: [{ name: 'db', path: '/clusters/json-db', handler: 'json', handlerConfig: { file: 'db.json' } }],
    });
    await etcd.ctl('put', '/clusters/json-db/10.0.0.9:3306', '{"weight":3}');
    await etcd.ctl('put', '/clusters/json-db/[fd00::5]:3306', 'not json');
    const res = await runCli(['members', 'db', '--json'], { cwd: dir });
    expect(res.code).toBe(0);
    const parsed = JSON.parse(res.stdout) as { members: unknown[] };
    expect(parsed.members).toEqual([
      { name: '10.0.0.9:3306', host: '10.0.0.9', port: 3306, meta: { weight: 3 } },
      { name: '[fd00::5]:3306', host: 'fd00::5', port: 3306, meta: {} },
    ]);
  });
});
