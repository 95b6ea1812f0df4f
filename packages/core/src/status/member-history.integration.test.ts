import { describe, expect, it } from 'vitest';
import { haveEtcd, type EtcdServer } from '#test-support/etcd-server.js';
import { useEtcdConnection } from '#test-support/etcd-fixture.js';
import type { EtcdClient, EtcdConnection } from '../etcd/types.js';
import { connectEtcd } from '../etcd/grpc-connection.js';
import { connectEtcdGateway } from '../etcd/gateway-connection.js';
import { prefixRange } from '../etcd/key-range.js';
import { MemberHistory } from './member-history.js';

// README: Is the fleet in step? A quiet watcher writes nothing; readers tell from etcd's history
// of the member prefix whether what it applied still holds, removals included.
describe.skipIf(!haveEtcd)('MemberHistory against a real etcd', () => {
  let conn: EtcdConnection;
  let etcd: EtcdServer;
  useEtcdConnection(
    (endpoint) => connectEtcd({ endpoints: [endpoint] }),
    (started) => ({ conn, etcd } = started),
  );

  it('summaries: count and newest mod revision, now and at a past revision, alike over gRPC and the gateway', async () => {
    const gw = connectEtcdGateway({ endpoints: [etcd.endpoint] });
    try {
      const a = await conn.put('/mh-sum/a', '1');
      const b = await conn.put('/mh-sum/b', '1');
      await conn.put('/mh-sum-not/c', '1'); // beside the prefix, not in it
      for (const client of [conn, gw] as EtcdClient[]) {
        const now = await client.summarize(prefixRange('/mh-sum/'));
        expect([now.count, now.newestModRevision]).toEqual([2, b]);
        expect(now.revision).toBeGreaterThan(b);
        const then = await client.summarize(prefixRange('/mh-sum/'), { revision: a });
        expect(then).toEqual({ count: 1, newestModRevision: a, revision: a });
        expect(await client.summarize(prefixRange('/mh-none/'))).toMatchObject({ count: 0, newestModRevision: 0n });
      }
    } finally {
      gw.close();
    }
  });

  it('a removal is a change; a member added and removed again is none; the newest change is found', async () => {
    const history = new MemberHistory(conn, '/mh-del');
    await conn.put('/mh-del/a', '1');
    const quiet = await conn.put('/mh-del/b', '1'); // a watcher applied this and wrote nothing since
    const added = await conn.put('/mh-del/c', '1'); // a watcher applied this too
    await conn.put('/elsewhere/status', 'x'); // other writes move etcd's revision on
    const removed = (await conn.deleteAt('/mh-del/c')).revision;
    for (let i = 0; i < 20; i++) await conn.put('/elsewhere/status', String(i));

    const now = await history.now();
    expect(now.newestModRevision).toBe(quiet); // the removal left no newer key behind
    expect(await history.unchanged(quiet, now)).toBe(true); // c came and went
    expect(await history.unchanged(added, now)).toBe(false); // still has c
    expect(await history.unchanged(removed, now)).toBe(true);
    // Told by nothing but the prefix, c's coming and going is invisible: the members are b's.
    expect(await history.newestChange(now)).toBe(quiet);
    // A watcher that applied the removal, or one still at c, shows where the members changed.
    expect(await history.newestChange(now, [String(removed)])).toBe(removed);
    expect(await history.newestChange(now, [String(added), String(quiet)])).toBe(removed);
    expect([...(await history.inStep([String(quiet), String(added), String(removed), String(now.revision + 5n)], now))].sort()).toEqual(
      [String(quiet), String(removed), String(now.revision + 5n)].sort(),
    );

    // The usual case: the newest member removed. Its watchers applied the removal; the newest
    // mod revision is an older member's.
    const d = await conn.put('/mh-del/d', '1');
    const dGone = (await conn.deleteAt('/mh-del/d')).revision;
    await conn.put('/elsewhere/status', 'y');
    const after = await history.now();
    expect(after.newestModRevision).toBe(quiet);
    expect(await history.newestChange(after, [String(dGone), String(dGone)])).toBe(dGone);
    expect(await history.newestChange(after, [String(d)])).toBe(dGone);
    // A put is the newest change again.
    const back = await conn.put('/mh-del/c', '2');
    const later = await history.now();
    expect(await history.newestChange(later)).toBe(back);
    expect(await history.unchanged(removed, later)).toBe(false);

    // Judged against a past revision (status --wait's goal, the drain's R).
    const atRemoval = await history.summaryAt(removed);
    expect(atRemoval).not.toBeNull();
    expect(await history.unchanged(quiet, atRemoval!)).toBe(true);
    expect(await history.unchanged(added, atRemoval!)).toBe(false);
  });

  it('compacted history: cannot tell (undefined); in step falls back to the newest mod revision', async () => {
    const history = new MemberHistory(conn, '/mh-compact');
    const first = await conn.put('/mh-compact/a', '1');
    await conn.put('/mh-compact/b', '1');
    const gone = (await conn.deleteAt('/mh-compact/b')).revision;
    await etcd.ctl('compact', String(gone));
    const now = await history.now();
    expect(await history.summaryAt(first)).toBeNull();
    expect(await history.unchanged(first, now)).toBeUndefined();
    expect(await history.unchanged(gone, now)).toBe(true); // the compaction point itself is kept
    expect([...(await history.inStep([String(first)], now))]).toEqual([String(first)]);
    expect(await history.newestChange(now)).toBeGreaterThanOrEqual(first);
    // Revision 0: before anything was written (etcd would read 0 as "now").
    expect(await history.summaryAt(0n)).toEqual({ count: 0, newestModRevision: 0n, revision: 0n });
  });
});
