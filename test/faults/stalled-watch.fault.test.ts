import { afterAll, describe, expect, it } from 'vitest';
import type { EtcdConnection } from '@cluster-control/core';
import type { CliProcess } from '#test-support/cli.js';
import { waitFor } from '#test-support/cli.js';
import { type EtcdCluster, type EtcdMember, startEtcdCluster, watchStreamMember } from '#test-support/etcd-cluster.js';
import { haveEtcd } from '#test-support/etcd-server.js';
import { Churn, ExpiryMonitor, type Registrant, type Watcher, etcdMembers, lostChanges, startRegistrant, startWatcher, testClient, stopScenario, waitConverged } from './harness.js';
import { recordResult } from './results.js';

/*
 * A silently stalled watch. In a 3-member cluster the member that carries a watcher's watch stream
 * (found from the watcher's own TCP connections in /proc, or with `ss` the one that keeps receiving
 * under churn) is frozen with SIGSTOP: its sockets stay open, nothing is answered, no error ever
 * arrives. The watcher has to notice the silence itself and move to a healthy member. The stated
 * bound is 21 s: ResilientWatch asks for a progress notification every 5 s and treats 15 s without
 * any response as a broken watch (so at most 20 s), and gRPC's keepalive (a ping every 10 s, 5 s to
 * answer) usually notices first. Done twice (the second time on the member the watcher moved to),
 * with churn going on and registrants (TTL 10 s) that must not lose their registration to the
 * frozen member either. The frozen member is never the leader (see below: an etcd bug, not ours);
 * scenario 2 kills the leader.
 */

const PATH = '/faults/stall';
const TTL = 10;
const FREEZES = 2;
const CHURN_POOL = 41; // odd: every name is put in one round and deleted in the next
/** 15 s without a response (the stall timeout), noticed at the next 5-s check, + 1 s of scheduling. */
const DETECT_BOUND_MS = 21_000;
/** From SIGSTOP to every file equalling etcd's state again: detection + re-read + re-watch. */
const CONVERGE_BOUND_MS = 30_000;
/** How long the member stays frozen at least: longer than the TTL, so a keepalive stuck on it would lose its lease. */
const FROZEN_MS = 20_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** Resolves with the time a log line matching `pattern` appeared in stderr after `offset`. */
async function logTime(proc: CliProcess, pattern: RegExp, offset: number, timeoutMs: number): Promise<number> {
  try {
    await waitFor(() => pattern.test(proc.stderr().slice(offset)), { timeoutMs, intervalMs: 20, what: `log ${pattern}` });
  } catch (err) {
    throw new Error(`${String(err)}; stderr since the freeze:\n${proc.stderr().slice(offset)}`);
  }
  return Date.now();
}

