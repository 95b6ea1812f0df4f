import { join } from 'node:path';
import type { EtcdConnection } from '@cluster-control/core';
import { connectEtcd, connectEtcdGateway, prefixRange } from '@cluster-control/core/etcd';
import { type WatcherStatus, statusKey } from '@cluster-control/core/status';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';

const PREFIX = '/cluster-control/status';

interface StatusJson {
  clusters: {
    name: string;
    path: string;
    revision: string;
    watchers: { id: string; state: string; reason?: string; appliedRevision: string; lagRevisions: number; lagSeconds: number; members: number; sha256: string | null; pid: number }[];
    hashMismatches: { revision: string; hashes: Record<string, string[]> }[];
  }[];
}

function record(id: string, path: string, over: Partial<WatcherStatus> = {}): WatcherStatus {
  return {
    v: 1,
    watcher: { id, host: id.split(':')[0]!, pid: 1, command: 'watch', version: '0.0.0' },
    cluster: { name: 'x', path },
    file: '/tmp/x.json',
    appliedRevision: '0',
    members: 0,
    sha256: 'ab'.repeat(32),
    installedAt: new Date().toISOString(),
    check: null,
    reload: { ok: true },
    fileCurrent: true,
    quarantined: [],
    updatedAt: new Date().toISOString(),
    ...over,
  };
}

