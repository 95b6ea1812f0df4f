import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';

const TTL = 3;

// How a registered service leaves (README: Using it; Signals), and how fast a watcher's file
// follows.
describe.skipIf(!haveEtcd)('registration lifecycle', () => {
  let etcd: EtcdServer;
  let dir: string;
  let watcher: CliProcess;
  const file = () => join(dir, 'web.json');
  const members = async () => JSON.parse(await readFile(file(), 'utf8')) as string[];
  /** A node's config: its own key under /clusters/life, watching the same cluster. */
  const nodeConfig = async (name: string) =>
    writeJson(join(dir, `${name}.conf`), {
      etcd: { endpoints: [etcd.endpoint] },
      self: { key: `/clusters/life/${name}`, ttl: TTL, heartbeat: 1 },
      clusters: [{ name: 'web', path: '/clusters/life', handler: 'json', handlerConfig: 'web.json' }],
    });

  beforeAll(async () => {
    etcd = await startEtcd();
    dir = await tempDir();
    await nodeConfig('watcher');
    watcher = spawnCli(['--conf', join(dir, 'watcher.conf'), 'watch', 'web', '0']);
    await waitFor(() => members().then(() => true), { what: 'the watcher to write its first file' });
  });
  afterAll(async () => {
    watcher?.kill('SIGTERM');
    await watcher?.exited();
    await etcd?.dispose();
  });

  const startNode = async (name: string) => {
    const conf = await nodeConfig(name);
    const node = spawnCli(['--conf', conf, 'heartbeat']);
    await waitFor(async () => (await members()).includes(name), { what: `${name} in the watcher's file` });
    return node;
  };

  it('SIGKILL: the member disappears when its lease expires, within the TTL', async () => {
    const node = await startNode('10.1.0.1:80');
    node.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(async () => !(await members()).includes('10.1.0.1:80'), { timeoutMs: (TTL + 5) * 1000, what: 'expiry' });
    const took = Date.now() - killedAt;
    // Lease expiry is checked by etcd on its own schedule; allow a little past the TTL.
    expect(took).toBeLessThanOrEqual(TTL * 1000 + 1500);
  });

  it('SIGTERM: the member disappears at once (lease revoked), exit 0', async () => {
    const node = await startNode('10.1.0.2:80');
    const sentAt = Date.now();
    node.kill('SIGTERM');
    expect((await node.exited()).code).toBe(0);
    await waitFor(async () => !(await members()).includes('10.1.0.2:80'), { timeoutMs: 5_000, what: 'removal after SIGTERM' });
    expect(Date.now() - sentAt).toBeLessThan(TTL * 1000);
  });

  it('deleting the key by hand makes heartbeat and watchkey exit 0', async () => {
    const node = await startNode('10.1.0.3:80');
    const watchkey = spawnCli(['--conf', join(dir, '10.1.0.3:80.conf'), 'watchkey']);
    await watchkey.waitForLog(/is present; watching/);
    await etcd.ctl('del', '/clusters/life/10.1.0.3:80');
    const [hb, wk] = await Promise.all([node.exited(10_000), watchkey.exited(10_000)]);
    expect(hb.code).toBe(0);
    expect(hb.stderr).toMatch(/removed by an operator/);
    expect(wk.code).toBe(0);
    // The lease was revoked too: nothing of the node is left behind.
    expect(await etcd.ctl('get', '/clusters/life/10.1.0.3:80')).toBe('');
  });

  it('revoking the lease by hand is also an operator removal', async () => {
    const node = await startNode('10.1.0.4:80');
    // Lease IDs are int64: read them from the JSON text, not through a lossy JSON number.
    const json = await etcd.ctl('get', '/clusters/life/10.1.0.4:80', '-w', 'json');
    const lease = /"lease":(\d+)/.exec(json)![1]!;
    await etcd.ctl('lease', 'revoke', BigInt(lease).toString(16));
    const hb = await node.exited(10_000);
    expect(hb.code).toBe(0);
  });

  it('heartbeat --once registers for one TTL and exits', async () => {
    const res = await runCli(['--conf', await nodeConfig('10.1.0.5:80'), 'heartbeat', '--once']);
    expect(res.code).toBe(0);
    await waitFor(async () => (await members()).includes('10.1.0.5:80'), { what: 'the --once member' });
    // The key is on a lease of one TTL that nobody keeps alive...
    const json = await etcd.ctl('get', '/clusters/life/10.1.0.5:80', '-w', 'json');
    const lease = BigInt(/"lease":(\d+)/.exec(json)![1]!).toString(16);
    const ttl = await etcd.ctl('lease', 'timetolive', lease);
    expect(ttl).toMatch(/granted with TTL\(3s\)/);
    // ...so it expires. When is etcd's business (the SIGKILL test bounds it on an idle etcd); a
    // loaded CI machine can delay etcd's revocation of an expired lease by seconds.
    await waitFor(async () => !(await members()).includes('10.1.0.5:80'), { timeoutMs: 30_000, what: 'the --once member to expire' }).catch(async (err: Error) => {
      throw new Error(`${err.message}; etcd says: ${(await etcd.ctl('lease', 'timetolive', lease)).trim()}`);
    });
  });

  it('a lease that expired while the node could not reach etcd is registered again, not treated as removal', async () => {
    const node = await startNode('10.1.0.6:80');
    // Frozen for longer than the TTL: etcd expires the lease, as after a network partition.
    node.kill('SIGSTOP');
    await waitFor(async () => !(await members()).includes('10.1.0.6:80'), { timeoutMs: (TTL + 5) * 1000, what: 'expiry while frozen' });
    node.kill('SIGCONT');
    await node.waitForLog(/expired while etcd was out of reach.*registering again/, 10_000);
    await waitFor(async () => (await members()).includes('10.1.0.6:80'), { what: 'the node back in the file' });
    expect(node.child.exitCode).toBeNull();
    node.kill('SIGTERM');
    expect((await node.exited()).code).toBe(0);
  });
});

// Separate etcd: this one is stopped and started.
describe.skipIf(!haveEtcd)('registration across an etcd outage', () => {
  it('keeps the registration through an etcd restart longer than the TTL', async () => {
    const etcd = await startEtcd();
    try {
      const dir = await tempDir();
      const conf = await writeJson(join(dir, 'node.conf'), {
        etcd: { endpoints: [etcd.endpoint], timeoutMs: 1000 },
        self: { key: '/clusters/outage/10.5.0.1:80', ttl: 2, heartbeat: 0.5 },
      });
      const node = spawnCli(['--conf', conf, 'heartbeat']);
      await node.waitForLog(/registered/);
      await etcd.stop();
      await new Promise((r) => setTimeout(r, 3000));
      await etcd.start();
      // etcd renews leases when it comes back; either way the node stays registered and running.
      await waitFor(async () => (await etcd.ctl('get', '/clusters/outage/10.5.0.1:80', '--keys-only')).includes('10.5.0.1'), {
        timeoutMs: 15_000,
        what: 'the key after the outage',
      });
      await new Promise((r) => setTimeout(r, 3000));
      expect(await etcd.ctl('get', '/clusters/outage/10.5.0.1:80', '--keys-only')).toContain('10.5.0.1');
      expect(node.child.exitCode).toBeNull();
      node.kill('SIGTERM');
      expect((await node.exited()).code).toBe(0);
      expect(await etcd.ctl('get', '/clusters/outage/10.5.0.1:80')).toBe('');
    } finally {
      await etcd.dispose();
    }
  });
});
