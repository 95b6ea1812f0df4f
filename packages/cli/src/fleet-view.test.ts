import type { WatcherStatus } from '@cluster-control/core/status';
import { describe, expect, it } from 'vitest';
import { type ClusterReading, clusterTable, fleetJson, holdUps, outcomeCell, viewCluster } from './fleet-view.js';

const now = Date.parse('2026-12-04T00:01:00.000Z');

function status(id: string, over: Partial<WatcherStatus> = {}): WatcherStatus {
  return {
    v: 1,
    watcher: { id, host: id.split(':')[0]!, pid: 100, command: 'watch', version: '0.1.0' },
    cluster: { name: 'web', path: '/clusters/web' },
    file: `/etc/${id}.json`,
    appliedRevision: '815',
    members: 3,
    sha256: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    installedAt: '2026-12-04T00:00:00.000Z',
    check: null,
    reload: { ok: true },
    fileCurrent: true,
    quarantined: [],
    updatedAt: '2026-12-04T00:00:59.000Z',
    ...over,
  };
}

const reading = (statuses: WatcherStatus[], newestRevision = 815n): ClusterReading => ({ name: 'web', path: '/clusters/web', newestRevision, statuses });

describe('viewCluster', () => {
  it('one row per watcher, sorted, with state, lag and the fields of --json', () => {
    const view = viewCluster(
      reading([
        status('lb3:3:c', { reload: { ok: false, exitCode: 3, output: 'nginx: [emerg]' } }),
        status('lb2:123:ab', { appliedRevision: '812', updatedAt: '2026-12-04T00:00:30.000Z' }),
        status('lb1:1:a', { updatedAt: '2026-12-04T00:00:48.000Z' }),
      ]),
      now,
    );
    expect(view.revision).toBe('815');
    // Behind since lb1 first reported 815 (00:00:48), not since lb2's own last report.
    expect(view.watchers.map((w) => [w.id, w.state, w.lagRevisions, w.lagSeconds])).toEqual([
      ['lb1:1:a', 'SYNCED', 0, 0],
      ['lb2:123:ab', 'BEHIND', 3, 12],
      ['lb3:3:c', 'ERROR', 0, 0],
    ]);
    expect(view.watchers[2]!.reason).toBe('reload failing (exit 3; nginx: [emerg])');
    expect('reason' in view.watchers[0]!).toBe(false);
    const json = JSON.parse(fleetJson([view])) as { clusters: { watchers: Record<string, unknown>[] }[] };
    expect(Object.keys(json.clusters[0]!)).toEqual(['name', 'path', 'revision', 'watchers', 'hashMismatches']);
    expect(Object.keys(json.clusters[0]!.watchers[1]!)).toEqual([
      'id',
      'state',
      'appliedRevision',
      'installedRevision',
      'lagRevisions',
      'lagSeconds',
      'members',
      'sha256',
      'reload',
      'check',
      'host',
      'pid',
      'file',
      'quarantined',
    ]);
  });

  it('a watcher past the newest change has no lag; a clock ahead of ours none below 0', () => {
    const view = viewCluster(reading([status('a', { appliedRevision: '900', updatedAt: '2026-12-04T00:02:00.000Z' }), status('b', { appliedRevision: '1' })]), now);
    expect(view.watchers.map((w) => [w.state, w.lagRevisions, w.lagSeconds])).toEqual([
      ['SYNCED', 0, 0],
      ['BEHIND', 814, 0],
    ]);
  });

  it('no watcher applied the newest change yet: behind since its own last report', () => {
    const view = viewCluster(reading([status('a', { appliedRevision: '812', updatedAt: '2026-12-04T00:00:50.000Z' })]), now);
    expect(view.watchers.map((w) => [w.state, w.lagRevisions, w.lagSeconds])).toEqual([['BEHIND', 3, 10]]);
  });

  it('in step by etcd history: a quiet watcher below the newest change is SYNCED; one that missed a removal is BEHIND', () => {
    // The reader found the members at 700 to be those of now (a member added at 720 and removed
    // at 815), and those at 810 not (it still had the one removed).
    const view = viewCluster(
      {
        ...reading([status('quiet', { appliedRevision: '700' }), status('missed', { appliedRevision: '810', sha256: 'b'.repeat(64) }), status('new', { sha256: 'c'.repeat(64) })]),
        inStep: new Set(['700', '815']),
      },
      now,
    );
    expect(view.watchers.map((w) => [w.id, w.state, w.lagRevisions])).toEqual([
      ['missed', 'BEHIND', 5],
      ['new', 'SYNCED', 0],
      ['quiet', 'SYNCED', 0],
    ]);
    // The two in step should have the same file, whatever their applied revisions: flagged.
    expect(view.hashMismatches).toEqual([{ revision: '815', hashes: { ['c'.repeat(64)]: ['new'], ['a'.repeat(64)]: ['quiet'] } }]);
  });
});

