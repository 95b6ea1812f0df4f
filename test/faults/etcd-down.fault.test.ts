import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EtcdConnection } from '@cluster-control/core';
import { type CliProcess, type CliResult, runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { Churn, ExpiryMonitor, type Registrant, type Watcher, etcdMembers, lostChanges, testClient, waitConverged } from './harness.js';
import { recordResult } from './results.js';

/*
 * etcd down at startup. Every command that talks to etcd is started while etcd is not running:
 * - `prepare`, `members`, `removekey` and `run` with `--timeout 2` retry with growing delays,
 *   saying so on stderr, then exit 1 with one clear last line (no stack trace) well within a
 *   bound; `run` never starts its server;
 * - `watch`, `heartbeat` and `run` (default timeout) keep retrying, saying so, and once etcd comes
 *   up (with churn) they register, write their files and converge with etcd's state;
 * - a `watch` and a `heartbeat` asked to stop while etcd is still down exit 0 promptly (no hang).
 */

const PATH = '/faults/down';
const TTL = 5;
/** While down, the waiting commands must have said they are retrying by then. */
const DOWN_MS = 4_000;
/** A command with --timeout 2 must have exited by then. */
const GIVE_UP_BOUND_MS = 12_000;
const CONVERGE_BOUND_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines = (text: string) => text.split('\n').filter(Boolean);
// Log lines start with their ISO-8601 time; the final error line, written directly, does not.
const STAMP = '(?:\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z )?';
const OURS = new RegExp(`^${STAMP}cluster-control[ :]`);

describe.skipIf(!haveEtcd)('5 etcd down at startup', () => {
  let server: EtcdServer | undefined;
  let client: EtcdConnection | undefined;
  let churn: Churn | undefined;
  let monitor: ExpiryMonitor | undefined;
  let dir: string | undefined;
  const procs: CliProcess[] = [];

  afterAll(async () => {
    monitor?.stop();
    await churn?.stop();
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.kill('SIGKILL');
    await Promise.allSettled(procs.map((p) => p.exited(5_000)));
    client?.close();
    await server?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('commands started while etcd is down retry and say so; --timeout gives up with one clear line; the others converge once etcd is up', async () => {
    server = await startEtcd();
    const endpoints = [server.endpoint];
    client = await testClient(endpoints);
    for (let i = 0; i < 5; i++) await client.put(`${PATH}/10.77.0.${200 + i}:80`, '');
    await server.stop();
    dir = await tempDir('cc-fault-down-');
    const d = dir;

    /** One configuration per process: its own file and its own key. */
    const conf = (name: string, selfKey?: string) =>
      writeJson(join(d, `${name}.conf`), {
        etcd: { endpoints, timeoutMs: 2000 },
        clusters: [{ name: 'c', path: PATH, handler: 'json', handlerConfig: join(d, `${name}.json`) }],
        ...(selfKey ? { self: { key: selfKey, ttl: TTL } } : {}),
      });
    const started = join(d, 'server-started');

    // ---- Commands with --timeout 2: retry, then give up with exit 1 ----
    const giveUp = async (name: string, args: string[], what: string) => {
      const t0 = Date.now();
      const res = await runCli(['--conf', await conf(name, `${PATH}/10.78.9.9:80`), ...args], { timeoutMs: GIVE_UP_BOUND_MS + 5_000 });
      return { name, what, res, ms: Date.now() - t0 };
    };
    const gaveUp = await Promise.all([
      giveUp('prepare', ['prepare', 'c', '--timeout', '2'], 'prepare'),
      giveUp('members', ['members', 'c', '--timeout', '2'], 'members'),
      giveUp('removekey', ['removekey', '--timeout', '2'], 'removekey'),
      giveUp('run-timeout', ['run', '--timeout', '2', '--', 'sh', '-c', `touch '${started}'; exec sleep 300`], 'prepare c'),
    ]);
    const check = ({ name, what, res, ms }: { name: string; what: string; res: CliResult; ms: number }) => {
      const err = lines(res.stderr);
      const retries = err.filter((l) => new RegExp(`^${STAMP}cluster-control warn: ${what}: .*; retrying in \\d+\\.\\ds$`).test(l));
      const delays = retries.map((l) => Number(/retrying in (\d+\.\d)s$/.exec(l)![1]));
      const last = err.at(-1) ?? '';
      expect(res.code, `${name}: exit code; stderr:\n${res.stderr}`).toBe(1);
      expect(res.stdout, `${name}: stdout`).toBe('');
      // Said so, more than once, waiting longer as it went (full jitter in the upper half of a doubling ceiling).
      expect(retries.length, `${name}: retry lines in\n${res.stderr}`).toBeGreaterThanOrEqual(2);
      expect(Math.max(...delays), `${name}: the delays grow: ${delays.join(', ')}`).toBeGreaterThan(delays[0]!);
      // One clear last line: what gave up, after how long, and why; no stack trace anywhere.
      expect(last, `${name}: last line`).toMatch(new RegExp(`^${STAMP}cluster-control: ${what}: gave up after 2s and \\d+ attempt\\(s\\): .*ECONNREFUSED`));
      expect(last, `${name}: last line`).not.toMatch(/Resolution note:\s*$/);
      expect(
        err.filter((l) => !OURS.test(l)),
        `${name}: lines that are not ours (a stack trace?)`,
      ).toEqual([]);
      expect(res.stderr).not.toMatch(/^\s+at /m);
      expect(ms, `${name}: wall time`).toBeLessThan(GIVE_UP_BOUND_MS);
      return ms;
    };
    const giveUpMs = gaveUp.map(check);
    expect(existsSync(started), 'run started its server although prepare never succeeded').toBe(false);
    expect(existsSync(join(d, 'prepare.json')), 'prepare wrote a file without etcd').toBe(false);

    // ---- Commands that wait for etcd: watch, heartbeat, run (default timeout) ----
    const watchConf = await conf('watch');
    const watchProc = spawnCli(['--conf', watchConf, 'watch', 'c', '0']);
    const heartbeatProc = spawnCli(['--conf', await conf('heartbeat', `${PATH}/10.78.0.1:80`), 'heartbeat']);
    const runConf = await conf('run', `${PATH}/10.78.0.2:80`);
    const runProc = spawnCli(['--conf', runConf, 'run', '--drain', '0', '--', 'sh', '-c', `touch '${started}'; exec sleep 300`]);
    // And two that will be told to stop before etcd ever comes up.
    const watchQuitter = spawnCli(['--conf', await conf('watch-quit'), 'watch', 'c', '0']);
    const heartbeatQuitter = spawnCli(['--conf', await conf('heartbeat-quit', `${PATH}/10.78.0.3:80`), 'heartbeat']);
    procs.push(watchProc, heartbeatProc, runProc, watchQuitter, heartbeatQuitter);

    const saysRetrying: [CliProcess, RegExp][] = [
      [watchProc, /^(?:\S+Z )?cluster-control warn: c: etcd unavailable \(.*ECONNREFUSED.*\); retrying$/m],
      [heartbeatProc, /^(?:\S+Z )?cluster-control warn: could not register .*10\.78\.0\.1:80: .*ECONNREFUSED.*; retrying$/m],
      [runProc, /^(?:\S+Z )?cluster-control warn: prepare c: .*ECONNREFUSED.*; retrying in \d+\.\ds$/m],
      [watchQuitter, /etcd unavailable .*; retrying$/m],
      [heartbeatQuitter, /could not register .*; retrying$/m],
    ];
    await sleep(DOWN_MS);
    for (const [p, pattern] of saysRetrying) {
      expect(p.child.exitCode, `exited while etcd was down:\n${p.stderr()}`).toBeNull();
      expect(p.stderr(), 'says on stderr that it is retrying').toMatch(pattern);
      // Backoff, not a busy loop: a handful of attempts in DOWN_MS, not hundreds.
      expect(lines(p.stderr()).filter((l) => /retrying/.test(l)).length).toBeLessThan(15);
    }
    expect(existsSync(started), 'run started its server before prepare succeeded').toBe(false);

    // Told to stop while etcd is still down: they exit 0 promptly instead of hanging in a retry.
    let quitMs = 0;
    for (const p of [watchQuitter, heartbeatQuitter]) {
      const t0 = Date.now();
      p.kill('SIGTERM');
      expect((await p.exited(10_000)).code, p.stderr()).toBe(0);
      quitMs = Math.max(quitMs, Date.now() - t0);
    }

    // ---- etcd comes up, with churn ----
    // Timed from etcd's start (not from its first healthy answer): the commands may connect
    // before /health says so.
    const upAt = Date.now();
    await server.start();
    churn = new Churn(client, PATH, { poolSize: 41 }).start();
    const watchers: Watcher[] = [watchProc, runProc].map((proc, i) => {
      const file = join(d, `${i === 0 ? 'watch' : 'run'}.json`);
      return { proc, file, conf: i === 0 ? watchConf : runConf, members: async () => JSON.parse(await readFile(file, 'utf8')) as string[], stop: async () => {} };
    });
    const registrants: Registrant[] = [
      { key: `${PATH}/10.78.0.1:80`, proc: heartbeatProc, stop: async () => {} },
      { key: `${PATH}/10.78.0.2:80`, proc: runProc, stop: async () => {} },
    ];
    monitor = new ExpiryMonitor(client, registrants).start();

    await watchProc.waitForLog(/c: in sync at revision/, CONVERGE_BOUND_MS);
    await heartbeatProc.waitForLog(/registered .*10\.78\.0\.1:80/, CONVERGE_BOUND_MS);
    await runProc.waitForLog(/ready: registered and watching/, CONVERGE_BOUND_MS);
    const present = async () => new Set(await etcdMembers(client!, PATH));
    await waitFor(
      async () => {
        const now = await present();
        return registrants.every((r) => now.has(r.key.slice(PATH.length + 1)));
      },
      { timeoutMs: CONVERGE_BOUND_MS, what: 'both registrations' },
    );
    await waitConverged(client, PATH, watchers, CONVERGE_BOUND_MS);
    const upConvergeMs = Date.now() - upAt;
    expect(existsSync(started), 'run started its server once etcd was up').toBe(true);

    // Keep churning a while: they keep following it.
    await sleep(3_000);
    await churn.stop();
    const settleMs = await waitConverged(client, PATH, watchers, CONVERGE_BOUND_MS);
    monitor.stop();
    let lost = 0;
    for (const w of watchers) lost += await lostChanges(client, PATH, w);
    const registered = await present();
    for (const r of registrants) expect(registered.has(r.key.slice(PATH.length + 1)), `${r.key} registered`).toBe(true);
    expect(registered.has('10.78.0.3:80'), 'the heartbeat that stopped while etcd was down registered anyway').toBe(false);

    recordResult({
      scenario: '5 etcd down at startup',
      runs: gaveUp.length + saysRetrying.length,
      changesMade: churn.made,
      changesLost: lost,
      falseExpiries: monitor.falseExpiries,
      worstConvergeMs: upConvergeMs,
      note: `prepare/members/removekey/run --timeout 2 retried and exited 1 in ${giveUpMs.map((ms) => (ms / 1000).toFixed(1)).join('/')} s with one clear line; watch, heartbeat, run retried for ${DOWN_MS / 1000}s, then registered and converged ${(upConvergeMs / 1000).toFixed(1)}s after etcd was started (settled ${(settleMs / 1000).toFixed(2)}s after the churn); watch/heartbeat stopped while down exited 0 in ≤${(quitMs / 1000).toFixed(1)}s`,
    });

    expect(lost).toBe(0);
    expect(monitor.falseExpiries).toBe(0);
    expect(upConvergeMs).toBeLessThan(CONVERGE_BOUND_MS);

    for (const p of [watchProc, heartbeatProc, runProc]) {
      p.kill('SIGTERM');
      expect((await p.exited(15_000)).code, p.stderr()).toBe(0);
    }
    const after = await present();
    for (const r of registrants) expect(after.has(r.key.slice(PATH.length + 1)), `${r.key} deregistered`).toBe(false);
  });
});
