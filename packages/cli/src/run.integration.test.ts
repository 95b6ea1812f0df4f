import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';
import { type EtcdServer, freePort, haveEtcd, startEtcd } from '#test-support/etcd-server.js';

const CHILD = resolve(import.meta.dirname, '../../../test/support/child-server.mjs');

type ChildEvent = { t: number; event: string; signal?: string; keyPresent?: boolean };

// `cluster-control run` with a real child process (test/support/child-server.mjs: an HTTP server
// that logs every signal it gets, and whether the own key existed in etcd at that moment).
describe.skipIf(!haveEtcd)('cluster-control run', () => {
  let etcd: EtcdServer;
  const running: CliProcess[] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    for (const p of running) p.kill('SIGKILL');
    await etcd?.dispose();
  });

  /** A node: its config, its child's log, and `start(args)` to run it. */
  async function node(name: string, cluster: Record<string, unknown> = {}, childEnv: Record<string, string> = {}) {
    const dir = await tempDir(`cc-run-${name}-`);
    const port = await freePort();
    const key = `/clusters/run-${name}/127.0.0.1:${port}`;
    const conf = await writeJson(join(dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      self: { key, ttl: 5, heartbeat: 1 },
      clusters: [{ name: 'db', path: `/clusters/run-${name}-db`, handler: 'json', handlerConfig: 'db.json', ...cluster }],
    });
    const log = join(dir, 'child.log');
    const events = async (): Promise<ChildEvent[]> =>
      (await readFile(log, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ChildEvent);
    const keyPresent = async () => (await etcd.ctl('get', key, '--keys-only')).trim() !== '';
    const start = (args: string[]) => {
      const proc = spawnCli(['--conf', conf, 'run', ...args, '--', process.execPath, CHILD], {
        env: { HOST: '127.0.0.1', PORT: String(port), LOG: log, ETCD: etcd.endpoint, KEY: key, ...childEnv },
      });
      running.push(proc);
      return proc;
    };
    return { dir, port, key, conf, events, keyPresent, start, dbFile: join(dir, 'db.json'), dbPath: `/clusters/run-${name}-db` };
  }

  it('prepares the files first and registers only once the server answers', async () => {
    const n = await node('gate', {}, { READY_DELAY_MS: '1500' });
    await etcd.ctl('put', `${n.dbPath}/10.0.0.1:3306`, '');
    const run = n.start(['--ready-http', `http://127.0.0.1:${n.port}/`]);
    await waitFor(async () => (await n.events()).some((e) => e.event === 'started'), { what: 'the child to start' });
    // The file was written before the child started.
    expect(await readFile(n.dbFile, 'utf8')).toBe('["10.0.0.1:3306"]\n');
    expect(await n.keyPresent()).toBe(false);
    await waitFor(n.keyPresent, { what: 'registration' });
    const listening = (await n.events()).find((e) => e.event === 'listening')!;
    expect(listening.keyPresent).toBe(false); // the server was up before the key was put
    run.kill('SIGTERM');
    expect((await run.exited()).code).toBe(0);
  });

  it('fails clearly when the server is not ready in time, and stops it', async () => {
    const n = await node('timeout', {}, { READY_DELAY_MS: '-1' });
    const run = n.start(['--ready-tcp', `127.0.0.1:${n.port}`, '--ready-timeout', '1']);
    const res = await run.exited();
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/cluster-control: the server was not ready within 1s; stopped it/);
    expect((await n.events()).some((e) => e.signal === 'SIGTERM')).toBe(true);
    expect(await n.keyPresent()).toBe(false);
  });

  it('reloads by command after a replacement', async () => {
    const n = await node('cmd');
    const reloads = join(n.dir, 'reloads');
    await writeJson(join(n.dir, 'cc.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      self: { key: n.key, ttl: 5, heartbeat: 1 },
      clusters: [{ name: 'db', path: n.dbPath, handler: 'json', handlerConfig: 'db.json', reload: ['sh', '-c', `echo "$CLUSTER_CONTROL_MEMBERS" >> ${reloads}`] }],
    });
    const run = n.start(['--ready-tcp', `127.0.0.1:${n.port}`]);
    await waitFor(n.keyPresent, { what: 'registration' });
    await etcd.ctl('put', `${n.dbPath}/10.0.0.2:3306`, '');
    await waitFor(async () => (await readFile(reloads, 'utf8').catch(() => '')).includes('10.0.0.2:3306'), { what: 'the reload command' });
    expect((await n.events()).filter((e) => e.event === 'signal')).toEqual([]); // a command, not a signal
    run.kill('SIGTERM');
    expect((await run.exited()).code).toBe(0);
  });

  it('reloads by signal after a replacement, and forwards other signals', async () => {
    const n = await node('sig', { reloadSignal: 'SIGHUP' });
    const run = n.start(['--ready-tcp', `127.0.0.1:${n.port}`]);
    await waitFor(n.keyPresent, { what: 'registration' });
    await etcd.ctl('put', `${n.dbPath}/10.0.0.3:3306`, '');
    await waitFor(async () => (await n.events()).some((e) => e.signal === 'SIGHUP'), { what: 'SIGHUP to the child' });
    expect(await readFile(n.dbFile, 'utf8')).toBe('["10.0.0.3:3306"]\n');
    run.kill('SIGUSR2');
    await waitFor(async () => (await n.events()).some((e) => e.signal === 'SIGUSR2'), { what: 'SIGUSR2 forwarded' });
    run.kill('SIGTERM');
    expect((await run.exited()).code).toBe(0);
  });

  it("stops the server and exits 0 when an operator deletes the node's key", async () => {
    const n = await node('removal', {}, { STOP_SIGNAL: 'SIGWINCH' });
    const run = n.start(['--ready-tcp', `127.0.0.1:${n.port}`, '--stop-signal', 'SIGWINCH']);
    await waitFor(n.keyPresent, { what: 'registration' });
    await etcd.ctl('del', n.key);
    const res = await run.exited();
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/removed by an operator: stopping the server/);
    expect((await n.events()).filter((e) => e.event === 'signal').map((e) => e.signal)).toEqual(['SIGWINCH']);
  });

  it('SIGKILLs the whole process group of a server that ignores its stop signal past the grace period', async () => {
    const n = await node('grace', {}, { IGNORE_STOP: '1', WORKER: '1' });
    const run = n.start(['--ready-tcp', `127.0.0.1:${n.port}`, '--stop-grace', '1']);
    await waitFor(n.keyPresent, { what: 'registration' });
    const worker = (await n.events()).find((e) => e.event === 'worker') as ChildEvent & { workerPid: number };
    await etcd.ctl('del', n.key);
    const res = await run.exited();
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/did not stop within 1000 ms; sending SIGKILL to its process group/);
    // The worker it forked went with it.
    await waitFor(() => !isAlive(worker.workerPid), { timeoutMs: 5000, what: 'the worker to be gone' });
  });

  it('on SIGTERM: deregisters first, drains, then stops the server', async () => {
    const n = await node('drain');
    const run = n.start(['--ready-tcp', `127.0.0.1:${n.port}`, '--drain', '1']);
    await waitFor(n.keyPresent, { what: 'registration' });
    const sentAt = Date.now();
    run.kill('SIGTERM');
    await waitFor(async () => !(await n.keyPresent()), { what: 'deregistration' });
    const goneAt = Date.now();
    expect((await run.exited()).code).toBe(0);
    const stop = (await n.events()).find((e) => e.signal === 'SIGTERM')!;
    // The key was gone when the child got its stop signal, which came after the drain period.
    expect(stop.keyPresent).toBe(false);
    expect(stop.t).toBeGreaterThanOrEqual(goneAt);
    expect(stop.t - sentAt).toBeGreaterThanOrEqual(1000);
  });

  it("exits with the server's exit code when it ends by itself, deregistered", async () => {
    const n = await node('exit', {}, { EXIT_AFTER_MS: '1500', EXIT_CODE: '7' });
    const run = n.start(['--ready-tcp', `127.0.0.1:${n.port}`]);
    await waitFor(n.keyPresent, { what: 'registration' });
    const res = await run.exited();
    expect(res.code).toBe(7);
    expect(await n.keyPresent()).toBe(false);
    // A server killed by a signal is reported like a shell does: 128 + its number.
    const k = await node('killed', {}, { STOP_SIGNAL: 'SIGUSR1' });
    const run2 = k.start(['--ready-tcp', `127.0.0.1:${k.port}`]);
    await waitFor(k.keyPresent, { what: 'registration' });
    const pid = (await k.events()).find((e) => e.event === 'started') as ChildEvent & { pid: number };
    process.kill(pid.pid, 'SIGKILL');
    expect((await run2.exited()).code).toBe(137);
  });

  it('serves /healthz, /readyz and Prometheus /metrics', async () => {
    const n = await node('metrics', { reloadSignal: 'SIGHUP' }, { READY_DELAY_MS: '1000' });
    const metricsPort = await freePort();
    const base = `http://127.0.0.1:${metricsPort}`;
    const run = n.start(['--ready-tcp', `127.0.0.1:${n.port}`, '--metrics', `127.0.0.1:${metricsPort}`]);
    await run.waitForLog(/serving \/metrics/);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toMatch(/starting|not registered/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, { what: 'ready' });
    await etcd.ctl('put', `${n.dbPath}/10.0.0.4:3306`, '');
    await etcd.ctl('put', `${n.dbPath}/10.0.0.5:3306`, '');
    await waitFor(async () => (await readFile(n.dbFile, 'utf8')).includes('10.0.0.5'), { what: 'the file' });
    await waitFor(async () => (await n.events()).filter((e) => e.signal === 'SIGHUP').length >= 1, { what: 'a reload signal' });

    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const samples = parsePrometheus(await res.text());
    const value = (name: string, labels: Record<string, string> = {}) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('cluster_control_registered')).toBe(1);
    expect(value('cluster_control_ready')).toBe(1);
    expect(value('cluster_control_child_up')).toBe(1);
    expect(value('cluster_control_members', { cluster: 'db' })).toBe(2);
    expect(value('cluster_control_events_total', { cluster: 'db' })).toBeGreaterThanOrEqual(2);
    expect(value('cluster_control_installs_total', { cluster: 'db', result: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(value('cluster_control_child_signals_total', { signal: 'SIGHUP' })).toBeGreaterThanOrEqual(1);
    const revision = value('cluster_control_revision', { cluster: 'db' })!;
    expect(revision).toBeGreaterThan(0);
    expect(revision).toBeLessThanOrEqual(Number(await etcd.revision()));
    expect(value('cluster_control_revision_lag', { cluster: 'db' })).toBeGreaterThanOrEqual(0);
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(0);
    run.kill('SIGTERM');
    expect((await run.exited()).code).toBe(0);
  });

  it('--check-config prints the plan without touching etcd; bad options exit 2', async () => {
    const n = await node('check', { reloadSignal: 'SIGHUP' });
    const res = await runCli(['--conf', n.conf, 'run', '--check-config', '--ready-tcp', `127.0.0.1:${n.port}`, '--', 'apache2', '-DFOREGROUND']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^configuration OK: /);
    expect(res.stdout).toMatch(/cluster db: .* \(json\); signal: SIGHUP/);
    expect(res.stdout).toMatch(/server: apache2 -DFOREGROUND; ready: tcp 127\.0\.0\.1:\d+/);
    expect((await runCli(['--conf', n.conf, 'run', '--ready-tcp', 'nonsense', '--', 'true'])).code).toBe(2);
    expect((await runCli(['--conf', n.conf, 'run', '--stop-signal', 'SIGNOPE', '--', 'true'])).code).toBe(2);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Just enough of the Prometheus text format: `name{a="b",…} value` lines. */
function parsePrometheus(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line)!;
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}