// README: Is the fleet in step? `status` reads what watchers published. Here the records are
// written by hand, to pin the command's reading, output, --wait and exit codes; the fleet below
// runs real watchers.
describe.skipIf(!haveEtcd)('status: reading published records', () => {
  let etcd: EtcdServer;
  let client: EtcdConnection;
  let conf: string;
  beforeAll(async () => {
    etcd = await startEtcd();
    client = await connectEtcd({ endpoints: [etcd.endpoint] });
    const dir = await tempDir();
    conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      clusters: [
        { name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: join(dir, 'web.json') },
        { name: 'db', path: '/clusters/db', handler: 'json', handlerConfig: join(dir, 'db.json') },
      ],
    });
  });
  afterAll(async () => {
    client?.close();
    await etcd?.dispose();
  });

  const put = (path: string, s: WatcherStatus) => client.put(statusKey(PREFIX, path, s.watcher.id), JSON.stringify(s));

  it('the gateway client finds the newest mod revision under a prefix (0 when empty)', async () => {
    const gw = connectEtcdGateway({ endpoints: [etcd.endpoint] });
    try {
      expect(await gw.newestModRevision(prefixRange('/nothing/'))).toBe(0n);
      const first = await client.put('/newest/a', '1');
      const second = await client.put('/newest/b', '1');
      await client.put('/newest/a', '2');
      await client.put('/other', '1');
      expect(await gw.newestModRevision(prefixRange('/newest/'))).toBe(second + 1n);
      expect(await client.newestModRevision(prefixRange('/newest/'))).toBe(second + 1n);
      expect(first).toBeLessThan(second);
    } finally {
      gw.close();
    }
  });

  it('shows each cluster, its watchers with their states, and says when there are none', async () => {
    const rev = await client.put('/clusters/web/10.0.0.1:80', '');
    // lb1 reported the change 6 s ago: lb2 has been behind it since then.
    await put('/clusters/web', record('lb1:1:a', '/clusters/web', { appliedRevision: String(rev), members: 1, updatedAt: new Date(Date.now() - 6000).toISOString() }));
    await put('/clusters/web', record('lb2:2:b', '/clusters/web', { appliedRevision: String(rev - 1n), updatedAt: new Date(Date.now() - 20_000).toISOString() }));
    await put('/clusters/web', record('lb3:3:c', '/clusters/web', { appliedRevision: String(rev), reload: { ok: false, exitCode: 3, output: 'boom' } }));
    // Not a status: ignored.
    await client.put(`${PREFIX}/${encodeURIComponent('/clusters/web')}/junk`, 'not json');

    const res = await runCli(['--conf', conf, 'status']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`cluster web (/clusters/web/): newest revision ${rev}`);
    expect(res.stdout).toMatch(/lb1:1:a\s+SYNCED\s+\d+\s+0\s+1\s+abababababab\s+ok/);
    expect(res.stdout).toMatch(/lb2:2:b\s+BEHIND\s+\d+\s+1 rev, [5-9]\.\ds/);
    expect(res.stdout).toMatch(/lb3:3:c\s+ERROR .*exit 3\s+reload failing \(exit 3; boom\)/);
    expect(res.stdout).toContain('cluster db (/clusters/db/): newest revision 0\n  no live watchers');

    const json = JSON.parse((await runCli(['--conf', conf, 'status', 'web', '--json'])).stdout) as StatusJson;
    expect(json.clusters.map((c) => [c.name, c.path, c.revision])).toEqual([['web', '/clusters/web', String(rev)]]);
    expect(json.clusters[0]!.watchers.map((w) => [w.id, w.state, w.lagRevisions])).toEqual([
      ['lb1:1:a', 'SYNCED', 0],
      ['lb2:2:b', 'BEHIND', 1],
      ['lb3:3:c', 'ERROR', 0],
    ]);
    expect(json.clusters[0]!.watchers[2]!.reason).toBe('reload failing (exit 3; boom)');
  });

  it('--wait: exit 1 at the timeout naming who held it up; exit 0 once they caught up', async () => {
    const rev = await client.put('/clusters/db/10.1.0.1:80', '');
    await put('/clusters/db', record('db1:1:a', '/clusters/db', { appliedRevision: String(rev + 1000n) }));
    await put('/clusters/db', record('db2:2:b', '/clusters/db', { appliedRevision: String(rev - 1n) }));
    const started = Date.now();
    const timedOut = await runCli(['--conf', conf, 'status', 'db', '--wait', '--timeout', '1', '--expect', '3']);
    expect(timedOut.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(timedOut.stderr).toMatch(new RegExp(`^db: waiting for db2:2:b \\(BEHIND at ${rev - 1n} < \\d+\\); only 2 of 3 expected watchers\\n$`));
    expect(timedOut.stdout).toContain('cluster db');

    const waiting = spawnCli(['--conf', conf, 'status', 'db', '--wait', '--json', '--timeout', '20']);
    await new Promise((r) => setTimeout(r, 700));
    expect(waiting.child.exitCode).toBeNull();
    await put('/clusters/db', record('db2:2:b', '/clusters/db', { appliedRevision: String(rev + 1000n) }));
    const done = await waiting.exited();
    expect(done.code).toBe(0);
    expect((JSON.parse(done.stdout) as StatusJson).clusters[0]!.watchers.map((w) => w.state)).toEqual(['SYNCED', 'SYNCED']);

    // --revision: a goal below what everyone applied is met at once.
    expect((await runCli(['--conf', conf, 'status', 'db', '--wait', '--revision', String(rev), '--expect', '2'])).code).toBe(0);
    // An ERROR holds --wait up whatever the revision.
    await put('/clusters/db', record('db3:3:c', '/clusters/db', { appliedRevision: String(rev + 1000n), check: { ok: false, exitCode: 2 } }));
    const error = await runCli(['--conf', conf, 'status', 'db', '--wait', '--timeout', '0.5', '--revision', '1']);
    expect(error.code).toBe(1);
    expect(error.stderr).toBe('db: waiting for db3:3:c (ERROR: check failing (exit 2))\n');
  });

  it('usage and configuration errors exit 2; an unreachable etcd exits 1 at --timeout', async () => {
    const unknown = await runCli(['--conf', conf, 'status', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown cluster "nope"/);
    const noWait = await runCli(['--conf', conf, 'status', '--expect', '2']);
    expect(noWait.code).toBe(2);
    expect(noWait.stderr).toMatch(/only apply with --wait/);
    expect((await runCli(['--conf', conf, 'status', '--wait', '--expect', '0'])).code).toBe(2);
    const dir = await tempDir();
    const off = await writeJson(join(dir, 'off.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      status: false,
      clusters: [{ name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: 'w.json' }],
    });
    const disabled = await runCli(['--conf', off, 'status']);
    expect(disabled.code).toBe(2);
    expect(disabled.stderr).toMatch(/status: false/);
    const gone = await writeJson(join(dir, 'gone.conf'), { etcd: { endpoints: ['http://127.0.0.1:1'] }, clusters: [{ name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: 'w.json' }] });
    const started = Date.now();
    const unreachable = await runCli(['--conf', gone, 'status', '--timeout', '1']);
    expect(unreachable.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(6000);
    expect(unreachable.stderr).toMatch(/gave up after/);
  });

  it('--help has examples', async () => {
    const help = await runCli(['status', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('cluster-control status web --wait --expect 3 --timeout 60');
  });
});

// A read-only role is enough: read on the status prefix and on the cluster prefixes.
describe.skipIf(!haveEtcd)('status with a read-only etcd role', () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await startEtcd();
    await etcd.ctl('user', 'add', 'root:rootpw');
    await etcd.ctl('role', 'add', 'fleet-viewer');
    await etcd.ctl('role', 'grant-permission', 'fleet-viewer', 'read', '--prefix', `${PREFIX}/`);
    await etcd.ctl('role', 'grant-permission', 'fleet-viewer', 'read', '--prefix', '/clusters/web/');
    await etcd.ctl('user', 'add', 'viewer:viewerpw');
    await etcd.ctl('user', 'grant-role', 'viewer', 'fleet-viewer');
    await etcd.ctl('auth', 'enable');
  });
  afterAll(async () => {
    await etcd?.dispose();
  });

  it('shows the fleet; a cluster it may not read is one clear error, exit 1', async () => {
    const root = ['--user', 'root:rootpw'];
    await etcd.ctl(...root, 'put', '/clusters/web/10.0.0.1:80', '');
    await etcd.ctl(...root, 'put', statusKey(PREFIX, '/clusters/web', 'lb1:1:a'), JSON.stringify(record('lb1:1:a', '/clusters/web', { appliedRevision: '1000' })));
    const dir = await tempDir();
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint], auth: { username: 'viewer', password: 'viewerpw' } },
      clusters: [
        { name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: 'web.json' },
        { name: 'db', path: '/clusters/db', handler: 'json', handlerConfig: 'db.json' },
      ],
    });
    const ok = await runCli(['--conf', conf, 'status', 'web', '--wait', '--expect', '1', '--timeout', '5']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/lb1:1:a\s+SYNCED/);
    const denied = await runCli(['--conf', conf, 'status', 'db', '--timeout', '5']);
    expect(denied.code).toBe(1);
    expect(denied.stderr.trim().split('\n')).toHaveLength(1);
    expect(denied.stderr).toMatch(/permission denied/i);
  });
});

