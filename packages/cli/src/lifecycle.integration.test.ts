import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '../../../test/support/etcd-server.js';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '../../../test/support/cli.js';

const TTL = 3;

// SPEC §4: how a registered service leaves, and how fast a watcher's file follows.
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
    await waitFor(async () => !(await members()).includes('10.1.0.5:80'), { timeoutMs: (TTL + 5) * 1000, what: 'the --once member to expire' });
  });
});
