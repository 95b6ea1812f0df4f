import { afterAll, describe, expect, it } from 'vitest';
import type { EtcdConnection } from '@cluster-control/core';
import { waitFor } from '#test-support/cli.js';
import { type EtcdCluster, type EtcdMember, connectedMembers, startEtcdCluster, watchStreamMember } from '#test-support/etcd-cluster.js';
import { haveEtcd } from '#test-support/etcd-server.js';
import { Churn, ExpiryMonitor, type Registrant, type Watcher, etcdMembers, lostChanges, startRegistrant, startWatcher, testClient, stopScenario, waitConverged } from './harness.js';
import { recordResult } from './results.js';

/*
 * A 3-member etcd cluster on loopback. Three `watch` processes and four `heartbeat` processes (TTL
 * 10 s), every one configured with all three endpoints, ride out
 * - the leader SIGKILLed, kept down for longer than the TTL, then started again (it rejoins);
 * - later a follower SIGKILLed, kept down as long, then started again.
 * The victim is each time the member carrying the most watch streams (found from the watchers'
 * TCP traffic) and registrant connections, made leader (or follower) first if need be, so that
 * watches and keepalives really have to fail over. All under continuous churn from a client with all three endpoints. While a member is down the
 * watchers and keepalives must have moved to the survivors: the files keep equalling etcd's
 * state, and no registration expires (a keepalive stuck on the dead member would let its lease
 * run out within the TTL). After each rejoin everything is still converged; nothing is lost.
 */

const PATH = '/faults/cluster';
const TTL = 10;
/** Longer than the TTL: a keepalive that did not fail over would let its lease expire meanwhile. */
const DOWN_MS = 12_000;
/** From a kill (or a rejoin) to every file equalling etcd's state. */
const CONVERGE_BOUND_MS = 15_000;
/** From a kill to a watcher that was watching on the victim re-reading from a survivor. */
const FAILOVER_BOUND_MS = 5_000;

const CHURN_POOL = 41;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => (ms / 1000).toFixed(1);

