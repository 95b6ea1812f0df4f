import { describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd } from '#test-support/etcd-server.js';
import { useEtcdConnection } from '#test-support/etcd-fixture.js';
import type { EtcdClient, EtcdConnection } from '../etcd/types.js';
import { connectEtcd } from '../etcd/grpc-connection.js';
import { connectEtcdGateway } from '../etcd/gateway-connection.js';
import { singleKey } from '../etcd/key-range.js';
import { Registration } from '../registration/registration.js';
import { type Logger, createLogger } from '../util/log.js';
import { waitForFleet } from './fleet-wait.js';
import { type WatcherStatus, statusKey } from './status-record.js';

const PREFIX = '/cc-test/fleet';

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(createLogger({ level: 'debug', write: (l) => lines.push(l) }), { lines });
}

function record(path: string, id: string, applied: bigint, extra: Partial<WatcherStatus> = {}): WatcherStatus {
  return {
    v: 1,
    watcher: { id, host: 'h', pid: 1, command: 'watch', version: '0' },
    cluster: { name: path.split('/').pop()!, path },
    file: '/tmp/x',
    appliedRevision: applied.toString(),
    members: 1,
    sha256: 'ab',
    installedAt: null,
    check: null,
    reload: null,
    fileCurrent: true,
    quarantined: [],
    updatedAt: new Date().toISOString(),
    ...extra,
  };
}

