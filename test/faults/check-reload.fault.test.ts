import { readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdConnection } from '@cluster-control/core';
import { type CliProcess, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';
import { type EtcdServer, freePort, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { Churn, etcdMembers, lostChanges, testClient, waitConverged, watcherOf } from './harness.js';
import { recordResult } from './results.js';

/*
 * 7. A failing `check` and a failing `reload`, under `cluster-control run` with its metrics, while
 * the cluster churns.
 * - check fails (while a flag file exists): the target keeps its bytes and its inode, every
 *   failure is logged and counted (installs_total{result="check_failed"}), and once the check
 *   passes again the next change is installed.
 * - reload fails N times: it is retried with backoff (500 ms doubling, jitter down to half —
 *   even while new replacements keep asking for reloads), the file keeps following etcd
 *   meanwhile, `run` keeps running, reloads_total{result="failed"} counts exactly N, and the
 *   reload that finally succeeds sees the current members.
 */
const PATH = '/faults/check-reload';
const CHILD = resolve(import.meta.dirname, '../support/child-server.mjs');
const RELOAD_FAILURES = 5;
const POOL = 39; // odd: with an even pool Churn stops changing the member set after one pass

// The check refuses while $1 exists; $0 is the staged file.
const CHECK = 'if [ -e "$1" ]; then echo "check: refusing $0" >&2; exit 1; fi';
// The reload logs "<ms> ok|fail <members>" to $0 and fails while the count in $1 is above 0.
const RELOAD = [
  'n=$(cat "$1" 2>/dev/null || echo 0)',
  'if [ "$n" -gt 0 ]; then echo $((n-1)) > "$1"; echo "$(date +%s%3N) fail $CLUSTER_CONTROL_MEMBERS" >> "$0"; echo "service said no ($n left)"; exit 1; fi',
  'echo "$(date +%s%3N) ok $CLUSTER_CONTROL_MEMBERS" >> "$0"',
].join('\n');

type Sample = { name: string; labels: Record<string, string>; value: number };

function parsePrometheus(text: string): Sample[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line)!;
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

describe.skipIf(!haveEtcd)('7 failing check and reload', () => {
  let etcd: EtcdServer;
  let client: EtcdConnection | undefined;
  let churn: Churn | undefined;
  let run: CliProcess | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    etcd = await startEtcd();
    client = await testClient([etcd.endpoint]);
  });

  afterAll(async () => {
    await churn?.stop();
    if (run && run.child.exitCode === null && run.child.signalCode === null) {
      // SIGTERM first: `run` stops its server child; a SIGKILLed `run` would leave it behind.
      run.kill('SIGTERM');
      await run.exited(15_000).catch(() => run?.kill('SIGKILL'));
    }
    client?.close();
    await etcd?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('7 failing check keeps the target; failing reload retried with backoff and counted', async () => {
    dir = await tempDir('cc-fault-check-');
    const file = join(dir, 'web.json');
    const checkFlag = join(dir, 'check-fails');
    const reloadLeft = join(dir, 'reload-failures-left');
    const reloadLog = join(dir, 'reloads.log');
    const port = await freePort();
    const metricsPort = await freePort();
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint], timeoutMs: 2000 },
      self: { key: `/faults/check-reload-self/127.0.0.1:${port}`, ttl: 10 },
      clusters: [
        {
          name: 'web',
          path: PATH,
          handler: 'json',
          handlerConfig: file,
          check: ['sh', '-c', CHECK, '{src}', checkFlag],
          reload: ['sh', '-c', RELOAD, reloadLog, reloadLeft],
        },
      ],
    });

    churn = new Churn(client!, PATH, { intervalMs: 50, poolSize: POOL, subnet: 7 }).start();
    run = spawnCli(['--conf', conf, 'run', '--ready-tcp', `127.0.0.1:${port}`, '--metrics', `127.0.0.1:${metricsPort}`, '--', process.execPath, CHILD], {
      env: { HOST: '127.0.0.1', PORT: String(port) },
    });
    const proc = run;
    const metrics = async () => parsePrometheus(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
    const metric = async (name: string, labels: Record<string, string>) => (await metrics()).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value ?? 0;
    await waitFor(async () => (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status === 200, { timeoutMs: 30_000, what: 'run to be ready' });
    const watcher = watcherOf(proc, file, conf);
    await new Promise((r) => setTimeout(r, 1500)); // normal operation under churn
    let worstConvergeMs = await waitConverged(client!, PATH, [watcher], 20_000);

    // --- check fails: the target stays exactly as it is (same bytes, same inode) ---
    const checkFailures = () => (proc.stderr().match(/web: check failed; .* not replaced: check exited with code 1\ncheck: refusing/g) ?? []).length;
    await writeFile(checkFlag, '');
    await waitFor(() => checkFailures() > 0, { what: 'a failed check to be logged; stderr: ' + proc.stderr().slice(-1500) });
    const kept = { bytes: await readFile(file), ino: (await stat(file)).ino };
    const madeBeforeHold = churn.made;
    const holdUntil = Date.now() + 3000;
    let holdSamples = 0;
    while (Date.now() < holdUntil) {
      const [bytes, s] = await Promise.all([readFile(file), stat(file)]);
      expect(s.ino).toBe(kept.ino);
      expect(bytes.equals(kept.bytes)).toBe(true);
      holdSamples++;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(churn.made - madeBeforeHold).toBeGreaterThan(20); // etcd kept changing meanwhile
    expect(checkFailures()).toBeGreaterThan(5); // each change tried (and refused) again
    // Metrics count every refused install.
    await waitFor(async () => (await metric('cluster_control_installs_total', { cluster: 'web', result: 'check_failed' })) === checkFailures(), {
      what: 'installs_total{result="check_failed"} to equal the failures logged',
    });
    // The check passes again: the next change is installed.
    await unlink(checkFlag);
    await waitFor(async () => (await stat(file)).ino !== kept.ino, { timeoutMs: 5000, what: 'the next change to be installed' });
    worstConvergeMs = Math.max(worstConvergeMs, await waitConverged(client!, PATH, [watcher], 20_000));

    // --- reload fails N times: retried with backoff, while installs go on ---
    const reloads = async () =>
      (await readFile(reloadLog, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [t, status, ...members] = l.split(' ');
          return { t: Number(t), status: status as 'ok' | 'fail', members: members.filter(Boolean) };
        });
    const okBefore = (await reloads()).length;
    const failedBefore = await metric('cluster_control_reloads_total', { cluster: 'web', result: 'failed' });
    expect(failedBefore).toBe(0);
    await writeFile(reloadLeft, String(RELOAD_FAILURES));
    const inodes = new Set<number>();
    await waitFor(
      async () => {
        inodes.add((await stat(file)).ino);
        const since = (await reloads()).slice(okBefore);
        return since
          .slice(
            Math.max(
              0,
              since.findIndex((r) => r.status === 'fail'),
            ),
          )
          .some((r) => r.status === 'ok' && since.some((f) => f.status === 'fail'));
      },
      { timeoutMs: 40_000, intervalMs: 20, what: `a reload to succeed after ${RELOAD_FAILURES} failures` },
    );
    // From the first failure on (a reload already running when the count was written succeeds).
    const since = (await reloads()).slice(okBefore);
    const attempts = since.slice(since.findIndex((r) => r.status === 'fail'));
    const firstOk = attempts.findIndex((r) => r.status === 'ok');
    expect(attempts.slice(0, firstOk).map((r) => r.status)).toEqual(Array(RELOAD_FAILURES).fill('fail'));
    // Backoff: after the k-th failure, at least half of 500 ms * 2^(k-1) before the next attempt.
    const gaps = attempts.slice(1, firstOk + 1).map((r, k) => r.t - attempts[k]!.t);
    const minimum = gaps.map((_, k) => 250 * 2 ** k);
    expect(
      gaps.every((g, k) => g >= minimum[k]! - 20),
      `gaps between attempts ${gaps.join(', ')} ms; at least ${minimum.join(', ')} ms`,
    ).toBe(true);
    // The watcher kept installing meanwhile, and `run` is still running.
    expect(inodes.size).toBeGreaterThan(5);
    expect(proc.child.exitCode).toBeNull();
    expect(proc.stderr()).toMatch(/reload for cluster web exited with code 1: service said no/);
    expect(proc.stderr()).toMatch(/reload for cluster web: retrying in \d+ ms/);
    expect(await metric('cluster_control_reloads_total', { cluster: 'web', result: 'failed' })).toBe(RELOAD_FAILURES);
    expect(await metric('cluster_control_reloads_total', { cluster: 'web', result: 'ok' })).toBeGreaterThan(0);

    // --- settle: the file equals etcd, and the last reload saw exactly those members ---
    await churn.stop();
    const settled = Date.now();
    worstConvergeMs = Math.max(worstConvergeMs, await waitConverged(client!, PATH, [watcher], 20_000));
    const lost = await lostChanges(client!, PATH, watcher);
    const final = await etcdMembers(client!, PATH);
    await waitFor(
      async () => {
        const last = (await reloads()).at(-1)!;
        return last.status === 'ok' && JSON.stringify([...last.members].sort()) === JSON.stringify([...final].sort());
      },
      { timeoutMs: 10_000, what: 'the last reload to see the final members' },
    );
    worstConvergeMs = Math.max(worstConvergeMs, Date.now() - settled);
    const checkFailed = checkFailures();
    expect(await metric('cluster_control_installs_total', { cluster: 'web', result: 'check_failed' })).toBe(checkFailed);
    expect(await metric('cluster_control_reloads_total', { cluster: 'web', result: 'failed' })).toBe(RELOAD_FAILURES);

    proc.kill('SIGTERM');
    const res = await proc.exited(20_000);
    expect(res.code).toBe(0);

    recordResult({
      scenario: `7 failing check (3 s of churn), failing reload x${RELOAD_FAILURES}`,
      runs: checkFailed + RELOAD_FAILURES,
      changesMade: churn.made,
      changesLost: lost,
      falseExpiries: 0,
      worstConvergeMs,
      note: `${checkFailed} check failures, target unchanged in ${holdSamples} samples; reload gaps ${gaps.join('/')} ms; ${inodes.size} installs while reloads failed`,
    });
    expect(lost).toBe(0);
  });
});