describe('clusterTable', () => {
  it('prints a header, aligned rows, the ERROR reason and hash mismatches', () => {
    const view = viewCluster(
      reading([
        status('lb1:1:a'),
        status('lb2:2:b', { sha256: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' }),
        status('lb3:3:c', { appliedRevision: '812', updatedAt: '2026-12-04T00:00:30.000Z' }),
        status('lb4:4:d', { reload: { ok: false, exitCode: 3 }, updatedAt: '2026-12-04T00:00:48.000Z' }),
      ]),
      now,
    );
    expect(clusterTable(view)).toBe(
      [
        'cluster web (/clusters/web/): newest revision 815',
        '  WATCHER  STATE   APPLIED  LAG           MEMBERS  HASH          RELOAD',
        '  lb1:1:a  SYNCED  815      0             3        aaaaaaaaaaaa  ok',
        '  lb2:2:b  SYNCED  815      0             3        bbbbbbbbbbbb  ok',
        '  lb3:3:c  BEHIND  812      3 rev, 12.0s  3        aaaaaaaaaaaa  ok',
        '  lb4:4:d  ERROR   815      0             3        aaaaaaaaaaaa  exit 3  reload failing (exit 3)',
        '  ! hash mismatch at revision 815: lb1:1:a,lb4:4:d vs lb2:2:b',
        '',
      ].join('\n'),
    );
  });

  it('says so when no watcher is live', () => {
    expect(clusterTable(viewCluster(reading([], 0n), now))).toBe('cluster web (/clusters/web/): newest revision 0\n  no live watchers (none has reported within its status TTL)\n');
  });

  it('reload cells', () => {
    expect([outcomeCell(null), outcomeCell({ ok: true }), outcomeCell({ ok: false, exitCode: 3 }), outcomeCell({ ok: false })]).toEqual(['-', 'ok', 'exit 3', 'failed']);
  });
});

describe('holdUps (--wait)', () => {
  const goal = { revision: 815n };

  it('nothing when every live watcher applied the revision without ERROR', () => {
    expect(holdUps([viewCluster(reading([status('a'), status('b', { appliedRevision: '816' })]), now)], goal)).toEqual([]);
    // No watchers and no --expect: nothing to wait for.
    expect(holdUps([viewCluster(reading([]), now)], goal)).toEqual([]);
  });

  it('names who is behind the goal or in ERROR, and too few watchers', () => {
    const view = viewCluster(reading([status('lb1:1:a'), status('lb2:123:ab', { appliedRevision: '812' }), status('lb3', { reload: { ok: false, exitCode: 3 } })]), now);
    expect(holdUps([view], goal)).toEqual(['web: waiting for lb2:123:ab (BEHIND at 812 < 815), lb3 (ERROR: reload failing (exit 3))']);
    expect(holdUps([view], { revision: 815n, expect: 4 })).toEqual(['web: waiting for lb2:123:ab (BEHIND at 812 < 815), lb3 (ERROR: reload failing (exit 3)); only 3 of 4 expected watchers']);
    expect(holdUps([viewCluster(reading([status('a'), status('b')]), now)], { revision: 815n, expect: 3 })).toEqual(['web: only 2 of 3 expected watchers']);
  });

  it('a watcher below the goal is waited for unless its members are those at the goal', () => {
    const view = viewCluster(reading([status('a', { appliedRevision: '815' })], 815n), now);
    expect(view.watchers[0]!.state).toBe('SYNCED');
    expect(holdUps([view], { revision: 816n })).toEqual(['web: waiting for a (BEHIND at 815 < 816)']);
    // Nothing changed under the prefix from 815 to 820 (a status write moved etcd on): there.
    expect(holdUps([view], { revision: 820n, unchanged: new Map([['/clusters/web', new Set(['815'])]]) })).toEqual([]);
    // About to load a newer file (installed at 818, its reload pending): not there yet.
    const applyingView = viewCluster(reading([status('a', { appliedRevision: '815', installedRevision: '818' })], 815n), now);
    expect(holdUps([applyingView], { revision: 820n, unchanged: new Map([['/clusters/web', new Set(['815'])]]) })).toEqual(['web: waiting for a (BEHIND at 815 < 820)']);
    // Another cluster's set does not count.
    expect(holdUps([view], { revision: 820n, unchanged: new Map([['/clusters/db', new Set(['815'])]]) })).toEqual(['web: waiting for a (BEHIND at 815 < 820)']);
  });

  it('one line per cluster held up', () => {
    const web = viewCluster(reading([status('a', { appliedRevision: '1' })]), now);
    const db = viewCluster({ ...reading([status('b')]), name: 'db' }, now);
    const cache = viewCluster({ ...reading([]), name: 'cache' }, now);
    expect(holdUps([web, db, cache], { revision: 815n, expect: 1 })).toEqual(['web: waiting for a (BEHIND at 1 < 815)', 'cache: only 0 of 1 expected watchers']);
  });
});
