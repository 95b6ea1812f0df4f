import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EtcdConnection } from '@cluster-control/core';
import { type CliProcess, runCli, spawnCli, tempDir, writeJson } from '#test-support/cli.js';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { Churn, type Watcher, lostChanges, testClient, waitConverged } from './harness.js';
import { recordResult } from './results.js';

/*
 * Crash while writing. A cluster of 6,000 members (a json file of ~100 kB), churned every 10 ms so
 * its watcher rewrites the file over and over; the watcher is SIGKILLed at a random moment 50-300
 * ms after its first install, 200 times, a new one started each time. Meanwhile a reader reads the
 * target continuously: every read must be a complete JSON array with all the members (the old file
 * or the new one, never a part). Afterwards one last watcher (the CLI) runs normally, converges and
 * stops cleanly; no temp file may be left next to the target (each process removes dead processes'
 * leftovers before its first install).
 *
 * The 200 killed watchers are core's ClusterSync (what `cluster-control watch` runs) in a small
 * node script rather than the CLI: the script loads and connects before it is told to go, so the
 * next watchers start while the current one runs (spawning the CLI costs ~300 ms of CPU before it
 * does anything; 200 of them in a row would not fit the time a scenario may take).
 */

const PATH = '/faults/crash';
const MEMBERS = 6_000;
const KILLS = 200;
const CONVERGE_BOUND_MS = 30_000;
const ROOT = resolve(import.meta.dirname, '../..');
const HANDLERS = resolve(ROOT, 'packages/handlers/dist/index.js');

/** A watcher as `cluster-control watch c 0` runs it, told on stdin when to start; reports outcomes on stdout. */
const WATCHER_SCRIPT = `
import { ClusterSync, connectFromConfig, createLogger, findCluster, loadConfig, resolveClusterTarget } from '@cluster-control/core';
import { singleKey } from '@cluster-control/core/etcd';
import { builtinHandlers } from ${JSON.stringify(HANDLERS)};
const config = await loadConfig({ path: process.env.CC_CONF });
const logger = createLogger();
const target = await resolveClusterTarget(config, findCluster(config, 'c'), builtinHandlers);
const etcd = await connectFromConfig(config.etcd, logger);
await etcd.range(singleKey('/warm-up')); // connected
process.stdout.write('loaded\\n');
process.stdin.once('data', async () => {
  const sync = new ClusterSync(etcd, { target, logger, onOutcome: (outcome) => process.stdout.write(outcome + '\\n') });
  await sync.start();
  process.stdout.write('synced\\n');
});
`;

interface ScriptWatcher {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>;
  exited: Promise<void>;
}

function spawnScriptWatcher(conf: string): ScriptWatcher {
  const child = spawn(process.execPath, ['--input-type=module', '-e', WATCHER_SCRIPT], {
    cwd: ROOT,
    env: { ...process.env, CC_CONF: conf },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());
  child.stdout.on('data', (d) => ((out += d), wake()));
  child.stderr.on('data', (d) => ((err += d), wake()));
  const exited = new Promise<void>((r) => child.once('exit', () => (wake(), r())));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(out)) done(resolve);
          else if (child.exitCode !== null || child.signalCode !== null) done(() => reject(new Error(`watcher exited before ${pattern}:\n${err}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no ${pattern} from the watcher within ${timeoutMs} ms; stdout ${out}; stderr:\n${err}`))), timeoutMs);
        const done = (then: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          then();
        };
        waiters.add(check);
        check();
      }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tempFilesIn = async (dir: string) => (await readdir(dir)).filter((n) => /^\.members\.json\..*\.tmp$/.test(n));

