import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EtcdConnection } from '@cluster-control/core';
import { connectEtcd } from '@cluster-control/core/etcd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { type CliProcess, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';

// From members to files, through the CLI: check, reload (configured, retried), minMembers, wait
// (README: Configuration; Behaviour you can rely on; minMembers on first start).
describe.skipIf(!haveEtcd)('watch: check, reload, minMembers, wait', () => {
  let etcd: EtcdServer;
  let client: EtcdConnection;
  const running: CliProcess[] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
    client = await connectEtcd({ endpoints: [etcd.endpoint] });
  });
  afterAll(async () => {
    for (const p of running) p.kill('SIGKILL');
    client?.close();
    await etcd?.dispose();
  });

  async function watcher(path: string, cluster: Record<string, unknown>) {
    const dir = await tempDir();
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      clusters: [{ name: 'web', path, handler: 'json', handlerConfig: join(dir, 'web.json'), ...cluster }],
    });
    const proc = spawnCli(['--conf', conf, 'watch', 'web', '0']);
    running.push(proc);
    await proc.waitForLog(/in sync at revision/);
    const file = join(dir, 'web.json');
    return { dir, proc, file, members: async () => JSON.parse(await readFile(file, 'utf8')) as string[] };
  }

  it('a failing check leaves the file unchanged, and the next change is tried again', async () => {
    // The check refuses any file that mentions 10.6.0.66.
    const w = await watcher('/clusters/check', { check: ['sh', '-c', '! grep -q 10.6.0.66 "$0"', '{src}'] });
    await client.put('/clusters/check/10.6.0.1:80', '');
    await waitFor(async () => (await w.members()).includes('10.6.0.1:80'), { what: 'first member' });
    await client.put('/clusters/check/10.6.0.66:80', '');
    await w.proc.waitForLog(/check failed; .* not replaced/);
    expect(await w.members()).toEqual(['10.6.0.1:80']);
    await client.delete('/clusters/check/10.6.0.66:80');
    await client.put('/clusters/check/10.6.0.2:80', '');
    await waitFor(async () => (await w.members()).includes('10.6.0.2:80'), { what: 'the next change installed' });
    expect(await w.members()).toEqual(['10.6.0.1:80', '10.6.0.2:80']);
  });

  it('runs the configured reload with the cluster, file and members in its environment, retrying failures', async () => {
    const dir = await tempDir();
    const log = join(dir, 'reload.log');
    const counter = join(dir, 'count');
    // Fails on its first two runs, then succeeds: the watcher must keep going and retry.
    const script = `n=$(cat ${counter} 2>/dev/null || echo 0); echo $((n+1)) > ${counter}; echo "$n $CLUSTER_CONTROL_CLUSTER $CLUSTER_CONTROL_FILE $CLUSTER_CONTROL_MEMBERS" >> ${log}; [ $n -ge 2 ]`;
    const w = await watcher('/clusters/reload', { reload: ['sh', '-c', script] });
    await client.put('/clusters/reload/10.7.0.1:80', '');
    await waitFor(async () => (await readFile(log, 'utf8').catch(() => '')).includes(`2 web ${w.file} 10.7.0.1:80`), { timeoutMs: 20_000, what: 'a successful third run' });
    expect(w.proc.stderr()).toMatch(/reload.*(failed|exited with code 1)/i);
    expect(w.proc.child.exitCode).toBeNull();
  });

  it('minMembers: a render below it is refused and the file keeps its members', async () => {
    const w = await watcher('/clusters/min', { minMembers: 2 });
    for (const i of [1, 2, 3]) await client.put(`/clusters/min/10.8.0.${i}:80`, '');
    await waitFor(async () => (await w.members().catch(() => [])).length === 3, { what: 'three members' });
    await client.delete('/clusters/min/10.8.0.1:80');
    await waitFor(async () => (await w.members()).length === 2, { what: 'two members' });
    await client.delete('/clusters/min/10.8.0.2:80');
    await w.proc.waitForLog(/refusing to install 1 member\(s\), fewer than minMembers 2/);
    expect(await w.members()).toEqual(['10.8.0.2:80', '10.8.0.3:80']);
  });

  it('wait {min, max}: a burst of changes is installed and reloaded a few times, not once per change', async () => {
    const dir = await tempDir();
    const log = join(dir, 'reload.log');
    const w = await watcher('/clusters/wait', { wait: { min: 300, max: 2000 }, reload: ['sh', '-c', `echo x >> ${log}`] });
    const before = (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
    for (let i = 1; i <= 50; i++) await client.put(`/clusters/wait/10.9.0.${i}:80`, '');
    await waitFor(async () => (await w.members()).length === 50, { what: 'all 50 members' });
    await new Promise((r) => setTimeout(r, 500));
    const reloads = (await readFile(log, 'utf8')).split('\n').filter(Boolean).length - before;
    expect(reloads).toBeGreaterThanOrEqual(1);
    expect(reloads).toBeLessThanOrEqual(3);
  });
});
