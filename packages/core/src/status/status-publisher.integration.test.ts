import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '#test-support/cli.js';
import { haveEtcd } from '#test-support/etcd-server.js';
import { useEtcdConnection } from '#test-support/etcd-fixture.js';
import type { EtcdConnection } from '../etcd/types.js';
import { connectEtcd } from '../etcd/grpc-connection.js';
import { prefixRange } from '../etcd/key-range.js';
import type { AnyHandler } from '../handler/handler.js';
import { ClusterSync } from '../sync/cluster-sync.js';
import { createMetrics } from '../util/metrics.js';
import { silentLogger } from '../util/log.js';
import { StatusPublisher } from './status-publisher.js';
import { parseWatcherStatus, statusClusterPrefix, type WatcherStatus, watcherState } from './status-record.js';

const lines: AnyHandler = { name: 'lines', parseOptions: (o) => o, render: (ms) => ms.map((m) => m.name).join('\n') + '\n' };
const PREFIX = '/cc-test/status';

// README: Is the fleet in step? A watcher publishes what it applied, on its own lease, coalesced.
describe.skipIf(!haveEtcd)('StatusPublisher with ClusterSync against a real etcd', () => {
  let conn: EtcdConnection;
  useEtcdConnection(
    (endpoint) => connectEtcd({ endpoints: [endpoint] }),
    (started) => (conn = started.conn),
  );

  async function statuses(path: string): Promise<WatcherStatus[]> {
    const res = await conn.range(prefixRange(statusClusterPrefix(PREFIX, path)));
    return res.kvs.map((kv) => parseWatcherStatus(kv.value)!);
  }
  const newest = async (path: string) => conn.newestModRevision(prefixRange(path + '/'));

  async function watcher(path: string, reload: string[], minMembers = 0) {
    const dir = await mkdtemp(join(tmpdir(), 'cc-status-'));
    const metrics = createMetrics();
    const publisher = new StatusPublisher(conn, { prefix: PREFIX, ttl: 5, command: 'test', logger: silentLogger, metrics });
    const target = { name: 'web', path, file: join(dir, 'web.txt'), handler: lines, handlerOptions: {}, checkTimeoutMs: 1000, minMembers };
    const sync = new ClusterSync(conn, { target, reload, reloadMinIntervalMs: 0, logger: silentLogger, metrics, status: publisher, watch: { progressIntervalMs: 300 } });
    await sync.start();
    return { sync, publisher, metrics };
  }

  it('publishes the applied revision (after the reload), members and the file hash; SYNCED as the cluster changes; gone on close', async () => {
    const path = '/clusters/status-a';
    await conn.put(`${path}/10.0.0.1:80`, '');
    const { sync, publisher, metrics } = await watcher(path, ['true']);
    await waitFor(async () => (await statuses(path)).length === 1, { what: 'the first status' });
    const [first] = await statuses(path);
    expect(first).toMatchObject({ cluster: { name: 'web', path }, members: 1, fileCurrent: true, watcher: { command: 'test', pid: process.pid } });
    expect(first!.sha256).toMatch(/^[0-9a-f]{64}$/);

    for (let i = 2; i <= 6; i++) await conn.put(`${path}/10.0.0.${i}:80`, '');
    const target = await newest(path);
    await waitFor(
      async () => {
        const [s] = await statuses(path);
        return s !== undefined && watcherState(s, target).state === 'SYNCED' && s.members === 6;
      },
      { what: 'SYNCED at the newest revision with 6 members' },
    );
    // Coalesced: five changes in quick succession are not five writes each.
    expect(metrics.get('cluster_control_status_writes_total', { cluster: 'web' })).toBeLessThan(12);

    // Quiet: progress notifications (every 300 ms here) and other writes moving etcd's revision
    // on make no status writes.
    await waitFor(async () => metrics.get('cluster_control_status_writes_total', { cluster: 'web' }) >= 2 && (await statuses(path))[0]!.reload?.ok === true, { what: 'the reload reported' });
    const settled = metrics.get('cluster_control_status_writes_total', { cluster: 'web' });
    for (let i = 0; i < 6; i++) {
      await conn.put('/clusters/status-a-other/x', String(i));
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(metrics.get('cluster_control_status_writes_total', { cluster: 'web' })).toBe(settled);
    // A change under the prefix that leaves the file as it is still counts as applied.
    const same = await conn.put(`${path}/10.0.0.6:80`, '');
    await waitFor(async () => BigInt((await statuses(path))[0]!.appliedRevision) >= same, { what: 'the unchanged file reported at the no-op put' });
    await publisher.close();
    await sync.stop();
    expect(await statuses(path)).toEqual([]);
  });

  it('a file held at minMembers on purpose counts as applied: a removal it refuses still moves appliedRevision on (a drain need not wait for it)', async () => {
    const path = '/clusters/status-min';
    await conn.put(`${path}/10.0.2.1:80`, '');
    await conn.put(`${path}/10.0.2.2:80`, '');
    const { sync, publisher } = await watcher(path, ['true'], 2);
    await waitFor(async () => (await statuses(path))[0]?.members === 2, { what: 'the first status' });
    const removed = (await conn.deleteAt(`${path}/10.0.2.2:80`)).revision;
    const s = (await waitFor(
      async () => {
        const [s] = await statuses(path);
        return s && BigInt(s.appliedRevision) >= removed ? s : undefined;
      },
      { what: 'the refused removal reported as applied' },
    ))!;
    // The file still has both members (held), and nothing is failing.
    expect(s).toMatchObject({ members: 2, fileCurrent: true });
    expect(watcherState(s, removed).state).toBe('SYNCED');
    await publisher.close();
    await sync.stop();
  });

  it('a failing reload is published as ERROR with its exit code, and the applied revision waits for a reload that works', async () => {
    const path = '/clusters/status-b';
    await conn.put(`${path}/10.0.1.1:80`, '');
    const { sync, publisher } = await watcher(path, ['sh', '-c', 'exit 3']);
    await conn.put(`${path}/10.0.1.2:80`, '');
    const target = await newest(path);
    await waitFor(async () => (await statuses(path))[0]?.reload?.ok === false, { what: 'the failing reload' });
    const [s] = await statuses(path);
    expect(watcherState(s!, target)).toMatchObject({ state: 'ERROR', reason: expect.stringMatching(/^reload failing \(exit 3/) });
    expect(BigInt(s!.appliedRevision)).toBeLessThan(target);
    await publisher.close();
    await sync.stop();
  });
});
