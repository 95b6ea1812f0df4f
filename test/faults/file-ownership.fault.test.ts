import { execFileSync } from 'node:child_process';
import { chown, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdConnection } from '@cluster-control/core';
import { tempDir, waitFor } from '#test-support/cli.js';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { Churn, type Watcher, lostChanges, startWatcher, testClient, waitConverged } from './harness.js';
import { recordResult } from './results.js';

/*
 * 12. Files: installed files keep their mode and group. A target pre-created with mode 0640 and
 * owner root:nogroup (a root file a service's group may read) is rewritten 100+ times under churn
 * by a real watcher (each rewrite is a new file renamed over the old one); sampled all along, its
 * mode and owner never change. New files get 0644, or the configured `mode`. (A file owned by
 * another user is refused outright: see 14, file safety.)
 */
const PATH = '/faults/files';
const REWRITES = 120;
// An odd pool: with an even one, Churn puts and deletes disjoint halves of it, so after one pass
// the member set stops changing (only values change, and the json file stays the same).
const POOL = 39;

/** The numeric id in a `getent passwd|group NAME` line. */
const idOf = (db: 'passwd' | 'group', name: string) => Number(execFileSync('getent', [db, name]).toString().split(':')[2]);

describe.skipIf(!haveEtcd)('12 files keep their mode and owner', () => {
  let etcd: EtcdServer;
  let client: EtcdConnection | undefined;
  let churn: Churn | undefined;
  const watchers: Watcher[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    client = await testClient([etcd.endpoint]);
  });

  afterAll(async () => {
    await churn?.stop();
    for (const w of watchers) {
      w.proc.kill('SIGKILL');
      await rm(dirname(w.file), { recursive: true, force: true });
      await rm(dirname(w.conf), { recursive: true, force: true });
    }
    client?.close();
    await etcd?.dispose();
  });

  it('12 mode and owner kept over 100+ rewrites; new files 0644 or the configured mode', async () => {
    expect(process.getuid?.()).toBe(0); // chown to another user needs root (the suite runs as root, as CI does)
    const uid = 0;
    const gid = idOf('group', 'nogroup');
    expect(gid).toBeGreaterThan(0);

    // The pre-existing target, in the watcher's own directory (startWatcher makes it and names the file).
    const existingDir = await tempDir('cc-fault-own-');
    const existing = join(existingDir, 'members.json');
    await writeFile(existing, 'placeholder\n', { mode: 0o640 });
    await chown(existing, uid, gid);
    const before = await stat(existing);
    expect(before.mode & 0o7777).toBe(0o640);

    churn = new Churn(client!, PATH, { intervalMs: 40, poolSize: POOL, subnet: 12 }).start();
    const w = await startWatcher([etcd.endpoint], PATH, { cluster: { handlerConfig: existing } });
    const owned: Watcher = { ...w, file: existing, members: async () => JSON.parse(await readFile(existing, 'utf8')) as string[] };
    const fresh = await startWatcher([etcd.endpoint], PATH); // no `mode`: 0644
    const configured = await startWatcher([etcd.endpoint], PATH, { cluster: { mode: '0600' } });
    watchers.push(owned, fresh, configured);
    // "in sync" is logged once etcd was read; the first install follows a moment later.
    await waitFor(async () => (await Promise.all(watchers.map((x) => x.members()))).length === 3, { what: 'the first install of every file' });

    const expected = new Map<Watcher, { mode: number; uid: number; gid: number }>([
      [owned, { mode: 0o640, uid, gid }],
      [fresh, { mode: 0o644, uid: 0, gid: 0 }],
      [configured, { mode: 0o600, uid: 0, gid: 0 }],
    ]);
    const rewrites = (w: Watcher) => (w.proc.stderr().match(/: wrote /g) ?? []).length;

    // Sample every file while churn makes the watchers rewrite them; each sample must match.
    let samples = 0;
    let distinct = 0;
    let lastIno = 0;
    const wrong: string[] = [];
    const started = Date.now();
    while (rewrites(owned) < REWRITES) {
      if (Date.now() - started > 60_000) throw new Error(`only ${rewrites(owned)} rewrites in 60 s`);
      for (const [w, want] of expected) {
        const s = await stat(w.file);
        samples++;
        const got = { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid };
        if (got.mode !== want.mode || got.uid !== want.uid || got.gid !== want.gid) {
          wrong.push(`${w.file}: mode ${got.mode.toString(8)} owner ${got.uid}:${got.gid}, want ${want.mode.toString(8)} ${want.uid}:${want.gid}`);
        }
        if (w === owned && s.ino !== lastIno) {
          lastIno = s.ino;
          distinct++;
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(distinct).toBeGreaterThan(REWRITES / 4); // the samples saw many different files, not one

    await churn.stop();
    const convergeMs = await waitConverged(client!, PATH, watchers);
    let lost = 0;
    for (const w of watchers) lost += await lostChanges(client!, PATH, w);
    for (const [w, want] of expected) {
      const s = await stat(w.file);
      expect({ file: w.file, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid }).toEqual({ file: w.file, ...want });
      // No temp file left next to any target.
      expect((await readdir(dirname(w.file))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    }
    await waitFor(() => watchers.every((w) => w.proc.child.exitCode === null), { what: 'watchers still running' });
    for (const w of watchers) await w.stop();

    recordResult({
      scenario: `12 file mode and owner kept over ${REWRITES}+ rewrites`,
      runs: rewrites(owned),
      changesMade: churn.made,
      changesLost: lost,
      falseExpiries: 0,
      worstConvergeMs: convergeMs,
      note: `0640 root:nogroup kept in ${samples} samples; new files 0644 / configured 0600`,
    });
    expect(lost).toBe(0);
  });
});
