import type { WatcherStatus } from '@cluster-control/core/status';
import { describe, expect, it } from 'vitest';
import { FleetPoller, fleetCluster } from './fleet.js';
import { renderFleetCluster } from './html.js';

function record(id: string, over: Partial<WatcherStatus> = {}): string {
  const s: WatcherStatus = {
    v: 1,
    watcher: { id, host: 'h', pid: 42, command: 'run', version: '0.0.0' },
    cluster: { name: 'dbservers', path: '/demo/dbserver' },
    file: '/tmp/dbservers.json',
    appliedRevision: '10',
    members: 2,
    sha256: 'ab'.repeat(32),
    installedAt: new Date(0).toISOString(),
    check: null,
    reload: { ok: true },
    fileCurrent: true,
    quarantined: [],
    updatedAt: new Date(0).toISOString(),
    ...over,
  };
  return JSON.stringify(s);
}

describe('fleetCluster', () => {
  it('derives SYNCED, BEHIND and ERROR per watcher, sorted by id, and skips what is not a status', () => {
    const c = fleetCluster({ name: 'dbservers', path: '/demo/dbserver' }, 10n, [
      record('w3', { reload: { ok: false, exitCode: 3, output: 'boom', since: 'then' } }),
      record('w1'),
      'not json',
      record('w2', { appliedRevision: '9' }),
    ]);
    expect(c.revision).toBe('10');
    expect(c.watchers.map((w) => [w.id, w.state, w.appliedRevision, w.reload])).toEqual([
      ['w1', 'SYNCED', '10', 'ok'],
      ['w2', 'BEHIND', '9', 'ok'],
      ['w3', 'ERROR', '10', 'exit 3'],
    ]);
    expect(c.watchers[2]!.reason).toContain('exit 3');
    expect(c.watchers[0]).toMatchObject({ command: 'run', pid: 42, members: 2, hash: 'abababababab' });
    expect(c.mismatches).toBe(0);
  });

  it('flags watchers at the same revision with different files, and escapes ids in the table', () => {
    const c = fleetCluster({ name: 'x', path: '/x' }, 10n, [record('<b>w1</b>'), record('w2', { sha256: 'cd'.repeat(32) })]);
    expect(c.mismatches).toBe(1);
    const html = renderFleetCluster(c);
    expect(html).not.toContain('<b>');
    expect(html).toContain('data-watcher="&lt;b&gt;w1&lt;/b&gt;"');
    expect(html).toContain('hash mismatch');
  });
});

describe('FleetPoller', () => {
  it('reports a change once, keeps the last clusters on a failed read', async () => {
    const reads: (() => Promise<ReturnType<typeof fleetCluster>[]>)[] = [
      async () => [fleetCluster({ name: 'x', path: '/x' }, 1n, [record('w1', { appliedRevision: '1' })])],
      async () => [fleetCluster({ name: 'x', path: '/x' }, 1n, [record('w1', { appliedRevision: '1' })])],
      async () => {
        throw new Error('etcd away');
      },
    ];
    const seen: unknown[] = [];
    const poller = new FleetPoller(
      () => reads.shift()!(),
      '/s',
      (r) => seen.push(r),
      60_000,
    );
    await poller.poll();
    await poller.poll();
    expect(seen).toHaveLength(1);
    await poller.poll();
    expect(seen).toHaveLength(2);
    expect(poller.current().error).toContain('etcd away');
    expect(poller.current().clusters[0]!.watchers[0]!.state).toBe('SYNCED');
  });
});
