import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EtcdConnection } from '@cluster-control/core';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { Churn, type Watcher, lostChanges, startWatcher, testClient, waitConverged } from './harness.js';
import { recordResult } from './results.js';

/*
 * Compaction and defragmentation while a watcher is cut off. The watcher process is frozen with
 * SIGSTOP (its connection stays open, it reads nothing: etcd's side of its watch falls behind), the
 * cluster keeps changing (the churn plus a wave of registrations and removals, enough that etcd can
 * no longer buffer the watcher's events), etcd is compacted to its latest revision and
 * defragmented, then the watcher is woken with SIGCONT. The history it still needed is gone: it
 * must notice (etcd cancels its watch as compacted), re-read everything and converge. A second
 * watcher, not frozen that cycle, rides through compaction and defrag live. The two swap roles
 * every cycle.
 */

const PATH = '/faults/compaction';
const CYCLES = 5;
/** Registrations (and removals) per cycle while the watcher is frozen: more than etcd buffers per watch (1024 responses). */
const WAVE = 1_500;
const CONVERGE_BOUND_MS = 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const waveName = (cycle: number, i: number) => `10.88.${cycle * 8 + Math.floor(i / 250)}.${i % 250}:80`;

describe.skipIf(!haveEtcd)('4 compaction and defragmentation', () => {
  let server: EtcdServer | undefined;
  let client: EtcdConnection | undefined;
  let churn: Churn | undefined;
  const watchers: Watcher[] = [];

  afterAll(async () => {
    await churn?.stop();
    for (const w of watchers) {
      w.proc.kill('SIGCONT');
      if (w.proc.child.exitCode === null && w.proc.child.signalCode === null) w.proc.kill('SIGKILL');
    }
    await Promise.allSettled(watchers.map((w) => w.proc.exited(5_000)));
    for (const w of watchers) await rm(dirname(w.file), { recursive: true, force: true });
    client?.close();
    await server?.dispose();
  });

  it(`a frozen watcher whose history is compacted (and etcd defragmented) re-reads and converges, ${CYCLES} times`, async () => {
    server = await startEtcd();
    const endpoints = [server.endpoint];
    client = await testClient(endpoints);
    for (let i = 0; i < 2; i++) watchers.push(await startWatcher(endpoints, PATH));
    // An odd pool, so the churn's deletes hit members its puts made.
    churn = new Churn(client, PATH, { poolSize: 41 }).start();
    await waitConverged(client, PATH, watchers, 30_000);

    let waveChanges = 0;
    let worstConvergeMs = 0;
    const perCycle: string[] = [];
    const pad = 'x'.repeat(1_000);
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const frozen = watchers[cycle % 2]!;
      const live = watchers[(cycle + 1) % 2]!;
      await sleep(1_000);
      const logFrom = frozen.proc.stderr().length;
      frozen.proc.kill('SIGSTOP');
      const frozenAt = Date.now();

      // A wave of registrations, then removals of all but a few (different ones each cycle),
      // with a 1 kB value each: the frozen watcher's backlog outgrows what etcd buffers for it.
      for (let i = 0; i < WAVE; i += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, j) => client!.put(`${PATH}/${waveName(cycle, i + j)}`, JSON.stringify({ cycle, pad }))));
        waveChanges += 100;
      }
      for (let i = 0; i < WAVE; i += 100) {
        const remove = Array.from({ length: 100 }, (_, j) => i + j).filter((n) => n % 500 !== cycle);
        await Promise.all(remove.map((n) => client!.delete(`${PATH}/${waveName(cycle, n)}`)));
        waveChanges += remove.length;
      }
      // Last cycle's survivors go too.
      if (cycle > 0) {
        for (let n = 0; n < WAVE; n += 500) await client.delete(`${PATH}/${waveName(cycle - 1, n + cycle - 1)}`);
        waveChanges += WAVE / 500;
      }

      const revision = await server.revision();
      expect(await server.ctl('compact', String(revision))).toMatch(/compacted revision/);
      expect(await server.ctl('defrag')).toMatch(/Finished defragmenting/);
      // The live watcher went through compaction and defrag connected: still in step.
      await waitConverged(client, PATH, [live], CONVERGE_BOUND_MS);

      frozen.proc.kill('SIGCONT');
      const wokenAt = Date.now();
      const converged = await waitConverged(client, PATH, watchers, CONVERGE_BOUND_MS);
      worstConvergeMs = Math.max(worstConvergeMs, converged);
      const log = frozen.proc.stderr().slice(logFrom);
      // It noticed that the history it needed was compacted away, and re-read.
      expect(log, `cycle ${cycle}: the frozen watcher's log`).toMatch(/watch revision compacted/);
      expect(log, `cycle ${cycle}: the frozen watcher's log`).toMatch(/re-read after compaction at revision/);
      perCycle.push(`${((wokenAt - frozenAt) / 1000).toFixed(1)}s frozen, ${(converged / 1000).toFixed(2)}s to converge`);
      for (const w of watchers) expect(w.proc.child.exitCode, `a watcher exited in cycle ${cycle}:\n${w.proc.stderr()}`).toBeNull();
    }

    await churn.stop();
    worstConvergeMs = Math.max(worstConvergeMs, await waitConverged(client, PATH, watchers, CONVERGE_BOUND_MS));
    let lost = 0;
    for (const w of watchers) lost += await lostChanges(client, PATH, w);

    recordResult({
      scenario: `4 compaction+defrag x${CYCLES}`,
      runs: CYCLES,
      changesMade: churn.made + waveChanges,
      changesLost: lost,
      falseExpiries: 0,
      worstConvergeMs,
      note: `2 watchers, one frozen (SIGSTOP) per cycle while ${WAVE} members came and went and etcd was compacted to its latest revision and defragmented; the frozen one logged "watch revision compacted" and re-read every cycle (${perCycle.join('; ')}); the other stayed converged throughout`,
    });

    expect(lost).toBe(0);
    expect(worstConvergeMs).toBeLessThan(CONVERGE_BOUND_MS);
    for (const w of watchers) {
      w.proc.kill('SIGTERM');
      expect((await w.proc.exited(15_000)).code).toBe(0);
    }
  });
});
