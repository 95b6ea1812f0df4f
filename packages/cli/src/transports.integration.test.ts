import { type Server, createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';
import { type EtcdServer, freePort, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { type GrpcProxy, startGrpcProxy } from '#test-support/grpc-proxy.js';

const CHILD = resolve(import.meta.dirname, '../../../test/support/child-server.mjs');
const TTL = 2;

// Every command against an etcd without its JSON gateway (--enable-grpc-gateway=false) and
// through `etcd grpc-proxy` (no gateway either; watches and keepalives coalesced by the proxy),
// with the default etcd.transport 'auto': the one-shot commands find the gateway missing and move
// to gRPC at once, never retrying a 404 as an outage.
describe.skipIf(!haveEtcd)('etcd without the JSON gateway, and through etcd grpc-proxy', () => {
  let etcd: EtcdServer;
  let proxy: GrpcProxy;
  const running: CliProcess[] = [];

  beforeAll(async () => {
    etcd = await startEtcd({ extraArgs: ['--enable-grpc-gateway=false'] });
    proxy = await startGrpcProxy([etcd.endpoint]);
  });
  afterAll(async () => {
    for (const p of running) p.kill('SIGKILL');
    await proxy?.stop();
    await etcd?.dispose();
  });

  /** etcd's gateway really is off: the direct path answers 404 where an etcd with it would answer. */
  it('the servers have no gateway', async () => {
    for (const endpoint of [etcd.endpoint, proxy.endpoint]) {
      const res = await fetch(`${endpoint}/v3/kv/range`, { method: 'POST', body: '{"key":"YQ=="}' });
      expect(res.status).toBe(404);
    }
  });

  const via = [
    ['etcd --enable-grpc-gateway=false', 'direct', () => etcd.endpoint],
    ['etcd grpc-proxy', 'proxy', () => proxy.endpoint],
  ] as const;

  describe.each(via)('through %s', (_, name, endpoint) => {
    const path = `/clusters/tr-${name}`;
    let dir: string;
    const key = (member: string) => `${path}/${member}`;
    const ownKey = key('10.9.0.1:80');
    const get = async (k: string) => (await etcd.ctl('get', k, '--print-value-only=false', '-w', 'json')).trim();
    const present = async (k: string) => (await etcd.ctl('get', k, '--keys-only')).trim() !== '';
    const file = () => join(dir, 'web.json');
    const fileMembers = async () => JSON.parse(await readFile(file(), 'utf8')) as string[];
    const conf = () => join(dir, 'cc.conf');

    beforeAll(async () => {
      dir = await tempDir(`cc-tr-${name}-`);
      await writeJson(conf(), {
        etcd: { endpoints: [endpoint()] },
        self: { key: ownKey, ttl: TTL, heartbeat: 1 },
        clusters: [{ name: 'web', path, handler: 'json', handlerConfig: file() }],
      });
    });

    it('prepare and members read the cluster (auto moves to gRPC, said at debug level only)', async () => {
      await etcd.ctl('put', key('10.9.0.2:80'), '');
      const prepared = await runCli(['--conf', conf(), '--verbose', 'prepare', 'web', '--timeout', '10']);
      expect(prepared.code, prepared.stderr).toBe(0);
      expect(prepared.stderr).toMatch(/no JSON gateway \(HTTP 404 for \/v3\/kv\/range\); using gRPC from now on/);
      expect(prepared.stderr).not.toMatch(/retrying/);
      expect(await fileMembers()).toEqual(['10.9.0.2:80']);
      const listed = await runCli(['--conf', conf(), 'members', 'web', '--timeout', '10']);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toBe('10.9.0.2:80\n');
      // Without --verbose the switch is not worth a line.
      expect(listed.stderr).toBe('');
    });

    it('heartbeat --once registers the own key on a lease; removekey removes it', async () => {
      const once = await runCli(['--conf', conf(), 'heartbeat', '--once', '--timeout', '10']);
      expect(once.code, once.stderr).toBe(0);
      expect(once.stderr).toMatch(/registered .*10\.9\.0\.1:80 \(lease [0-9a-f]+, ttl 2s\)/);
      const kv = JSON.parse(await get(ownKey)) as { kvs: { lease: number }[] };
      expect(kv.kvs[0]!.lease).toBeGreaterThan(0);
      const removed = await runCli(['--conf', conf(), 'removekey', '--timeout', '10']);
      expect(removed.code, removed.stderr).toBe(0);
      expect(removed.stderr).toMatch(/removed .*10\.9\.0\.1:80/);
      expect(await present(ownKey)).toBe(false);
    });

    it('heartbeat keeps the key alive past its TTL (lease keepalive) and deregisters on SIGTERM', async () => {
      const hb = spawnCli(['--conf', conf(), 'heartbeat', '--drain-max', '0']);
      running.push(hb);
      await waitFor(() => present(ownKey), { what: 'registration' });
      const lease = (JSON.parse(await get(ownKey)) as { kvs: { lease: number }[] }).kvs[0]!.lease;
      // Three TTLs: only keepalives that reach etcd keep the key.
      await new Promise((r) => setTimeout(r, 3 * TTL * 1000));
      expect((JSON.parse(await get(ownKey)) as { kvs: { lease: number }[] }).kvs[0]!.lease).toBe(lease);
      hb.kill('SIGTERM');
      const res = await hb.exited();
      expect(res.code, res.stderr).toBe(0);
      expect(await present(ownKey)).toBe(false);
      expect(res.stderr).not.toMatch(/keepalive for .* failed/);
    });

    it('watch follows a put and a delete', async () => {
      const watcher = spawnCli(['--conf', conf(), 'watch', 'web', '0']);
      running.push(watcher);
      await watcher.waitForLog(/web: in sync at revision/);
      await etcd.ctl('put', key('10.9.0.3:80'), '');
      await waitFor(async () => (await fileMembers()).includes('10.9.0.3:80'), { what: 'the put in the file' });
      await etcd.ctl('del', key('10.9.0.3:80'));
      await waitFor(async () => !(await fileMembers()).includes('10.9.0.3:80'), { what: 'the delete in the file' });
      watcher.kill('SIGTERM');
      expect((await watcher.exited()).code).toBe(0);
    });

    it('run prepares, registers once the server is up, and deregisters on SIGTERM', async () => {
      const port = await freePort();
      const run = spawnCli(['--conf', conf(), 'run', '--ready-tcp', `127.0.0.1:${port}`, '--drain-max', '0', '--', process.execPath, CHILD], {
        env: { HOST: '127.0.0.1', PORT: String(port) },
      });
      running.push(run);
      await waitFor(() => present(ownKey), { what: 'registration by run' });
      await run.waitForLog(/ready: registered and watching/);
      run.kill('SIGTERM');
      const res = await run.exited();
      expect(res.code, res.stderr).toBe(0);
      expect(await present(ownKey)).toBe(false);
    });
  });

  // Answers no retry can fix: exit 1 with one line saying what is wrong, in well under the
  // 30 s a retried outage would take.
  describe('an endpoint that is not what the configuration says', () => {
    let dir: string;
    let notEtcd: Server;
    let notEtcdEndpoint: string;

    beforeAll(async () => {
      dir = await tempDir('cc-tr-wrong-');
      notEtcd = createServer((_, res) => {
        res.statusCode = 404;
        res.end('404 page not found\n');
      });
      const port = await freePort();
      await new Promise<void>((resolve) => notEtcd.listen(port, '127.0.0.1', resolve));
      notEtcdEndpoint = `http://127.0.0.1:${port}`;
    });
    afterAll(async () => {
      await new Promise((resolve) => notEtcd?.close(resolve));
    });

    const config = (endpoint: string) =>
      writeJson(join(dir, `${encodeURIComponent(endpoint)}.conf`), {
        etcd: { endpoints: [endpoint] },
        self: { key: '/clusters/tr-wrong/10.9.9.9:80', ttl: 5, heartbeat: 1 },
        clusters: [{ name: 'web', path: '/clusters/tr-wrong', handler: 'json', handlerConfig: join(dir, 'web.json') }],
      });

    const commands = [
      ['prepare', 'web', '--timeout', '30'],
      ['members', 'web', '--timeout', '30'],
      ['removekey', '--timeout', '30'],
      ['heartbeat', '--once', '--timeout', '30'],
      ['status', '--timeout', '30'],
    ];

    const cases = [
      [
        'https:// against a plain etcd',
        () => etcd.endpoint.replace('http://', 'https://'),
        /^cluster-control: (could not register \S+: )?https:\/\/127\.0\.0\.1:\d+: etcd answered plain HTTP to a TLS connection \(use http:\/\/ without etcd\.tls, or configure etcd for TLS\)$/,
      ],
      [
        'a server that is not etcd (404)',
        () => notEtcdEndpoint,
        /^cluster-control: (could not register \S+: )?http:\/\/127\.0\.0\.1:\d+: not an etcd client URL: it answers HTTP \(404 to GET \/version\) but not etcd's gRPC; check etcd\.endpoints$/,
      ],
    ] as const;

    describe.each(cases)('%s', (what, endpoint, line) => {
      it.each(commands)('%s: exit 1 within 2 s, one line', async (...args) => {
        const conf = await config(endpoint());
        const started = Date.now();
        const res = await runCli(['--conf', conf, ...args], { timeoutMs: 20_000 });
        const took = Date.now() - started;
        console.log(`${what}: ${args[0]}${args[1] === '--once' ? ' --once' : ''} exited ${res.code} in ${took} ms`);
        expect(res.code, res.stderr).toBe(1);
        const lines = res.stderr.split('\n').filter(Boolean);
        expect(lines, res.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(line);
        expect(took).toBeLessThanOrEqual(2_000);
      });

      it('long-running commands stop too: heartbeat and watch exit 1 with the same line', async () => {
        const conf = await config(endpoint());
        for (const args of [['heartbeat'], ['watch', 'web', '0']]) {
          const started = Date.now();
          const res = await runCli(['--conf', conf, ...args], { timeoutMs: 20_000 });
          const took = Date.now() - started;
          console.log(`${what}: ${args[0]} exited ${res.code} in ${took} ms`);
          expect(res.code, res.stderr).toBe(1);
          expect(res.stderr.split('\n').filter(Boolean).pop()).toMatch(line);
          expect(took).toBeLessThanOrEqual(5_000);
        }
      });
    });

    it("transport 'gateway' against an etcd without it: exit 1 at once, saying to use 'auto' or 'grpc'", async () => {
      const conf = await writeJson(join(dir, 'gateway-only.conf'), {
        etcd: { endpoints: [etcd.endpoint], transport: 'gateway' },
        clusters: [{ name: 'web', path: '/clusters/tr-wrong', handler: 'json', handlerConfig: join(dir, 'web.json') }],
      });
      const started = Date.now();
      const res = await runCli(['--conf', conf, 'members', 'web']);
      expect(res.code).toBe(1);
      expect(res.stderr).toBe(
        `cluster-control: ${etcd.endpoint}: no etcd JSON gateway here (HTTP 404 for /v3/kv/range); for an etcd behind "etcd grpc-proxy" or started with --enable-grpc-gateway=false set etcd.transport to "auto" or "grpc", otherwise check etcd.endpoints\n`,
      );
      expect(Date.now() - started).toBeLessThanOrEqual(2_000);
    });

    it("transport 'grpc' works against it from the first call", async () => {
      const conf = await writeJson(join(dir, 'grpc.conf'), {
        etcd: { endpoints: [etcd.endpoint], transport: 'grpc' },
        clusters: [{ name: 'web', path: '/clusters/tr-grpc', handler: 'json', handlerConfig: join(dir, 'grpc.json') }],
      });
      await etcd.ctl('put', '/clusters/tr-grpc/10.9.8.1:80', '');
      const res = await runCli(['--conf', conf, '--verbose', 'members', 'web']);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toBe('10.9.8.1:80\n');
      expect(res.stderr).not.toMatch(/no JSON gateway/);
    });
  });
});
