import { readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdConnection } from '@cluster-control/core';
import { prefixRange } from '@cluster-control/core/etcd';
import { waitFor } from '#test-support/cli.js';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { Churn, ExpiryMonitor, type Registrant, type Watcher, etcdMembers, lostChanges, startRegistrant, startWatcher, testClient, waitConverged } from './harness.js';
import { recordResult } from './results.js';

/*
 * 8. Mass expiry, as after a partition: 20 registrants with a short TTL vanish at once — first
 * frozen with SIGSTOP (their leases expire; when they thaw they register again), then killed with
 * SIGKILL (new ones take their place) — leaving one survivor plus churn of at most 3 members.
 * With `minMembers: 5` the watcher's file never shrinks below 5 members: it keeps the last
 * installable state (one etcd had), logs the refusal, and follows etcd again once members are
 * back above minMembers.
 */
const PATH = '/faults/mass';
const MIN = 5;
const COUNT = 20;
const TTL = 3;
// Churn of a pool of 3 names: never enough, with the survivor, to reach minMembers alone.
const CHURN_POOL = 3;
const configDir = (r: Registrant) => dirname(r.proc.child.spawnargs[r.proc.child.spawnargs.indexOf('--conf') + 1]!);

describe.skipIf(!haveEtcd)('8 mass expiry with minMembers', () => {
  let etcd: EtcdServer;
  let client: EtcdConnection | undefined;
  let churn: Churn | undefined;
  let watcher: Watcher | undefined;
  let monitor: ExpiryMonitor | undefined;
  const registrants: Registrant[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    client = await testClient([etcd.endpoint]);
  });

  afterAll(async () => {
    monitor?.stop();
    await churn?.stop();
    for (const r of registrants) {
      r.proc.kill('SIGCONT');
      r.proc.kill('SIGKILL');
      await rm(configDir(r), { recursive: true, force: true });
    }
    watcher?.proc.kill('SIGKILL');
    if (watcher) await rm(dirname(watcher.file), { recursive: true, force: true });
    client?.close();
    await etcd?.dispose();
  });

  const register = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => startRegistrant([etcd.endpoint], `${PATH}/10.88.1.${i + 1}:80`, TTL)));
  const partitioned = (members: string[]) => members.filter((m) => m.startsWith('10.88.1.')).length;

  /** etcd's members under PATH at `revision`. */
  const membersAt = async (revision: bigint) =>
    (await client!.range(prefixRange(PATH + '/'), { revision })).kvs.map((kv) => kv.key.slice(PATH.length + 1)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));

  /**
   * Runs while all `COUNT` partitioned members disappear: the file never has fewer than MIN
   * members, and once they are all gone it stays byte for byte what it was, a state etcd had.
   */
  async function expectHeld(fromRevision: bigint, w: Watcher): Promise<{ samples: number; smallest: number }> {
    let samples = 0;
    let smallest = Infinity;
    const check = async () => {
      const members = await w.members();
      samples++;
      smallest = Math.min(smallest, members.length);
    };
    await waitFor(
      async () => {
        await check();
        return partitioned(await etcdMembers(client!, PATH)) === 0;
      },
      { timeoutMs: (TTL + 10) * 1000, intervalMs: 20, what: `all ${COUNT} partitioned leases to expire` },
    );
    expect((await etcdMembers(client!, PATH)).length).toBeLessThan(MIN);
    // Everything is below minMembers now: once the watcher has applied the last expiries (it
    // lags etcd by milliseconds; give it a second), every render is refused and the file stays.
    const settle = Date.now() + 1000;
    while (Date.now() < settle) {
      await check();
      await new Promise((r) => setTimeout(r, 20));
    }
    const held = await readFile(w.file, 'utf8');
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      await check();
      expect(await readFile(w.file, 'utf8')).toBe(held);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(smallest, 'the fewest members the file ever listed').toBeGreaterThanOrEqual(MIN);
    expect(w.proc.stderr()).toMatch(new RegExp(`refusing to install [0-${MIN - 1}] member\\(s\\), fewer than minMembers ${MIN}`));
    // The last installable state: one that etcd had, since the fault began, with >= MIN members.
    const wanted = JSON.stringify(JSON.parse(held));
    let found = false;
    for (let rev = await etcd.revision(); rev >= fromRevision && !found; rev--) {
      const state = await membersAt(rev);
      if (JSON.stringify(state) === wanted) {
        found = true;
        expect(state.length).toBeGreaterThanOrEqual(MIN);
      }
    }
    expect(found, `the held file ${wanted} is a state etcd had since revision ${fromRevision}`).toBe(true);
    return { samples, smallest };
  }

  /** Waits for all COUNT partitioned members to be back in the file; says what is missing if not. */
  async function allBack(w: Watcher, group: Registrant[], what: string): Promise<void> {
    await waitFor(async () => partitioned(await w.members()) === COUNT, { timeoutMs: 30_000, what }).catch(async (err: unknown) => {
      const inEtcd = new Set(await etcdMembers(client!, PATH).catch(() => []));
      const missing = group.filter((r) => !inEtcd.has(r.key.slice(PATH.length + 1)));
      throw new Error(
        [
          String(err),
          `file: ${JSON.stringify(await w.members())}`,
          `etcd: ${JSON.stringify([...inEtcd])}`,
          `watcher: ${w.proc.stderr().slice(-2000)}`,
          ...missing.slice(0, 3).map((r) => `${r.key} (exit ${r.proc.child.exitCode}): ${r.proc.stderr().slice(-1500)}`),
        ].join('\n'),
      );
    });
  }

  it('8 mass expiry: file held at minMembers, refusal logged, follows again', async () => {
    churn = new Churn(client!, PATH, { intervalMs: 50, poolSize: CHURN_POOL, subnet: 9 }).start();
    watcher = await startWatcher([etcd.endpoint], PATH, { cluster: { minMembers: MIN } });
    const survivor = await startRegistrant([etcd.endpoint], `${PATH}/10.88.0.1:80`, TTL);
    registrants.push(survivor);
    monitor = new ExpiryMonitor(client!, [survivor]).start();
    const group = await register(COUNT);
    registrants.push(...group);
    const w = watcher;
    await allBack(w, group, `the file to list all ${COUNT}`);
    let worstConvergeMs = await waitConverged(client!, PATH, [w], 20_000);
    const notes: string[] = [];

    // --- round 1: frozen (a partition); their leases expire; they thaw and register again ---
    let from = await etcd.revision();
    for (const r of group) r.proc.kill('SIGSTOP');
    const round1 = await expectHeld(from, w);
    let back = Date.now();
    for (const r of group) r.proc.kill('SIGCONT');
    await allBack(w, group, 'the thawed registrants back in the file');
    const thawMs = Date.now() - back + (await waitConverged(client!, PATH, [w], 20_000));
    worstConvergeMs = Math.max(worstConvergeMs, thawMs);
    // An expiry during a partition is an outage, never an operator's removal.
    for (const r of group) expect(r.proc.stderr()).toMatch(/registering again/);
    for (const r of group) expect(r.proc.stderr()).not.toMatch(/removing this node/);
    notes.push(`SIGSTOP: held >= ${round1.smallest} in ${round1.samples} samples, back in ${thawMs} ms`);

    // --- round 2: killed at once; new registrants take their place ---
    from = await etcd.revision();
    for (const r of group) r.proc.kill('SIGKILL');
    const round2 = await expectHeld(from, w);
    const replacements = await register(COUNT);
    registrants.push(...replacements);
    back = Date.now(); // all registered (starting 20 processes takes a while on two cores)
    await allBack(w, replacements, 'the replacements in the file');
    const replaceMs = Date.now() - back + (await waitConverged(client!, PATH, [w], 20_000));
    worstConvergeMs = Math.max(worstConvergeMs, replaceMs);
    notes.push(`SIGKILL: held >= ${round2.smallest} in ${round2.samples} samples, 20 new registrants in the file ${replaceMs} ms after they registered`);

    await churn.stop();
    worstConvergeMs = Math.max(worstConvergeMs, await waitConverged(client!, PATH, [w], 20_000));
    const lost = await lostChanges(client!, PATH, w);
    monitor.stop();
    expect(w.proc.child.exitCode).toBeNull();
    for (const r of [survivor, ...replacements]) {
      expect(r.proc.child.exitCode, `${r.key} still running`).toBeNull();
      expect(r.proc.stderr()).not.toMatch(/removing this node/);
    }
    expect((await etcdMembers(client!, PATH)).length).toBeGreaterThan(COUNT);

    recordResult({
      scenario: `8 mass expiry of ${COUNT} of ${COUNT + 1} x2, minMembers ${MIN}`,
      runs: 2,
      // Churn, plus the registrants' expiries and registrations (20 each way, twice).
      changesMade: churn.made + 4 * COUNT,
      changesLost: lost,
      falseExpiries: monitor.falseExpiries,
      worstConvergeMs,
      note: `${notes.join('; ')}; convergence measured from the members' return`,
    });
    expect(lost).toBe(0);
    expect(monitor.falseExpiries).toBe(0);
    for (const r of [survivor, ...replacements]) await r.stop();
    await w.stop();
  });
});
