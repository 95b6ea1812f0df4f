import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';

// etcd with authentication on and auth tokens that expire after 2 s: new watch and keepalive
// streams must get fresh tokens (the etcd3 client only refreshes them for unary calls).
describe.skipIf(!haveEtcd)('etcd with auth and short-lived tokens', () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await startEtcd({ extraArgs: ['--auth-token', 'simple', '--auth-token-ttl', '2'] });
    await etcd.ctl('user', 'add', 'root:rootpw');
    await etcd.ctl('auth', 'enable');
  });
  afterAll(async () => {
    await etcd?.dispose();
  });

  const config = async (dir: string, password: string) =>
    writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint], auth: { username: 'root', password } },
      self: { key: '/clusters/auth/10.0.0.1:80', ttl: 4, heartbeat: 1 },
      clusters: [{ name: 'web', path: '/clusters/auth', handler: 'json', handlerConfig: 'web.json' }],
    });

  it('keeps watching and keeping alive after the token expired', async () => {
    const dir = await tempDir();
    const conf = await config(dir, 'rootpw');
    const watcher = spawnCli(['--conf', conf, 'watch', 'web', '0']);
    const node = spawnCli(['--conf', conf, 'heartbeat']);
    const members = async () => JSON.parse(await readFile(join(dir, 'web.json'), 'utf8')) as string[];
    await waitFor(async () => (await members()).includes('10.0.0.1:80'), { what: 'registration seen by the watcher' });
    // Well past several token lifetimes (and the lease TTL): both streams must still work.
    await new Promise((r) => setTimeout(r, 7000));
    await etcd.ctl('--user', 'root:rootpw', 'put', '/clusters/auth/10.0.0.2:80', '');
    await waitFor(async () => (await members()).includes('10.0.0.2:80'), { timeoutMs: 20_000, what: 'a change after token expiry' });
    expect(await members()).toContain('10.0.0.1:80');

    // A restart invalidates every token; new streams must authenticate again rather than reuse one.
    await etcd.stop();
    await etcd.start();
    await etcd.ctl('--user', 'root:rootpw', 'put', '/clusters/auth/10.0.0.3:80', '');
    await waitFor(async () => (await members()).includes('10.0.0.3:80'), { timeoutMs: 20_000, what: 'a change after the restart' });
    await new Promise((r) => setTimeout(r, 5000)); // > lease TTL: keepalives must be getting through
    expect(await etcd.ctl('--user', 'root:rootpw', 'get', '/clusters/auth/10.0.0.1:80', '--keys-only')).toContain('10.0.0.1:80');
    expect(node.stderr()).not.toMatch(/registering again/);
    node.kill('SIGTERM');
    watcher.kill('SIGTERM');
    expect((await node.exited()).code).toBe(0);
    expect((await watcher.exited()).code).toBe(0);
  });

  it('a wrong password is one clear error and exit 1', async () => {
    const dir = await tempDir();
    const res = await runCli(['--conf', await config(dir, 'wrong'), 'members', 'web']);
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/authentication failed/i);
  });
});