// The drain's wait (README: Drain): the status records of the clusters containing a key, read from a
// real etcd (written here by hand; the publisher's own tests cover what watchers write).
describe.skipIf(!haveEtcd)('waitForFleet against a real etcd', () => {
  let etcd: EtcdServer;
  let conn: EtcdConnection;
  let n = 0;
  useEtcdConnection(
    (endpoint) => connectEtcd({ endpoints: [endpoint] }),
    (started) => ({ etcd, conn } = started),
  );

  /** A fresh cluster path and status prefix per test. */
  const fresh = () => {
    n++;
    return { path: `/clusters/fw${n}`, prefix: `${PREFIX}${n}` };
  };
  const publish = (prefix: string, s: WatcherStatus, lease?: string) => conn.put(statusKey(prefix, s.cluster.path, s.watcher.id), JSON.stringify(s), lease ? { lease } : {});

  it('no watcher reports for a cluster containing the key: resolves at once, and says so', async () => {
    const { path, prefix } = fresh();
    // A watcher of another cluster, and of a parent prefix (the key is not directly under it): not ours.
    await publish(prefix, record('/clusters/other', 'w-other', 1n));
    await publish(prefix, record('/clusters', 'w-parent', 1n));
    const logger = capture();
    const started = Date.now();
    const result = await waitForFleet(conn, { statusPrefix: prefix, key: `${path}/10.0.0.1:80`, revision: 1_000_000n, maxMs: 5_000, logger });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(result).toMatchObject({ outcome: 'no-watchers', watchers: [], missed: [] });
    expect(logger.lines.join('\n')).toMatch(/no watcher of a cluster containing \/clusters\/fw\d+\/10\.0\.0\.1:80 reports its status/);
  });

  it('waits for every watcher of the clusters containing the key to apply R, and says whom for how long', async () => {
    const { path, prefix } = fresh();
    const key = `${path}/10.0.0.1:80`;
    const R = (await conn.put(key, '')) + 0n;
    await publish(prefix, record(path, 'fast', R));
    await publish(prefix, record(path, 'slow', R - 1n));
    await publish(prefix, record('/clusters/unrelated', 'stuck', 0n, { reload: { ok: false, exitCode: 1 } }));
    const logger = capture();
    setTimeout(() => void publish(prefix, record(path, 'slow', R + 5n)), 400);
    const result = await waitForFleet(conn, { statusPrefix: prefix, key, revision: R, maxMs: 5_000, logger, pollMs: 100 });
    expect(result.outcome).toBe('converged');
    expect(result.clusters).toEqual([{ name: path.split('/').pop(), path }]);
    expect(result.watchers.map((w) => w.id).sort()).toEqual(['fast', 'slow']);
    const slow = result.watchers.find((w) => w.id === 'slow')!;
    expect(slow.readyAfterMs).toBeGreaterThanOrEqual(350);
    expect(result.watchers.find((w) => w.id === 'fast')!.readyAfterMs).toBeLessThan(300);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(350);
    expect(result.elapsedMs).toBeLessThan(2_000);
    expect(logger.lines.join('\n')).toMatch(/info: drain: waited \d+\.\d s for 2 watchers of fw\d+ to apply revision \d+; applied: .*fast \(watch\) after .*slow \(watch\) after/);
  });

  it('a failing reload or a file not current holds the wait; a reload that never ran counts as ok; the bound names who missed it', async () => {
    const { path, prefix } = fresh();
    const key = `${path}/10.0.0.2:80`;
    const R = await conn.put(key, '');
    await publish(prefix, record(path, 'no-reload', R + 1n, { reload: null }));
    await publish(prefix, record(path, 'reload-fails', R, { reload: { ok: false, exitCode: 3, output: 'boom', since: new Date().toISOString() } }));
    await publish(prefix, record(path, 'not-installed', R, { fileCurrent: false, problem: 'check failed' }));
    await publish(prefix, record(path, 'behind', R - 1n));
    const logger = capture();
    const result = await waitForFleet(conn, { statusPrefix: prefix, key, revision: R, maxMs: 600, logger, pollMs: 100 });
    expect(result.outcome).toBe('timed-out');
    expect(result.elapsedMs).toBeGreaterThanOrEqual(600);
    expect(result.elapsedMs).toBeLessThan(1_500);
    const missed = Object.fromEntries(result.missed.map((w) => [w.id, w.reason]));
    expect(missed).toEqual({ 'reload-fails': 'reload failing (exit 3; boom)', 'not-installed': 'file not current (check failed)', behind: `applied ${R - 1n} < ${R}` });
    const warn = logger.lines.find((l) => / warn: drain: .*missed the bound/.test(l));
    expect(warn).toMatch(/missed the bound: .*reload-fails \(watch\): reload failing \(exit 3; boom\)/);
    expect(warn).toMatch(/behind \(watch\): applied/);
    expect(warn).not.toMatch(/missed the bound: .*no-reload/);
  });

  it('a watcher whose status disappears (its lease gone) is no longer waited for; a signal ends the wait', async () => {
    const { path, prefix } = fresh();
    const key = `${path}/10.0.0.3:80`;
    const R = await conn.put(key, '');
    const lease = await conn.grantLease(30);
    await publish(prefix, record(path, 'frozen', R - 1n), lease);
    await publish(prefix, record(path, 'ok', R));
    const logger = capture();
    setTimeout(() => void conn.revokeLease(lease), 300);
    const result = await waitForFleet(conn, { statusPrefix: prefix, key, revision: R, maxMs: 5_000, logger, pollMs: 100 });
    expect(result.outcome).toBe('converged');
    expect(result.watchers.find((w) => w.id === 'frozen')).toMatchObject({ gone: true });
    expect(logger.lines.join('\n')).toMatch(/watcher fw\d+: frozen \(watch\) is gone/);

    await publish(prefix, record(path, 'behind', R - 1n));
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 200);
    const aborted = await waitForFleet(conn, { statusPrefix: prefix, key, revision: R, maxMs: 5_000, logger, signal: stop.signal });
    expect(aborted.outcome).toBe('aborted');
    expect(aborted.elapsedMs).toBeLessThan(1_000);
    expect(aborted.missed.map((w) => w.id)).toEqual(['behind']);
  });

  it('an etcd that does not answer makes it time out at the bound, never throw', async () => {
    const gone = connectEtcdGateway({ endpoints: ['http://127.0.0.1:1'], timeoutMs: 300 });
    const logger = capture();
    const result = await waitForFleet(gone, { statusPrefix: PREFIX, key: '/clusters/x/a', revision: 5n, maxMs: 700, logger });
    gone.close();
    expect(result.outcome).toBe('timed-out');
    expect(result.elapsedMs).toBeLessThan(2_000);
    expect(logger.lines.join('\n')).toMatch(/could not read the watchers' status/);
  });

  it.each([
    ['gRPC', () => conn as EtcdClient],
    ['gateway', () => connectEtcdGateway({ endpoints: [etcd.endpoint] })],
  ])("deleteAt (%s): the delete's revision; with a lease, only a key on that lease", async (_name, client) => {
    const c = client();
    const key = `/clusters/del/${_name}`;
    const lease = await conn.grantLease(30);
    await conn.put(key, 'v', { lease });
    const other = await conn.grantLease(30);
    expect(await c.deleteAt(key, { lease: other })).toMatchObject({ deleted: 0 });
    expect((await conn.range(singleKey(key))).kvs).toHaveLength(1);
    const done = await c.deleteAt(key, { lease });
    expect(done.deleted).toBe(1);
    const after = await conn.put('/clusters/del/probe', '');
    expect(done.revision).toBe(after - 1n);
    expect((await conn.range(singleKey(key))).kvs).toHaveLength(0);
    await conn.put(key, 'v');
    const plain = await c.deleteAt(key);
    expect(plain.deleted).toBe(1);
    expect(await c.deleteAt(key)).toMatchObject({ deleted: 0 });
    if (c !== conn) c.close();
  });

  it('Registration.drain: deletes the key at R, revokes the lease, then waits for the fleet to apply R', async () => {
    const { path, prefix } = fresh();
    const key = `${path}/10.0.0.9:80`;
    const logger = capture();
    const reg = new Registration(conn, { key, value: '{}', ttl: 30, heartbeat: 10, logger, drain: { statusPrefix: prefix, maxMs: 5_000 } });
    await reg.register();
    const lease = reg.lease!;
    const ended = reg.run();
    const before = await conn.put('/clusters/elsewhere', '');
    await publish(prefix, record(path, 'lb-1', before));
    // The watcher "applies" whatever the drain deleted once it sees the key gone.
    const follower = (async () => {
      for (;;) {
        const res = await conn.range(singleKey(key));
        if (res.kvs.length === 0) {
          await new Promise((r) => setTimeout(r, 300));
          await publish(prefix, record(path, 'lb-1', res.revision));
          return res.revision;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const result = await reg.drain();
    expect(await ended).toBe('stopped');
    expect(result?.outcome).toBe('converged');
    expect(result!.revision).toBeGreaterThan(before);
    expect(result!.watchers.map((w) => w.id)).toEqual(['lb-1']);
    expect(result!.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(await follower).toBeGreaterThanOrEqual(result!.revision);
    expect(await conn.leaseTimeToLive(lease)).toBe(-1);
    const log = logger.lines.join('\n');
    expect(log).toMatch(new RegExp(`deleted ${key} at revision ${result!.revision}; waiting up to 5s`));
    expect(log).not.toMatch(/removing this node/);
  });
});
