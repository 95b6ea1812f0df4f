import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { type GrpcProxy, startGrpcProxy } from '#test-support/grpc-proxy.js';
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

// README: Configuration (etcd.endpoints): an `etcd grpc-proxy` in front of an etcd with auth. The
// proxy passes each client's token on; its watches and keepalives must work through token expiry.
describe.skipIf(!haveEtcd)('etcd with auth, through etcd grpc-proxy', () => {
  let etcd: EtcdServer;
  let proxy: GrpcProxy;
  beforeAll(async () => {
    etcd = await startEtcd({ extraArgs: ['--auth-token', 'simple', '--auth-token-ttl', '2'] });
    await etcd.ctl('user', 'add', 'root:rootpw');
    await etcd.ctl('auth', 'enable');
    proxy = await startGrpcProxy([etcd.endpoint]);
  });
  afterAll(async () => {
    await proxy?.stop();
    await etcd?.dispose();
  });
  const config = async (dir: string, password: string) =>
    writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [proxy.endpoint], auth: { username: 'root', password } },
      self: { key: '/clusters/auth-proxy/10.0.0.1:80', ttl: 4, heartbeat: 1 },
      status: { ttl: 4 },
      clusters: [{ name: 'web', path: '/clusters/auth-proxy', handler: 'json', handlerConfig: 'web.json' }],
    });
  const put = (key: string) => etcd.ctl('--user', 'root:rootpw', 'put', key, '');

  it('one-shot commands, watch, heartbeat and status work through it, past token expiry', async () => {
    const dir = await tempDir();
    const conf = await config(dir, 'rootpw');
    await put('/clusters/auth-proxy/10.0.0.9:80');
    const listed = await runCli(['--conf', conf, 'members', 'web', '--timeout', '10']);
    expect(listed).toMatchObject({ code: 0, stdout: '10.0.0.9:80\n', stderr: '' });
    const prepared = await runCli(['--conf', conf, 'prepare', 'web', '--timeout', '10']);
    expect(prepared.code, prepared.stderr).toBe(0);

    const watcher = spawnCli(['--conf', conf, 'watch', 'web', '0']);
    const node = spawnCli(['--conf', conf, 'heartbeat']);
    const members = async () => JSON.parse(await readFile(join(dir, 'web.json'), 'utf8')) as string[];
    await waitFor(async () => (await members()).includes('10.0.0.1:80'), { what: 'registration seen by the watcher' });
    // Several token lifetimes and more than the lease TTL: keepalives and the watch go on.
    await new Promise((r) => setTimeout(r, 6000));
    await put('/clusters/auth-proxy/10.0.0.2:80');
    await waitFor(async () => (await members()).includes('10.0.0.2:80'), { timeoutMs: 20_000, what: 'a change after token expiry' });
    expect(await members()).toEqual(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.9:80']);
    expect(node.stderr()).not.toMatch(/registering again|failed/);

    const status = await runCli(['--conf', conf, 'status', '--json', '--wait', '--expect', '1', '--timeout', '10']);
    expect(status.code, status.stderr).toBe(0);
    const [cluster] = (JSON.parse(status.stdout) as { clusters: { watchers: { state: string; members: number }[] }[] }).clusters;
    expect(cluster!.watchers).toMatchObject([{ state: 'SYNCED', members: 3 }]);

    node.kill('SIGTERM');
    expect((await node.exited()).code).toBe(0);
    await waitFor(async () => !(await members()).includes('10.0.0.1:80'), { what: 'the deregistration in the file' });
    watcher.kill('SIGTERM');
    expect((await watcher.exited()).code).toBe(0);
  });

  it('a wrong password through it is one clear error and exit 1', async () => {
    const res = await runCli(['--conf', await config(await tempDir(), 'wrong'), 'members', 'web', '--timeout', '10']);
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toEqual([expect.stringMatching(/authentication failed/i)]);
    expect(res.stderr).not.toContain('wrong');
  });
});
