import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { type Server, type Socket, createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type EtcdServer, freePort, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { OPENSSL, type Pki, makePki } from '#test-support/pki.js';
import { createLogger } from '../util/log.js';
import type { EtcdClient, EtcdConnection } from './types.js';
import { connectEtcd } from './grpc-connection.js';
import { CompactedError, EtcdAccessError, EtcdUnavailableError } from './errors.js';
import { connectEtcdGateway } from './gateway-connection.js';
import { prefixRange, singleKey } from './key-range.js';

// connectEtcdGateway (etcd's JSON gateway over node:http) against real etcd servers, side by side
// with connectEtcd (gRPC): the same operations must give the same results and the same errors.

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }) };
}

/** A TCP server that accepts connections and never answers: a frozen member. */
async function silentServer(): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => void sockets.push(s));
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The gateway's raw authenticate call, to hold a token of our own. */
async function authenticate(endpoint: string, name: string, password: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}/v3/auth/authenticate`, { method: 'POST' }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve((JSON.parse(body) as { token: string }).token));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ name, password }));
  });
}

/** Status of a raw range with `token`: 200, or 401 once etcd no longer knows the token. */
async function rangeStatus(endpoint: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}/v3/kv/range`, { method: 'POST', headers: { authorization: token } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ key: Buffer.from('/gw/web/x').toString('base64') }));
  });
}