describe.skipIf(!haveEtcd)('6 crash while writing', () => {
  let server: EtcdServer | undefined;
  let client: EtcdConnection | undefined;
  let churn: Churn | undefined;
  let dir: string | undefined;
  let stopReader = false;
  const scripts: ScriptWatcher[] = [];
  let last: CliProcess | undefined;

  afterAll(async () => {
    stopReader = true;
    await churn?.stop();
    for (const s of scripts) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await Promise.allSettled(scripts.map((s) => s.exited));
    if (last && last.child.exitCode === null && last.child.signalCode === null) last.kill('SIGKILL');
    await last?.exited(5_000).catch(() => {});
    client?.close();
    await server?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`a watcher SIGKILLed ${KILLS} times while installing a ${MEMBERS}-member file: always a complete file, no temp files left`, async () => {
    server = await startEtcd();
    const endpoints = [server.endpoint];
    client = await testClient(endpoints);
    for (let i = 0; i < MEMBERS; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => client!.put(`${PATH}/10.80.${Math.floor((i + j) / 250)}.${(i + j) % 250}:80`, '')));
    }
    dir = await tempDir('cc-fault-crash-');
    const file = join(dir, 'members.json');
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints, timeoutMs: 2000 },
      clusters: [{ name: 'c', path: PATH, handler: 'json', handlerConfig: file }],
    });
    // The target exists from the start: from here on every read must find a complete file.
    const prepared = await runCli(['--conf', conf, 'prepare', 'c']);
    expect(prepared.code, prepared.stderr).toBe(0);
    expect((await readFile(file)).length).toBeGreaterThan(100_000);

    // The reader: reads the target over and over (a millisecond apart), the whole time.
    let reads = 0;
    let largest = 0;
    const bad: string[] = [];
    let previous = '';
    let versions = 0;
    const reader = (async () => {
      while (!stopReader) {
        try {
          const text = await readFile(file, 'utf8');
          const list = JSON.parse(text) as unknown;
          if (!Array.isArray(list) || list.length < MEMBERS || !text.endsWith(']\n')) bad.push(`incomplete: ${list instanceof Array ? list.length : typeof list} entries, ${text.length} bytes`);
          if (text !== previous) versions++;
          previous = text;
          largest = Math.max(largest, text.length);
          reads++;
        } catch (err) {
          bad.push(String(err));
        }
        await sleep(1); // leave some CPU to the watchers
      }
    })();

    churn = new Churn(client, PATH, { intervalMs: 10, poolSize: 41, subnet: 1 }).start();

    let midWrite = 0;
    let installsBeforeKill = 0;
    const loopStarted = Date.now();
    // Two watchers load ahead while the current one runs.
    const queue = [spawnScriptWatcher(conf), spawnScriptWatcher(conf)];
    scripts.push(...queue);
    for (let kill = 0; kill < KILLS; kill++) {
      const current = queue.shift()!;
      await current.waitFor(/^loaded$/m, 30_000);
      if (scripts.length < KILLS) {
        const next = spawnScriptWatcher(conf);
        queue.push(next);
        scripts.push(next);
      }
      current.child.stdin!.write('go\n');
      await current.waitFor(/^(installed|unchanged)$/m, 30_000);
      await sleep(50 + Math.random() * 250);
      current.child.kill('SIGKILL');
      await current.exited;
      expect(current.child.signalCode, current.stderr()).toBe('SIGKILL');
      installsBeforeKill += (current.stdout().match(/^installed$/gm) ?? []).length;
      // Killed with a temp file half written (or written, not yet renamed)?
      if ((await tempFilesIn(dir)).some((n) => n.includes(`.${current.child.pid}.`))) midWrite++;
      expect(bad, 'a read found an incomplete file').toEqual([]);
    }
    const loopMs = Date.now() - loopStarted;
    expect(queue).toEqual([]);

    // Every leftover was removed by the next watcher, before its first install.
    const swept = scripts.reduce((n, s) => n + (s.stderr().match(/removed stale temp file/g) ?? []).length, 0);
    for (const s of scripts) expect(s.stderr(), 'a killed watcher logged an error').not.toMatch(/ error: /);

    // One last watcher, the CLI, run normally: in sync and following the churn for a while, then
    // (churn stopped: with 6,000 members and a change every 10 ms, etcd's state and the file are
    // never compared at the same instant) its file equals etcd's state; then it stops cleanly.
    const started = Date.now();
    last = spawnCli(['--conf', conf, 'watch', 'c', '0']);
    await last.waitForLog(/in sync at revision/, CONVERGE_BOUND_MS);
    const syncMs = Date.now() - started;
    const lastWatcher: Watcher = { proc: last, file, conf, members: async () => JSON.parse(await readFile(file, 'utf8')) as string[], stop: async () => {} };
    await sleep(2_000);
    await churn.stop();
    const convergeMs = await waitConverged(client, PATH, [lastWatcher], CONVERGE_BOUND_MS);
    const lost = await lostChanges(client, PATH, lastWatcher);
    last.kill('SIGTERM');
    const lastExit = await last.exited(15_000);
    const sweptByLast = (last.stderr().match(/removed stale temp file/g) ?? []).length;
    stopReader = true;
    await reader;
    const leftovers = await tempFilesIn(dir);

    recordResult({
      scenario: `6 crash while writing x${KILLS}`,
      runs: KILLS,
      changesMade: churn.made,
      changesLost: lost,
      falseExpiries: 0,
      worstConvergeMs: convergeMs,
      note: `${MEMBERS} members (${Math.round(largest / 1000)} kB file), churn every 10 ms; ${KILLS} SIGKILLs 50-300 ms after the first install (${installsBeforeKill} installs by the killed watchers, ${midWrite} kills left a temp file behind, all swept by the next watcher: ${swept + sweptByLast}), ${(loopMs / 1000).toFixed(0)} s; ${reads} reads saw ${versions} successive versions, ${bad.length} incomplete; ${leftovers.length} temp files left; the last watcher (CLI) was in sync ${(syncMs / 1000).toFixed(1)} s after its start and equal to etcd ${(convergeMs / 1000).toFixed(2)} s after the churn stopped`,
    });

    expect(bad).toEqual([]);
    expect(reads).toBeGreaterThan(KILLS);
    expect(lost).toBe(0);
    expect(lastExit.code, last.stderr()).toBe(0);
    expect(leftovers).toEqual([]);
    expect(swept + sweptByLast).toBe(midWrite);
    expect(convergeMs).toBeLessThan(CONVERGE_BOUND_MS);
  });
});