describe.skipIf(!haveEtcd)('3 a silently stalled watch', () => {
  let cluster: EtcdCluster | undefined;
  let client: EtcdConnection | undefined;
  let churn: Churn | undefined;
  let monitor: ExpiryMonitor | undefined;
  const watchers: Watcher[] = [];
  const registrants: Registrant[] = [];

  afterAll(async () => {
    for (const m of cluster?.members ?? []) m.signal('SIGCONT');
    await stopScenario({ monitor, churn, watchers, registrants });
    client?.close();
    await cluster?.dispose();
  });

  it(`the member under a watch frozen with SIGSTOP (x${FREEZES}): detected within ${DETECT_BOUND_MS / 1000} s, the watcher moves to a healthy member and converges`, async () => {
    cluster = await startEtcdCluster(3);
    const all = cluster.endpoints;
    const rotated = (i: number) => [...all.slice(i % all.length), ...all.slice(0, i % all.length)];
    client = await testClient(all);
    for (let i = 0; i < 10; i++) await client.put(`${PATH}/10.77.0.${200 + i}:80`, '');

    // The watcher under test and two more; every one lists all three members.
    for (let i = 0; i < 3; i++) watchers.push(await startWatcher(rotated(i), PATH));
    const target = watchers[0]!;
    for (let i = 1; i <= 3; i++) registrants.push(await startRegistrant(rotated(i), `${PATH}/10.78.0.${i}:80`, TTL));
    monitor = new ExpiryMonitor(client, registrants).start();
    churn = new Churn(client, PATH, { poolSize: CHURN_POOL }).start();
    await waitConverged(client, PATH, watchers, 30_000);

    /** The member the watcher says it moved to. */
    const memberOf = (log: string) => {
      const url = /; using (\S+)/.exec(log)?.[1];
      return cluster!.members.find((m) => m.endpoint === url)?.name ?? '?';
    };
    const processes = () => [...watchers.map((w) => w.proc), ...registrants.map((r) => r.proc)];
    const detections: number[] = [];
    const convergences: number[] = [];
    const steps: string[] = [];
    let worstConvergeMs = 0;

    for (let freeze = 1; freeze <= FREEZES; freeze++) {
      await sleep(1_000);
      const member: EtcdMember = await watchStreamMember(cluster, target.proc.child.pid!);
      // A frozen *leader* would, once thawed, revoke every lease it thinks expired meanwhile
      // (etcd < 3.4.30 / 3.5.13: etcd-io/etcd#15247), removing all registrants. The watch does
      // not care whether its member leads, so the leadership moves away first.
      const leader = await cluster.leader();
      let moved = '';
      if (leader === member) {
        const other = cluster.members.find((m) => m !== member)!;
        await cluster.moveLeader(other);
        moved = `, leadership moved to ${other.name} first`;
        await sleep(500);
        expect(await watchStreamMember(cluster, target.proc.child.pid!), 'the watch stays where it was').toBe(member);
      }
      const offset = target.proc.stderr().length;

      member.signal('SIGSTOP');
      const frozenAt = Date.now();
      const [detectedAt, rereadAt, convergedMs] = await Promise.all([
        logTime(target.proc, /watch silent for over|watch broken/, offset, CONVERGE_BOUND_MS + 10_000),
        logTime(target.proc, /re-read at revision/, offset, CONVERGE_BOUND_MS + 10_000),
        // Converged = every file (the stalled watcher's too) equals etcd's state again.
        waitConverged(client, PATH, watchers, CONVERGE_BOUND_MS + 10_000).then(async () => {
          // The first pass may come before the stalled watcher fell behind; wait for the
          // re-read after the detection, then converge again.
          await logTime(target.proc, /re-read at revision/, offset, CONVERGE_BOUND_MS + 10_000);
          await waitConverged(client!, PATH, watchers, CONVERGE_BOUND_MS + 10_000);
          return Date.now() - frozenAt;
        }),
      ]);
      const detectMs = detectedAt - frozenAt;
      detections.push(detectMs);
      convergences.push(convergedMs);
      worstConvergeMs = Math.max(worstConvergeMs, convergedMs);
      const how = /watch silent for over/.test(target.proc.stderr().slice(offset)) ? 'stall timeout' : 'stream error';
      steps.push(
        `froze ${member.name}${moved}: detected after ${seconds(detectMs)}s (${how}), re-read from ${memberOf(target.proc.stderr().slice(offset))} after ${seconds(rereadAt - frozenAt)}s, converged after ${seconds(convergedMs)}s`,
      );

      // The watcher now works on a healthy member: still converged under churn while frozen.
      await sleep(Math.max(0, FROZEN_MS - (Date.now() - frozenAt)));
      const now = await watchStreamMember(cluster, target.proc.child.pid!);
      expect(now, 'the watch stream is on a healthy member').not.toBe(member);
      const stillMs = await waitConverged(client, PATH, watchers, CONVERGE_BOUND_MS);
      worstConvergeMs = Math.max(worstConvergeMs, stillMs);
      await waitFor(
        async () => {
          const present = new Set(await etcdMembers(client!, PATH));
          return registrants.every((r) => present.has(r.key.slice(PATH.length + 1)));
        },
        { timeoutMs: 10_000, what: `every registrant's key with ${member.name} frozen` },
      );
      expect(monitor.falseExpiries, `registrations expired while ${member.name} was frozen`).toBe(0);

      member.signal('SIGCONT');
      const thawedAt = Date.now();
      await cluster.waitHealthy();
      const thawMs = await waitConverged(client, PATH, watchers, CONVERGE_BOUND_MS);
      worstConvergeMs = Math.max(worstConvergeMs, thawMs);
      steps.push(`${member.name} thawed, converged after ${seconds(Date.now() - thawedAt)}s`);
      for (const p of processes()) expect(p.child.exitCode, `a process exited:\n${p.stderr()}`).toBeNull();
    }

    await churn.stop();
    const settle = await waitConverged(client, PATH, watchers, CONVERGE_BOUND_MS);
    worstConvergeMs = Math.max(worstConvergeMs, settle);
    monitor.stop();
    let lost = 0;
    for (const w of watchers) lost += await lostChanges(client, PATH, w);

    recordResult({
      scenario: `3 stalled watch: member SIGSTOPped x${FREEZES}`,
      runs: FREEZES,
      changesMade: churn.made,
      changesLost: lost,
      falseExpiries: monitor.falseExpiries,
      worstConvergeMs,
      note: `3 members, 3 watchers, 3 registrants (ttl ${TTL}s), all with 3 endpoints; bound: detected <= ${DETECT_BOUND_MS / 1000}s, converged <= ${CONVERGE_BOUND_MS / 1000}s after SIGSTOP; ${steps.join('; ')}; churn ops failed: ${churn.failed}`,
    });
    console.log(`${steps.join('\n')}\nchanges made ${churn.made}, failed ${churn.failed}`);

    expect(lost).toBe(0);
    expect(monitor.falseExpiries).toBe(0);
    for (const ms of detections) expect(ms).toBeLessThanOrEqual(DETECT_BOUND_MS);
    for (const ms of convergences) expect(ms).toBeLessThanOrEqual(CONVERGE_BOUND_MS);

    for (const w of watchers) {
      w.proc.kill('SIGTERM');
      expect((await w.proc.exited(15_000)).code).toBe(0);
    }
    for (const r of registrants) {
      r.proc.kill('SIGTERM');
      expect((await r.proc.exited(15_000)).code).toBe(0);
    }
  });
});
