import { describe, expect, it } from 'vitest';
import { type WatcherStatus, hashMismatches, parseWatcherStatus, statusClusterPrefix, statusKey, watcherState } from './status-record.js';

const base: WatcherStatus = {
  v: 1,
  watcher: { id: 'lb1:42:ab12', host: 'lb1', pid: 42, command: 'watch', version: '0.1.0' },
  cluster: { name: 'web', path: '/clusters/web' },
  file: '/etc/nginx/web.conf',
  appliedRevision: '100',
  members: 3,
  sha256: 'aa',
  installedAt: '2026-12-04T00:00:00.000Z',
  check: { ok: true },
  reload: { ok: true },
  fileCurrent: true,
  quarantined: [],
  updatedAt: '2026-12-04T00:00:00.000Z',
};

describe('status keys', () => {
  it("put each cluster path in one flat segment, so a cluster never contains another one's keys", () => {
    expect(statusKey('/cluster-control/status', '/clusters/web', 'lb1:42:ab12')).toBe('/cluster-control/status/%2Fclusters%2Fweb/lb1%3A42%3Aab12');
    expect(statusClusterPrefix('/cluster-control/status/', '/clusters')).toBe('/cluster-control/status/%2Fclusters/');
    expect(statusKey('/s', '/clusters/web', 'x').startsWith(statusClusterPrefix('/s', '/clusters'))).toBe(false);
  });
});

describe('parseWatcherStatus', () => {
  it('reads a record and refuses anything else', () => {
    expect(parseWatcherStatus(JSON.stringify(base))).toEqual(base);
    for (const bad of [
      '',
      'x',
      '[]',
      '{}',
      JSON.stringify({ ...base, v: 2 }),
      JSON.stringify({ ...base, appliedRevision: 100 }),
      JSON.stringify({ ...base, watcher: null }),
      JSON.stringify({ ...base, installedRevision: 7 }),
    ]) {
      expect(parseWatcherStatus(bad), bad).toBeUndefined();
    }
  });
});

describe('watcherState', () => {
  it('SYNCED at or past the newest revision with everything ok, BEHIND before it', () => {
    expect(watcherState(base, 100n)).toEqual({ state: 'SYNCED' });
    expect(watcherState(base, 101n)).toEqual({ state: 'BEHIND' });
  });

  it('with what the reader learnt from etcd: in step by the applied revision, whatever the newest change', () => {
    // 100's members are those of now although a member was added and removed since (newest change 120).
    expect(watcherState(base, { newestRevision: 120n, inStep: new Set(['100']) })).toEqual({ state: 'SYNCED' });
    // Past the newest mod revision but missing a removal after it.
    expect(watcherState(base, { newestRevision: 90n, inStep: new Set(['130']) })).toEqual({ state: 'BEHIND' });
    expect(watcherState(base, { newestRevision: 90n })).toEqual({ state: 'SYNCED' });
  });

  it('a watcher about to load a newer file (installed, not yet reloaded) is in step only by its applied revision', () => {
    const applyingOne = { ...base, installedRevision: '110' };
    // Members at 100 are those of now (a member added at 110 and removed at 120), but the file it
    // is about to load is 110's, with that member: not in step.
    expect(watcherState(applyingOne, { newestRevision: 120n, inStep: new Set(['100']) })).toEqual({ state: 'BEHIND' });
    expect(watcherState({ ...applyingOne, installedRevision: '100' }, { newestRevision: 120n, inStep: new Set(['100']) })).toEqual({ state: 'SYNCED' });
    // Past the newest change: the file it is about to load has the same members.
    expect(watcherState(applyingOne, { newestRevision: 100n, inStep: new Set(['100']) })).toEqual({ state: 'SYNCED' });
  });

  it('ERROR with the reason when the file, the check or the reload is failing', () => {
    expect(watcherState({ ...base, fileCurrent: false, problem: 'could not write x' }, 0n)).toEqual({ state: 'ERROR', reason: 'could not write x' });
    expect(watcherState({ ...base, reload: { ok: false, exitCode: 3, output: 'boom', since: 'T' } }, 0n)).toEqual({ state: 'ERROR', reason: 'reload failing (exit 3; boom; since T)' });
    expect(watcherState({ ...base, check: { ok: false, exitCode: 1 } }, 0n)).toEqual({ state: 'ERROR', reason: 'check failing (exit 1)' });
  });
});

describe('hashMismatches', () => {
  it('flags watchers at one revision with different files', () => {
    const a = { ...base, watcher: { ...base.watcher, id: 'a' } };
    const b = { ...base, watcher: { ...base.watcher, id: 'b' }, sha256: 'bb' };
    const c = { ...base, watcher: { ...base.watcher, id: 'c' }, appliedRevision: '99', sha256: 'cc' };
    expect(hashMismatches([a, b, c])).toEqual([{ revision: '100', hashes: { aa: ['a'], bb: ['b'] } }]);
    expect(hashMismatches([a, c])).toEqual([]);
  });

  it('with what the reader learnt from etcd: every watcher in step is one group, whatever its applied revision', () => {
    const a = { ...base, watcher: { ...base.watcher, id: 'a' } };
    const c = { ...base, watcher: { ...base.watcher, id: 'c' }, appliedRevision: '99', sha256: 'cc' };
    const d = { ...base, watcher: { ...base.watcher, id: 'd' }, appliedRevision: '98', sha256: 'dd' };
    expect(hashMismatches([a, c, d], { newestRevision: 100n, inStep: new Set(['100', '99']) })).toEqual([{ revision: '100', hashes: { aa: ['a'], cc: ['c'] } }]);
    // A behind watcher at the newest change's number is not taken for one in step.
    expect(hashMismatches([a, { ...d, appliedRevision: '100' }], { newestRevision: 100n, inStep: new Set(['99']) })).toEqual([{ revision: '100', hashes: { aa: ['a'], dd: ['d'] } }]);
  });
});