describe.skipIf(!haveEtcd)('2 a 3-member etcd cluster', () => {
  let cluster: EtcdCluster | undefined;
  let client: EtcdConnection | undefined;
  let churn: Churn | undefined;
  let monitor: ExpiryMonitor | undefined;
  const watchers: Watcher[] = [];
  const registrants: Registrant[] = [];

  afterAll(async () => {
    await stopScenario({ monitor, churn, watchers, registrants });
    client?.close();
    await cluster?.dispose();
  });

  it('the leader, later a follower, SIGKILLed and rejoined under churn: failover without false expiries or lost changes', async () => {
    cluster = await startEtcdCluster(3);
    const all = cluster.endpoints;
    // Every process lists all three members, each in a different order.
    const rotated = (i: number) => [...all.slice(i % all.length), ...all.slice(0, i % all.length)];
    client = await testClient(all);
    for (let i = 0; i < 10; i++) await client.put(`${PATH}/10.77.0.${200 + i}:80`, '');

    for (let i = 0; i < 3; i++) watchers.push(await startWatcher(rotated(i), PATH));
    // The registrants register into the watched cluster, so the watchers follow them too.
    for (let i = 1; i <= 4; i++) registrants.push(await startRegistrant(rotated(i), `${PATH}/10.78.0.${i}:80`, TTL));
    monitor = new ExpiryMonitor(client, registrants).start();
    // An odd pool: each name is put in one round and deleted in the next, so the membership
    // really changes all the time (with an even pool every name settles after one round).
    churn = new Churn(client, PATH, { poolSize: CHURN_POOL }).start();
    await waitConverged(client, PATH, watchers, 30_000);

    const processes = () => [...watchers.map((w) => w.proc), ...registrants.map((r) => r.proc)];

    const steps: string[] = [];
    let worstConvergeMs = 0;
    let worstFailoverMs = 0;
    const converge = async (what: string, since = Date.now()) => {
      await waitConverged(client!, PATH, watchers, CONVERGE_BOUND_MS + 5_000);
      const ms = Date.now() - since;
      worstConvergeMs = Math.max(worstConvergeMs, ms);
      steps.push(`${what} ${seconds(ms)}s`);
      return ms;
    };
    const allRegistered = (what: string) =>
      waitFor(
        async () => {
          const present = new Set(await etcdMembers(client!, PATH));
          return registrants.every((r) => present.has(r.key.slice(PATH.length + 1)));
        },
        { timeoutMs: CONVERGE_BOUND_MS, what: `every registrant's key ${what}` },
      );

    /**
     * The member to kill in `role`: the one carrying the most watch streams and registrant
     * connections (so failover is really exercised), made leader or follower as the role asks
     * by moving the leadership (`etcdctl move-leader`).
     */
    const chooseVictim = async (role: 'leader' | 'follower') => {
      const streams = await Promise.all(watchers.map((w) => watchStreamMember(cluster!, w.proc.child.pid!)));
      const regs = await Promise.all(registrants.map((r) => connectedMembers(cluster!, r.proc.child.pid!)));
      const score = (m: EtcdMember) => 100 * streams.filter((x) => x === m).length + regs.filter((x) => x.includes(m)).length;
      const victim = [...cluster!.members].sort((a, b) => score(b) - score(a))[0]!;
      const leader = await cluster!.leader();
      if (role === 'leader' && leader !== victim) await cluster!.moveLeader(victim);
      if (role === 'follower' && leader === victim) await cluster!.moveLeader([...cluster!.members].sort((a, b) => score(a) - score(b))[0]!);
      return { victim, watchStreams: streams.filter((x) => x === victim).length, registrantsOn: regs.filter((x) => x.includes(victim)).length };
    };

    const killAndRejoin = async (role: 'leader' | 'follower') => {
      const { victim, watchStreams, registrantsOn } = await chooseVictim(role);
      expect(watchStreams, 'watch streams on the victim').toBeGreaterThan(0);
      const before = processes().map((p) => p.stderr().length);
      await sleep(2_000); // churn with all members up
      expect((await cluster!.leader()) === victim, `${victim.name} is the ${role}`).toBe(role === 'leader');
      await victim.stop('SIGKILL');
      const killedAt = Date.now();
      // Each watcher whose watch was on the victim re-reads from a survivor and watches again.
      const resumed: (number | undefined)[] = watchers.map(() => undefined);
      const offsets = watchers.map((w) => w.proc.stderr().length);
      const poller = setInterval(() => {
        watchers.forEach((w, i) => {
          if (resumed[i] === undefined && /re-read at revision/.test(w.proc.stderr().slice(offsets[i]))) resumed[i] = Date.now() - killedAt;
        });
      }, 20);
      const newLeader = await waitFor(() => cluster!.leader().catch(() => undefined), { timeoutMs: 10_000, what: 'a leader among the survivors' });
      steps.push(
        `${role} ${victim.name} killed (carrying ${watchStreams}/${watchers.length} watch streams, ${registrantsOn}/${registrants.length} registrants connected; new leader ${newLeader!.name} after ${seconds(Date.now() - killedAt)}s)`,
      );
      // The watchers follow the survivors at once...
      await converge('converged', killedAt);
      // ...and keep doing so while the member stays down for longer than the TTL.
      await sleep(DOWN_MS - (Date.now() - killedAt));
      await converge(`still converged after ${seconds(DOWN_MS)}s down`);
      clearInterval(poller);
      const failovers = resumed.filter((ms): ms is number => ms !== undefined);
      expect(failovers.length, 'watchers that re-read from a survivor').toBeGreaterThanOrEqual(watchStreams);
      worstFailoverMs = Math.max(worstFailoverMs, ...failovers);
      steps.push(`watchers that lost their watch re-read from a survivor after ${failovers.map(seconds).join('/') || '-'}s`);
      await allRegistered(`with ${victim.name} down`);
      expect(monitor!.falseExpiries, `registrations expired while ${victim.name} was down`).toBe(0);

      await victim.start();
      const rejoinedAt = Date.now();
      await cluster!.waitHealthy();
      await converge(`${victim.name} rejoined, converged`, rejoinedAt);
      await allRegistered(`after ${victim.name} rejoined`);
      for (const p of processes()) expect(p.child.exitCode, `a process exited:\n${p.stderr()}`).toBeNull();
      // Who noticed the loss (a watch or keepalive that was on the dead member).
      const noticed = processes().filter((p, i) => /watch broken|unavailable|failed|silent/.test(p.stderr().slice(before[i]))).length;
      steps.push(`${noticed} processes saw their stream break`);
    };

    await killAndRejoin('leader');
    await killAndRejoin('follower');

    // Settle: stop the churn, then the final comparison.
    await churn.stop();
    await converge('settled');
    monitor.stop();
    let lost = 0;
    for (const w of watchers) lost += await lostChanges(client, PATH, w);

    recordResult({
      scenario: '2 etcd cluster: leader, then follower killed',
      runs: 2,
      changesMade: churn.made,
      changesLost: lost,
      falseExpiries: monitor.falseExpiries,
      worstConvergeMs,
      note: `3 members; 3 watchers, 4 registrants (ttl ${TTL}s), all with 3 endpoints; each victim SIGKILLed, ${seconds(DOWN_MS)}s down, restarted; ${steps.join('; ')}; churn ops failed: ${churn.failed}`,
    });
    console.log(`${steps.join('\n')}\nchanges made ${churn.made}, failed ${churn.failed}`);

    expect(lost).toBe(0);
    expect(monitor.falseExpiries).toBe(0);
    expect(worstConvergeMs).toBeLessThan(CONVERGE_BOUND_MS);
    expect(worstFailoverMs).toBeLessThan(FAILOVER_BOUND_MS);

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
