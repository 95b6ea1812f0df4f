import { afterAll, describe, expect, it } from 'vitest';
import type { EtcdConnection } from '@cluster-control/core';
import { waitFor } from '#test-support/cli.js';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { Churn, ExpiryMonitor, type Registrant, type Watcher, etcdMembers, lostChanges, startRegistrant, startWatcher, testClient, stopScenario, waitConverged } from './harness.js';
import { recordResult } from './results.js';

/*
 * A single etcd node restarted 5 times during churn, alternately stopped with SIGTERM and SIGKILL,
 * a few seconds down each time (shorter than the registrants' TTL), started again on the same data.
 * Two `watch` processes and three `heartbeat` processes ride it out: after each restart every
 * watcher's file equals etcd's state and every registrant's key is there; nothing is lost, and no
 * registration vanishes (etcd renews leases when it starts, so an outage shorter than the TTL must
 * not expire anyone).
 */

const PATH = '/faults/restarts';
const RESTARTS = 5;
const TTL = 5;
const DOWN_MS = 3_000;
/** After etcd is healthy again: every file equals etcd's state within this. */
const CONVERGE_BOUND_MS = 20_000;

describe.skipIf(!haveEtcd)('1 etcd restarts', () => {
  let server: EtcdServer | undefined;
  let client: EtcdConnection | undefined;
  let churn: Churn | undefined;
  let monitor: ExpiryMonitor | undefined;
  const watchers: Watcher[] = [];
  const registrants: Registrant[] = [];

  afterAll(async () => {
    await stopScenario({ monitor, churn, watchers, registrants });
    client?.close();
    await server?.dispose();
  });

  it(`a node restarted ${RESTARTS} times (SIGTERM/SIGKILL, ${DOWN_MS / 1000} s down) under churn: files equal etcd after each, registrants stay registered`, async () => {
    server = await startEtcd();
    const endpoints = [server.endpoint];
    client = await testClient(endpoints);
    for (let i = 0; i < 10; i++) await client.put(`${PATH}/10.77.0.${200 + i}:80`, '');

    for (let i = 0; i < 2; i++) watchers.push(await startWatcher(endpoints, PATH));
    // The registrants register into the watched cluster, so the watchers follow them too.
    for (let i = 1; i <= 3; i++) registrants.push(await startRegistrant(endpoints, `${PATH}/10.78.0.${i}:80`, TTL));
    monitor = new ExpiryMonitor(client, registrants).start();
    // An odd pool, so the churn's deletes hit members its puts made.
    churn = new Churn(client, PATH, { poolSize: 41 }).start();
    await waitConverged(client, PATH, watchers, 30_000);

    let worstConvergeMs = 0;
    const perRestart: number[] = [];
    for (let restart = 1; restart <= RESTARTS; restart++) {
      await new Promise((r) => setTimeout(r, 1_500)); // churn while etcd is up
      const signal = restart % 2 === 1 ? 'SIGTERM' : 'SIGKILL';
      await server.stop(signal);
      await new Promise((r) => setTimeout(r, DOWN_MS));
      await server.start();
      const backAt = Date.now();

      // A change made once etcd is back must reach every file (files equal to etcd right after
      // the restart prove nothing: nothing changed while etcd was down)...
      const marker = `10.79.0.${restart}:80`;
      await waitFor(() => client!.put(`${PATH}/${marker}`, '').then(() => true), { timeoutMs: CONVERGE_BOUND_MS, what: `etcd to take a put after restart ${restart}` });
      await waitFor(async () => (await Promise.all(watchers.map((w) => w.members()))).every((m) => m.includes(marker)), {
        timeoutMs: CONVERGE_BOUND_MS,
        intervalMs: 20,
        what: `every watcher to see ${marker} after restart ${restart}`,
      });
      // ...and every watcher's file equals etcd's state (which keeps changing under the churn)...
      await waitConverged(client, PATH, watchers, CONVERGE_BOUND_MS);
      const converged = Date.now() - backAt;
      perRestart.push(converged);
      worstConvergeMs = Math.max(worstConvergeMs, converged);
      // ...and every registrant's key is there, its process still running.
      await waitFor(
        async () => {
          const present = new Set(await etcdMembers(client!, PATH));
          return registrants.every((r) => present.has(r.key.slice(PATH.length + 1)));
        },
        { timeoutMs: CONVERGE_BOUND_MS, what: `every registrant's key after restart ${restart}` },
      );
      for (const p of [...watchers.map((w) => w.proc), ...registrants.map((r) => r.proc)]) expect(p.child.exitCode, `a process exited during restart ${restart}:\n${p.stderr()}`).toBeNull();
    }

    // Settle: stop the churn, then the final comparison.
    await churn.stop();
    const settle = await waitConverged(client, PATH, watchers, CONVERGE_BOUND_MS);
    worstConvergeMs = Math.max(worstConvergeMs, settle);
    monitor.stop();
    let lost = 0;
    for (const w of watchers) lost += await lostChanges(client, PATH, w);
    // The watchers really went through the restarts (re-read after each), not around them.
    for (const w of watchers) expect((w.proc.stderr().match(/re-read at revision/g) ?? []).length, w.proc.stderr()).toBeGreaterThanOrEqual(RESTARTS);

    const present = new Set(await etcdMembers(client, PATH));
    const registered = registrants.filter((r) => present.has(r.key.slice(PATH.length + 1))).length;
    recordResult({
      scenario: `1 etcd restarts x${RESTARTS}`,
      runs: RESTARTS,
      changesMade: churn.made,
      changesLost: lost,
      falseExpiries: monitor.falseExpiries,
      worstConvergeMs,
      note: `2 watchers, 3 registrants (ttl ${TTL}s); SIGTERM/SIGKILL alternately, ${DOWN_MS / 1000}s down; converged after each restart in ${perRestart.map((ms) => (ms / 1000).toFixed(1)).join('/')} s; churn ops refused while down: ${churn.failed}`,
    });

    expect(lost).toBe(0);
    expect(monitor.falseExpiries).toBe(0);
    expect(registered).toBe(registrants.length);
    expect(worstConvergeMs).toBeLessThan(CONVERGE_BOUND_MS);

    // Everyone stops cleanly afterwards: watchers exit 0, registrants deregister.
    for (const w of watchers) {
      w.proc.kill('SIGTERM');
      expect((await w.proc.exited(15_000)).code).toBe(0);
    }
    for (const r of registrants) {
      r.proc.kill('SIGTERM');
      expect((await r.proc.exited(15_000)).code).toBe(0);
    }
    const after = new Set(await etcdMembers(client, PATH));
    for (const r of registrants) expect(after.has(r.key.slice(PATH.length + 1))).toBe(false);
  });
});