describe.skipIf(!haveEtcd)('connectEtcdGateway against a real etcd', () => {
  let etcd: EtcdServer;
  let gw: EtcdClient;
  let grpc: EtcdConnection;
  beforeAll(async () => {
    etcd = await startEtcd();
    gw = connectEtcdGateway({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
    grpc = await connectEtcd({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
  });
  afterAll(async () => {
    gw?.close();
    grpc?.close();
    await etcd?.dispose();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('put, range and delete give what the gRPC client gives', async () => {
    const r1 = await gw.put('/gw/kv/a', '{"weight":3}');
    const r2 = await grpc.put('/gw/kv/b', '');
    const r3 = await gw.put('/gw/kv/ünïcødé:80', 'välue ✓');
    await gw.put('/gw/kv2/not-in-prefix', 'x');
    await gw.put('/gw/kv', 'the prefix key itself');
    expect(r2).toBe(r1 + 1n);

    const viaGateway = await gw.range(prefixRange('/gw/kv/'));
    const viaGrpc = await grpc.range(prefixRange('/gw/kv/'));
    expect(viaGateway).toEqual(viaGrpc);
    expect(viaGateway.revision).toBe(r3 + 2n);
    expect(viaGateway.kvs).toEqual([
      { key: '/gw/kv/a', value: '{"weight":3}', modRevision: r1, lease: '0' },
      { key: '/gw/kv/b', value: '', modRevision: r2, lease: '0' },
      { key: '/gw/kv/ünïcødé:80', value: 'välue ✓', modRevision: r3, lease: '0' },
    ]);
    expect(await gw.range(singleKey('/gw/kv/a'))).toEqual(await grpc.range(singleKey('/gw/kv/a')));
    const missing = await gw.range(singleKey('/gw/kv/missing'));
    expect(missing).toEqual({ kvs: [], revision: viaGateway.revision, more: false });
    expect(missing).toEqual(await grpc.range(singleKey('/gw/kv/missing')));

    expect(await gw.delete('/gw/kv/a')).toBe(1);
    expect(await gw.delete('/gw/kv/a')).toBe(0);
    expect(await grpc.delete('/gw/kv/a')).toBe(0);
    expect(await gw.delete('/gw/kv/')).toBe(0); // one key, never a prefix
    expect((await grpc.range(prefixRange('/gw/kv/'))).kvs.map((kv) => kv.key)).toEqual(['/gw/kv/b', '/gw/kv/ünïcødé:80']);
  });

  it('reads at a revision, and a compacted revision is a CompactedError', async () => {
    const r1 = await gw.put('/gw/rev/k', 'one');
    const r2 = await gw.put('/gw/rev/k', 'two');
    const at1 = await gw.range(singleKey('/gw/rev/k'), { revision: r1 });
    expect(at1.kvs).toEqual([{ key: '/gw/rev/k', value: 'one', modRevision: r1, lease: '0' }]);
    expect(at1).toEqual(await grpc.range(singleKey('/gw/rev/k'), { revision: r1 }));
    expect((await gw.range(singleKey('/gw/rev/k'), { revision: r2 })).kvs[0]!.value).toBe('two');

    await etcd.ctl('compact', String(r2));
    await expect(gw.range(singleKey('/gw/rev/k'), { revision: r1 })).rejects.toBeInstanceOf(CompactedError);
    await expect(grpc.range(singleKey('/gw/rev/k'), { revision: r1 })).rejects.toBeInstanceOf(CompactedError);
    expect((await gw.range(singleKey('/gw/rev/k'), { revision: r2 })).kvs[0]!.value).toBe('two'); // the compaction point itself is kept
  });

  it('leases: ids work across both clients; a revoked lease keeps alive to 0 and looks up as -1', async () => {
    const id = await gw.grantLease(30);
    expect(id).toMatch(/^[1-9]\d*$/); // decimal, as the gRPC client's
    expect(await grpc.leaseTimeToLive(id)).toBeGreaterThanOrEqual(29);
    expect(await gw.leaseTimeToLive(id)).toBeGreaterThanOrEqual(29);
    expect(await gw.keepAlive(id)).toBe(30);
    expect(await grpc.keepAlive(id)).toBe(30);

    const rev = await gw.put('/gw/lease/self', 'me', { lease: id });
    const viaGrpc = await grpc.range(singleKey('/gw/lease/self'));
    expect(viaGrpc.kvs).toEqual([{ key: '/gw/lease/self', value: 'me', modRevision: rev, lease: id }]);
    expect(await gw.range(singleKey('/gw/lease/self'))).toEqual(viaGrpc);

    // A lease granted over gRPC, used and revoked over the gateway.
    const other = await grpc.grantLease(20);
    expect(await gw.keepAlive(other)).toBe(20);
    await gw.put('/gw/lease/other', 'x', { lease: other });
    await gw.revokeLease(other);
    expect((await grpc.range(singleKey('/gw/lease/other'))).kvs).toEqual([]);
    expect(await gw.keepAlive(other)).toBe(0);
    expect(await gw.leaseTimeToLive(other)).toBe(-1);
    expect(await grpc.leaseTimeToLive(other)).toBe(-1);
    await gw.revokeLease(other); // already gone: still fine
    await expect(gw.put('/gw/lease/other', 'x', { lease: other })).rejects.toThrow(/put: .*requested lease not found/);

    // And the other way round.
    await grpc.revokeLease(id);
    expect(await gw.keepAlive(id)).toBe(0);
    expect(await gw.leaseTimeToLive(id)).toBe(-1);
    expect((await gw.range(singleKey('/gw/lease/self'))).kvs).toEqual([]);
  });

  it('an unknown lease keeps alive to 0 and looks up as -1, as over gRPC', async () => {
    expect(await gw.keepAlive('12345')).toBe(0);
    expect(await grpc.keepAlive('12345')).toBe(0);
    expect(await gw.leaseTimeToLive('12345')).toBe(-1);
    await gw.revokeLease('12345');
  });

  it('fails over: a dead first endpoint fails one call, the next ones go to the second', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    vi.spyOn(Math, 'random').mockReturnValue(0); // start on the first endpoint
    const { lines, logger } = capture();
    const client = connectEtcdGateway({ endpoints: [dead, etcd.endpoint], timeoutMs: 2000, logger });
    try {
      await gw.put('/gw/failover/k', 'v');
      const err = await client.range(singleKey('/gw/failover/k')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EtcdUnavailableError);
      expect((err as Error).message).toBe(`read (${dead}, ${etcd.endpoint}): connect ECONNREFUSED ${dead.slice('http://'.length)}`);
      expect(lines.map((l) => l.replace(/^\S+Z /, ''))).toEqual([`cluster-control info: etcd ${dead} failed (${(err as Error).message}); using ${etcd.endpoint}`]);
      for (let i = 0; i < 3; i++) expect((await client.range(singleKey('/gw/failover/k'))).kvs[0]!.value).toBe('v');
      expect(lines).toHaveLength(1); // stays on the endpoint that works
    } finally {
      client.close();
    }
  });

  it('a member that accepts connections but never answers is unavailable within the deadline, then failed over', async () => {
    const silent = await silentServer();
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const client = connectEtcdGateway({ endpoints: [silent.endpoint, etcd.endpoint], timeoutMs: 500 });
    try {
      const started = Date.now();
      const err = await client.range(singleKey('/gw/failover/k')).catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(err).toBeInstanceOf(EtcdUnavailableError);
      expect((err as Error).message).toMatch(/^read \(.*\): no answer within 500 ms \(deadline exceeded\)$/);
      expect(elapsed).toBeGreaterThanOrEqual(450);
      expect(elapsed).toBeLessThan(1500);
      await client.range(singleKey('/gw/failover/k')); // on the second endpoint now
    } finally {
      client.close();
      await silent.close();
    }
  });

  it('one unreachable endpoint is an EtcdUnavailableError naming it; a closed client refuses calls', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const client = connectEtcdGateway({ endpoints: [dead], timeoutMs: 1000 });
    await expect(client.put('/gw/x', 'y')).rejects.toThrow(new EtcdUnavailableError(`put (${dead}): connect ECONNREFUSED ${dead.slice(7)}`));
    await expect(client.keepAlive('1')).rejects.toBeInstanceOf(EtcdUnavailableError);
    client.close();
    await expect(client.range(singleKey('/gw/x'))).rejects.toThrow(new EtcdUnavailableError('read: connection closed'));
  });

  it("a request etcd refuses as invalid is etcd's error, neither an outage nor an access problem", async () => {
    const err = await gw.put('', 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(EtcdUnavailableError);
    expect(err).not.toBeInstanceOf(EtcdAccessError);
    expect((err as Error).message).toBe('put: 3 INVALID_ARGUMENT: etcdserver: key is not provided');
    expect(((await grpc.put('', 'x').catch((e: unknown) => e)) as Error).message).toBe('3 INVALID_ARGUMENT: etcdserver: key is not provided');
  });
});

describe.skipIf(!haveEtcd)('connectEtcdGateway with etcd authentication (tokens expire after 2 s)', () => {
  let etcd: EtcdServer;
  const root = { username: 'root', password: 'rootpw' };
  beforeAll(async () => {
    etcd = await startEtcd({ extraArgs: ['--auth-token', 'simple', '--auth-token-ttl', '2'] });
    await etcd.ctl('user', 'add', 'root:rootpw');
    await etcd.ctl('user', 'add', 'web:webpw');
    await etcd.ctl('role', 'add', 'web');
    await etcd.ctl('role', 'grant-permission', 'web', '--prefix=true', 'readwrite', '/gw/web/');
    await etcd.ctl('user', 'grant-role', 'web', 'web');
    await etcd.ctl('auth', 'enable');
  });
  afterAll(async () => {
    await etcd?.dispose();
  });

  it('the right password works, with the same results as gRPC', async () => {
    const gw = connectEtcdGateway({ endpoints: [etcd.endpoint], auth: root, timeoutMs: 2000 });
    const grpc = await connectEtcd({ endpoints: [etcd.endpoint], auth: root, timeoutMs: 2000 });
    try {
      const rev = await gw.put('/gw/web/a', 'x');
      const id = await gw.grantLease(10);
      await gw.put('/gw/web/b', 'y', { lease: id });
      expect(await gw.range(prefixRange('/gw/web/'))).toEqual(await grpc.range(prefixRange('/gw/web/')));
      expect((await gw.range(prefixRange('/gw/web/'))).kvs[0]).toEqual({ key: '/gw/web/a', value: 'x', modRevision: rev, lease: '0' });
      expect(await gw.keepAlive(id)).toBe(10);
      await gw.revokeLease(id);
      expect(await gw.delete('/gw/web/a')).toBe(1);
    } finally {
      gw.close();
      grpc.close();
    }
  });

  it('a wrong password is an EtcdAccessError that names the user, worded as over gRPC', async () => {
    const bad = { username: 'root', password: 'wrong' };
    const gw = connectEtcdGateway({ endpoints: [etcd.endpoint], auth: bad, timeoutMs: 2000 });
    const grpc = await connectEtcd({ endpoints: [etcd.endpoint], auth: bad, timeoutMs: 2000 });
    try {
      const err = await gw.range(prefixRange('/gw/web/')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EtcdAccessError);
      expect((err as Error).message).toBe('read: 3 INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password (as the configured etcd.auth user)');
      const viaGrpc = await grpc.range(prefixRange('/gw/web/')).catch((e: unknown) => e);
      expect((err as Error).message).toBe((viaGrpc as Error).message);
      await expect(gw.put('/gw/web/a', 'x')).rejects.toBeInstanceOf(EtcdAccessError); // every call, no cached failure
    } finally {
      gw.close();
      grpc.close();
    }
  });

  it('permission denied is an EtcdAccessError that names the user; no credentials at all too', async () => {
    const gw = connectEtcdGateway({ endpoints: [etcd.endpoint], auth: { username: 'web', password: 'webpw' }, timeoutMs: 2000 });
    try {
      await gw.put('/gw/web/ok', 'fine'); // inside its prefix
      await expect(gw.range(prefixRange('/gw/other/'))).rejects.toThrow(new EtcdAccessError('read: 7 PERMISSION_DENIED: etcdserver: permission denied (as the configured etcd.auth user)'));
      await expect(gw.put('/gw/other/x', 'y')).rejects.toThrow(new EtcdAccessError('put: 7 PERMISSION_DENIED: etcdserver: permission denied (as the configured etcd.auth user)'));
      await expect(gw.delete('/gw/other/x')).rejects.toBeInstanceOf(EtcdAccessError);
    } finally {
      gw.close();
    }
    const anonymous = connectEtcdGateway({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
    try {
      await expect(anonymous.range(prefixRange('/gw/web/'))).rejects.toThrow(new EtcdAccessError('read: 3 INVALID_ARGUMENT: etcdserver: user name is empty'));
    } finally {
      anonymous.close();
    }
  });

  it('authenticates again when etcd no longer accepts its token (expiry, restart)', async () => {
    const gw = connectEtcdGateway({ endpoints: [etcd.endpoint], auth: root, timeoutMs: 3000 });
    try {
      await gw.put('/gw/web/token', '1');
      const ours = await authenticate(etcd.endpoint, root.username, root.password);
      expect(await rangeStatus(etcd.endpoint, ours)).toBe(200);
      await new Promise((r) => setTimeout(r, 3500)); // > --auth-token-ttl without use
      expect(await rangeStatus(etcd.endpoint, ours)).toBe(401); // tokens of that age are gone...
      expect(await gw.put('/gw/web/token', '2')).toBeGreaterThan(0n); // ...and the client got a new one
      expect((await gw.range(singleKey('/gw/web/token'))).kvs[0]!.value).toBe('2');

      // A restart forgets every token at once.
      await etcd.stop();
      await etcd.start();
      expect((await gw.range(singleKey('/gw/web/token'))).kvs[0]!.value).toBe('2');
      expect(await gw.delete('/gw/web/token')).toBe(1);
    } finally {
      gw.close();
    }
  });
});

describe.skipIf(!haveEtcd || (!existsSync(OPENSSL) && process.env.CI !== 'true'))('connectEtcdGateway over TLS', () => {
  let pki: Pki;
  /** Requires client certificates (--client-cert-auth). */
  let mtls: EtcdServer;
  /** Serves TLS, asks for no client certificate. */
  let serverOnly: EtcdServer;
  beforeAll(async () => {
    pki = await makePki('cc-gw-pki-');
    const tls = { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, clientCert: pki.clientCert, clientKey: pki.clientKey };
    mtls = await startEtcd({ tls });
    // Later flags win: no client-certificate auth, no trusted CA (etcd would then require client certificates).
    serverOnly = await startEtcd({ tls, extraArgs: ['--client-cert-auth=false', '--trusted-ca-file='] });
  });
  afterAll(async () => {
    await mtls?.dispose();
    await serverOnly?.dispose();
    if (pki) await rm(pki.dir, { recursive: true, force: true });
  });

  const attempt = async (endpoint: string, tls: { ca?: string; cert?: string; key?: string }) => {
    const client = connectEtcdGateway({ endpoints: [endpoint], tls, timeoutMs: 3000 });
    try {
      return await client.range(prefixRange('/gw/tls/')).catch((e: unknown) => e as Error);
    } finally {
      client.close();
    }
  };

  it('https with the CA alone verifies etcd', async () => {
    expect(serverOnly.endpoint).toMatch(/^https:/);
    await serverOnly.ctl('put', '/gw/tls/a', 'x');
    const res = await attempt(serverOnly.endpoint, { ca: pki.ca });
    expect(res).not.toBeInstanceOf(Error);
    expect((res as { kvs: unknown[] }).kvs).toHaveLength(1);
  });

  it('client certificates: the same results as gRPC; etcd.tls with an http:// endpoint still speaks TLS, as over gRPC', async () => {
    const tls = { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey };
    const gw = connectEtcdGateway({ endpoints: [mtls.endpoint], tls, timeoutMs: 3000 });
    const grpc = await connectEtcd({ endpoints: [mtls.endpoint], tls, timeoutMs: 3000 });
    try {
      const id = await gw.grantLease(15);
      await gw.put('/gw/tls/a', 'x', { lease: id });
      expect(await gw.range(prefixRange('/gw/tls/'))).toEqual(await grpc.range(prefixRange('/gw/tls/')));
      expect(await gw.keepAlive(id)).toBe(15);
      await gw.revokeLease(id);
      expect(await grpc.leaseTimeToLive(id)).toBe(-1);
    } finally {
      gw.close();
      grpc.close();
    }
    const res = await attempt(mtls.endpoint.replace('https://', 'http://'), tls);
    expect(res).not.toBeInstanceOf(Error);
  });

  it('a wrong CA is an EtcdAccessError at once, not an outage', async () => {
    const started = Date.now();
    const err = await attempt(mtls.endpoint, { ca: pki.wrongCa, cert: pki.clientCert, key: pki.clientKey });
    expect(err).toBeInstanceOf(EtcdAccessError);
    expect((err as Error).message).toMatch(/^read \(https:\/\/127\.0\.0\.1:\d+\): TLS: etcd's certificate is not trusted \(.+\); etcd\.tls\.ca must be the CA that signed it$/);
    expect(Date.now() - started).toBeLessThan(2000);
    // No CA at all: Node's public roots do not know our test CA either.
    expect(await attempt(serverOnly.endpoint, {})).toBeInstanceOf(EtcdAccessError);
  });

  it('no client certificate, or one from a CA etcd does not trust, is an EtcdAccessError', async () => {
    for (const tls of [{ ca: pki.ca }, { ca: pki.ca, cert: pki.foreignCert, key: pki.foreignKey }]) {
      const err = await attempt(mtls.endpoint, tls);
      expect(err).toBeInstanceOf(EtcdAccessError);
      expect((err as Error).message).toMatch(/^read \(https:\/\/127\.0\.0\.1:\d+\): TLS: etcd refused this client's certificate \(alert: [a-z ]+\); etcd\.tls\.cert and etcd\.tls\.key must be/);
    }
  });
});
