import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';

// README, Drain: `heartbeat` on SIGTERM deletes its key at R, revokes the lease, and waits (bounded
// by --drain-max) until every watcher of the clusters containing the key applied R.
describe.skipIf(!haveEtcd)('heartbeat drains on SIGTERM', () => {
  let etcd: EtcdServer;
  let dir: string;
  let watcher: CliProcess;
  const running: CliProcess[] = [];
  const path = '/clusters/hb';

  beforeAll(async () => {
    etcd = await startEtcd();
    dir = await tempDir('cc-hb-drain-');
    const conf = await writeJson(join(dir, 'watch.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      status: { prefix: '/cc/status', ttl: 30 },
      clusters: [{ name: 'hb', path, handler: 'json', handlerConfig: join(dir, 'hb.json'), reload: ['true'] }],
    });
    watcher = spawnCli(['--conf', conf, 'watch', 'hb', '0']);
    running.push(watcher);
    await watcher.waitForLog(/in sync at revision/);
    await waitFor(async () => (await etcd.ctl('get', '/cc/status/', '--prefix', '--keys-only')).trim() !== '', { what: 'the watcher to publish its status' });
  });
  afterAll(async () => {
    for (const p of running) {
      p.child.kill('SIGCONT');
      p.kill('SIGKILL');
    }
    await etcd?.dispose();
  });

  async function heartbeat(name: string, status: unknown, args: string[] = []): Promise<{ proc: CliProcess; key: string }> {
    const key = `${path}/${name}:80`;
    const conf = await writeJson(join(dir, `${name}.conf`), { etcd: { endpoints: [etcd.endpoint] }, self: { key, ttl: 30 }, ...(status === undefined ? {} : { status }) });
    const proc = spawnCli(['--conf', conf, 'heartbeat', ...args]);
    running.push(proc);
    await proc.waitForLog(/registered/);
    await waitFor(async () => (await etcd.ctl('get', '/cc/status/', '--prefix')).includes(`"members":1`), { what: 'the watcher to apply the key' });
    return { proc, key };
  }

  it('a frozen watcher holds the exit until it thaws; the key is gone at once', async () => {
    const { proc, key } = await heartbeat('10.0.0.1', { prefix: '/cc/status', ttl: 30 });
    watcher.child.kill('SIGSTOP');
    proc.kill('SIGTERM');
    await proc.waitForLog(/deleted \/clusters\/hb\/10\.0\.0\.1:80 at revision \d+; waiting up to 30s/);
    expect((await etcd.ctl('get', key, '--keys-only')).trim()).toBe('');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(proc.child.exitCode).toBeNull();
    watcher.child.kill('SIGCONT');
    const end = await proc.exited(10_000);
    expect(end.code).toBe(0);
    expect(end.stderr).toMatch(/info: drain: waited (\d+\.\d) s for 1 watcher of hb to apply revision \d+; applied: hb: \S+ \(watch\) after/);
    expect(Number(/waited (\d+\.\d) s/.exec(end.stderr)![1])).toBeGreaterThanOrEqual(1.5);
  });

  it('--drain-max bounds it, naming the watcher that missed it; status false: no wait', async () => {
    const { proc } = await heartbeat('10.0.0.2', { prefix: '/cc/status', ttl: 30 }, ['--drain-max', '1']);
    watcher.child.kill('SIGSTOP');
    const sent = Date.now();
    proc.kill('SIGTERM');
    const end = await proc.exited(10_000);
    watcher.child.kill('SIGCONT');
    expect(end.code).toBe(0);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(1_000);
    expect(Date.now() - sent).toBeLessThan(4_000);
    expect(end.stderr).toMatch(new RegExp(`warn: drain: .*missed the bound: hb: \\S+:${watcher.child.pid}:[0-9a-f]+ \\(watch\\): applied \\d+ < \\d+`));

    // The watcher publishes under /cc/status, but this heartbeat's config turns status off.
    const off = await heartbeat('10.0.0.3', false);
    watcher.child.kill('SIGSTOP');
    off.proc.kill('SIGTERM');
    const offEnd = await off.proc.exited(10_000);
    watcher.child.kill('SIGCONT');
    expect(offEnd.code).toBe(0);
    expect(offEnd.stderr).not.toMatch(/waiting up to/);
    expect(offEnd.stderr).toMatch(/deregistered \/clusters\/hb\/10\.0\.0\.3:80/);
  });
});