// The "Must show": real `watch` processes publishing, `status` reading them.
describe.skipIf(!haveEtcd)('status: a fleet of real watchers', () => {
  let etcd: EtcdServer;
  let client: EtcdConnection;
  let viewer: string;
  const running: CliProcess[] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
    client = await connectEtcd({ endpoints: [etcd.endpoint] });
    viewer = await writeJson(join(await tempDir(), 'viewer.conf'), { etcd: { endpoints: [etcd.endpoint] }, clusters: clusters('/nowhere') });
  });
  afterAll(async () => {
    for (const p of running) {
      p.kill('SIGCONT');
      p.kill('SIGKILL');
    }
    client?.close();
    await etcd?.dispose();
  });

  function clusters(dir: string, overrides: Record<string, Record<string, unknown>> = {}) {
    return [
      { name: 'fleet', path: '/clusters/fleet', handler: 'json', handlerConfig: join(dir, 'fleet.json'), ...overrides.fleet },
      { name: 'failing', path: '/clusters/failing', handler: 'json', handlerConfig: join(dir, 'failing.json'), reload: ['sh', '-c', 'echo "reload says no"; exit 3'], ...overrides.failing },
      { name: 'mixed', path: '/clusters/mixed', handler: 'json', handlerConfig: { file: join(dir, 'mixed.json'), format: 'names' }, ...overrides.mixed },
      { name: 'removal', path: '/clusters/removal', handler: 'json', handlerConfig: join(dir, 'removal.json') },
    ];
  }

  /** A `watch <cluster> 0` process with its own configuration (status TTL, cluster overrides). */
  async function watcher(cluster: string, options: { ttl?: number; overrides?: Record<string, Record<string, unknown>> } = {}) {
    const dir = await tempDir();
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      ...(options.ttl ? { status: { ttl: options.ttl } } : {}),
      clusters: clusters(dir, options.overrides),
    });
    const proc = spawnCli(['--conf', conf, 'watch', cluster, '0']);
    running.push(proc);
    await proc.waitForLog(/in sync at revision/);
    return proc;
  }

  const status = async (...args: string[]) => {
    const res = await runCli(['--conf', viewer, 'status', '--json', ...args]);
    expect(res.code, res.stderr).toBe(0);
    return (JSON.parse(res.stdout) as StatusJson).clusters;
  };
  const rowOf = (rows: StatusJson['clusters'][number]['watchers'], proc: CliProcess) => rows.find((w) => w.pid === proc.child.pid);

  it('three watchers: SYNCED; one frozen: BEHIND and --wait names it; thawed: --wait exits 0; killed: gone within its TTL', async () => {
    // The one to freeze keeps its key long enough to be seen frozen; the one to kill has a short TTL.
    const frozen = await watcher('fleet', { ttl: 30 });
    const killed = await watcher('fleet', { ttl: 3 });
    const third = await watcher('fleet');
    await client.put('/clusters/fleet/10.0.0.1:80', '');
    const synced = (await waitFor(
      async () => {
        const [fleet] = await status('fleet');
        return fleet!.watchers.length === 3 && fleet!.watchers.every((w) => w.state === 'SYNCED' && w.members === 1) ? fleet : undefined;
      },
      { timeoutMs: 20_000, what: 'three SYNCED watchers' },
    ))!;
    expect(new Set(synced.watchers.map((w) => w.sha256)).size).toBe(1);
    expect(synced.hashMismatches).toEqual([]);
    expect(synced.watchers.map((w) => w.pid).sort()).toEqual([frozen, killed, third].map((p) => p.child.pid).sort());

    frozen.kill('SIGSTOP');
    const changed = await client.put('/clusters/fleet/10.0.0.2:80', '');
    const behind = (await waitFor(
      async () => {
        const [fleet] = await status('fleet');
        const f = rowOf(fleet!.watchers, frozen);
        const others = fleet!.watchers.filter((w) => w !== f);
        return f?.state === 'BEHIND' && others.length === 2 && others.every((w) => w.state === 'SYNCED' && BigInt(w.appliedRevision) >= changed) ? f : undefined;
      },
      { timeoutMs: 15_000, what: 'the frozen watcher BEHIND, the others SYNCED' },
    ))!;
    expect(behind.lagRevisions).toBeGreaterThanOrEqual(1);
    const table = await runCli(['--conf', viewer, 'status', 'fleet']);
    console.log(table.stdout);
    expect(table.stdout).toMatch(new RegExp(`${behind.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+BEHIND`));
    const started = Date.now();
    // --revision: the change itself.
    const stuck = await runCli(['--conf', viewer, 'status', 'fleet', '--wait', '--revision', String(changed), '--timeout', '3']);
    expect(stuck.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(stuck.stderr).toMatch(new RegExp(`^fleet: waiting for ${behind.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(BEHIND at ${behind.appliedRevision} < ${changed}\\)\\n$`));

    frozen.kill('SIGCONT');
    const thawed = await runCli(['--conf', viewer, 'status', 'fleet', '--wait', '--expect', '3', '--json', '--timeout', '20'], { timeoutMs: 30_000 });
    expect(thawed.code, thawed.stderr).toBe(0);
    const [after] = (JSON.parse(thawed.stdout) as StatusJson).clusters;
    expect(after!.watchers.map((w) => w.state)).toEqual(['SYNCED', 'SYNCED', 'SYNCED']);
    expect(after!.watchers.every((w) => w.members === 2)).toBe(true);

    const killedId = rowOf(after!.watchers, killed)!.id;
    killed.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(async () => !(await status('fleet'))[0]!.watchers.some((w) => w.id === killedId), { timeoutMs: 10_000, intervalMs: 200, what: 'the killed watcher gone' });
    const goneAfter = Date.now() - killedAt;
    // TTL 3 s, plus etcd's expiry sweep and one `status` run.
    expect(goneAfter).toBeLessThan(5_500);
    console.log(`killed watcher gone from status after ${goneAfter} ms (status TTL 3 s)`);
    expect((await status('fleet'))[0]!.watchers).toHaveLength(2);
  });

  it('a frozen watcher that missed a removal is BEHIND (a removal leaves no newer key); --wait names it; a quiet fleet is SYNCED without writing', async () => {
    await client.put('/clusters/removal/10.2.0.1:80', '');
    await client.put('/clusters/removal/10.2.0.2:80', '');
    const frozen = await watcher('removal', { ttl: 30 });
    const other = await watcher('removal');
    await waitFor(async () => (await status('removal'))[0]!.watchers.filter((w) => w.state === 'SYNCED' && w.members === 2).length === 2, { timeoutMs: 20_000, what: 'two SYNCED watchers' });
    // Quiet: writes elsewhere move etcd's revision on; the watchers write nothing, and --wait
    // (etcd's revision when it started) finds them there from etcd's history.
    const before = (await status('removal'))[0]!.watchers.map((w) => w.appliedRevision);
    for (let i = 0; i < 5; i++) await client.put('/elsewhere/noise', String(i));
    const quiet = await runCli(['--conf', viewer, 'status', 'removal', '--wait', '--expect', '2', '--json', '--timeout', '3']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect((JSON.parse(quiet.stdout) as StatusJson).clusters[0]!.watchers.map((w) => w.appliedRevision)).toEqual(before);

    frozen.kill('SIGSTOP');
    const removed = (await client.deleteAt('/clusters/removal/10.2.0.2:80')).revision;
    const [view] = (await waitFor(
      async () => {
        const clusters = await status('removal');
        const rows = clusters[0]!.watchers;
        return rowOf(rows, other)?.members === 1 ? clusters : undefined;
      },
      { timeoutMs: 20_000, what: 'the other watcher applying the removal' },
    ))!;
    expect(view!.revision).toBe(String(removed));
    expect(rowOf(view!.watchers, other)).toMatchObject({ state: 'SYNCED', appliedRevision: String(removed), lagRevisions: 0 });
    const behind = rowOf(view!.watchers, frozen)!;
    expect(behind).toMatchObject({ state: 'BEHIND', members: 2 });
    expect(behind.lagRevisions).toBe(Number(removed - BigInt(behind.appliedRevision)));
    const stuck = await runCli(['--conf', viewer, 'status', 'removal', '--wait', '--timeout', '2']);
    expect(stuck.code).toBe(1);
    expect(stuck.stderr).toContain(`removal: waiting for ${behind.id} (BEHIND at ${behind.appliedRevision} < `);

    frozen.kill('SIGCONT');
    const thawed = await runCli(['--conf', viewer, 'status', 'removal', '--wait', '--revision', String(removed), '--expect', '2', '--json', '--timeout', '20'], { timeoutMs: 30_000 });
    expect(thawed.code, thawed.stderr).toBe(0);
    expect((JSON.parse(thawed.stdout) as StatusJson).clusters[0]!.watchers.map((w) => [w.state, w.members])).toEqual([
      ['SYNCED', 1],
      ['SYNCED', 1],
    ]);
    frozen.kill('SIGTERM');
    other.kill('SIGTERM');
  });

  it('a reload command that exits 3: ERROR with "exit 3"', async () => {
    const proc = await watcher('failing');
    await client.put('/clusters/failing/10.1.0.1:80', '');
    const row = (await waitFor(
      async () => {
        const row = rowOf((await status('failing'))[0]!.watchers, proc);
        return row?.state === 'ERROR' ? row : undefined;
      },
      { timeoutMs: 20_000, what: 'the watcher in ERROR' },
    ))!;
    expect(row.reason).toMatch(/^reload failing \(exit 3; reload says no/);
    const table = await runCli(['--conf', viewer, 'status', 'failing']);
    expect(table.stdout).toMatch(/ERROR\s.*exit 3\s+reload failing \(exit 3/);
    const wait = await runCli(['--conf', viewer, 'status', 'failing', '--wait', '--timeout', '1']);
    expect(wait.code).toBe(1);
    expect(wait.stderr).toMatch(/^failing: waiting for \S+ \(ERROR: reload failing \(exit 3/);
  });

  it('two watchers writing different files at one revision: hash mismatch flagged', async () => {
    const names = await watcher('mixed');
    const objects = await watcher('mixed', { overrides: { mixed: { handlerConfig: { file: join(await tempDir(), 'mixed.json'), format: 'objects' } } } });
    await client.put('/clusters/mixed/10.2.0.1:80', '');
    const mixed = (await waitFor(
      async () => {
        const [mixed] = await status('mixed');
        return mixed!.hashMismatches.length > 0 && mixed!.watchers.length === 2 ? mixed : undefined;
      },
      { timeoutMs: 20_000, what: 'a hash mismatch' },
    ))!;
    const [a, b] = [rowOf(mixed.watchers, names)!, rowOf(mixed.watchers, objects)!];
    expect(a.sha256).not.toBe(b.sha256);
    expect(Object.values(mixed.hashMismatches[0]!.hashes).flat().sort()).toEqual([a.id, b.id].sort());
    const table = await runCli(['--conf', viewer, 'status', 'mixed']);
    expect(table.stdout).toMatch(/! hash mismatch at revision \d+: \S+ vs \S+/);

    // A quiet cluster: etcd's history shows that nothing changed since what the watchers applied.
    const started = Date.now();
    const quiet = await runCli(['--conf', viewer, 'status', 'mixed', '--wait', '--expect', '2', '--timeout', '20'], { timeoutMs: 30_000 });
    expect(quiet.code, quiet.stderr).toBe(0);
    console.log(`status --wait on a quiet cluster: ${Date.now() - started} ms`);
    expect(Date.now() - started).toBeLessThan(12_000);
  });
});
