import { request } from 'node:http';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';
import { type EtcdServer, freePort, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { type Haproxy, haveHaproxy, startHaproxy } from '#test-support/haproxy.js';
import { haveNginx, startNginx, writeNginxMainConf } from '#test-support/nginx.js';
import { jsonRecipe, recipe } from '#test-support/recipes.js';
import type { ServerProcess } from '#test-support/server-process.js';
import { recordResult } from './results.js';

/*
 * `run`'s drain (README: Drain): the real haproxy and nginx (the handlers README's recipes as
 * written, /etc/... moved to temp dirs) in front of 3 backends, each under `cluster-control run`;
 * one `watch` process per balancer keeps its file current and reloads it. A load loop of POSTs
 * through both balancers runs while every backend is restarted in turn (SIGTERM → drain → start
 * again). The backends stop at once on SIGTERM (test/support/abrupt-backend.mjs, 100 ms per
 * request), so nothing but the drain stands between a restart and lost requests:
 *   - drained (`--drain-max 20 --drain 1`): the key is deleted at R, run waits until both watchers
 *     report R applied and reloaded, then 1 s more: 0 failed requests through either balancer;
 *   - not drained (`--drain-max 0 --drain 0`): the balancers still send traffic to a stopped
 *     backend until they reload, and requests in flight are cut: failures. (POSTs: nginx passes an
 *     idempotent request that failed to the next server, which would hide the in-flight ones.)
 * Then a frozen watcher (SIGSTOP) holds a draining backend's stop until it thaws, or until
 * `--drain-max` passes, logged with its name.
 */

const BACKEND = resolve(import.meta.dirname, '../support/abrupt-backend.mjs');
const MAIN_CFG = ['global', '    maxconn 256', '', 'defaults', '    mode http', '    timeout connect 5s', '    timeout client 30s', '    timeout server 30s', '', ''].join('\n');
const DRAINED = ['--drain-max', '20', '--drain', '1'];
const NOT_DRAINED = ['--drain-max', '0', '--drain', '0'];
const RATE = 100; // requests per second through each balancer

interface Backend {
  readonly host: string;
  readonly port: number;
  readonly name: string;
  readonly conf: string;
  proc: CliProcess;
}

type Balancer = 'haproxy' | 'nginx';
type Phase = 'warmup' | 'drained' | 'not-drained' | 'other';

/** POSTs through both balancers at RATE each, counted per phase; remembers when each backend last answered through each. */
class Load {
  phase: Phase = 'warmup';
  readonly counts: Record<Phase, Record<Balancer, { ok: number; failed: number }>> = Object.fromEntries(
    (['warmup', 'drained', 'not-drained', 'other'] as const).map((p) => [p, { haproxy: { ok: 0, failed: 0 }, nginx: { ok: 0, failed: 0 } }]),
  ) as Load['counts'];
  readonly failures: string[] = [];
  private readonly lastSeen = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly urls: Record<Balancer, string>) {}

  start(): this {
    this.timer = setInterval(() => {
      for (const b of ['haproxy', 'nginx'] as const) {
        const p = this.one(b).finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      }
    }, 1000 / RATE);
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.inFlight);
  }

  /** Whether `backend` answered through `balancer` since `since`. */
  seen(balancer: Balancer, backend: string, since: number): boolean {
    return (this.lastSeen.get(`${balancer} ${backend}`) ?? 0) >= since;
  }

  private async one(balancer: Balancer): Promise<void> {
    const phase = this.phase;
    const count = this.counts[phase][balancer];
    const outcome = await post(this.urls[balancer]);
    if (outcome.status === 200 && outcome.body.startsWith('backend ')) {
      count.ok++;
      this.lastSeen.set(`${balancer} ${outcome.body.slice('backend '.length)}`, Date.now());
    } else {
      count.failed++;
      if (this.failures.length < 50) this.failures.push(`${phase} ${balancer}: ${outcome.status || ''} ${outcome.body.slice(0, 80)}`);
    }
  }
}

function post(url: string): Promise<{ status: number; body: string }> {
  return new Promise((done) => {
    const req = request(url, { method: 'POST', agent: false, timeout: 5_000, headers: { 'content-type': 'text/plain' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: body.trim() }));
      res.on('error', (err) => done({ status: 0, body: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => done({ status: 0, body: err.message }));
    req.end('order=1');
  });
}

describe.skipIf(!haveEtcd || !haveHaproxy || !haveNginx)('rolling restart behind haproxy and nginx: run drains until the fleet applied it', () => {
  let etcd: EtcdServer;
  let hdir: string;
  let ndir: string;
  let haproxy: Haproxy | undefined;
  let nginx: ServerProcess | undefined;
  const watchers: Record<Balancer, CliProcess | undefined> = { haproxy: undefined, nginx: undefined };
  const backends: Backend[] = [];
  const urls = { haproxy: '', nginx: '' };
  const runLogs: string[] = [];

  async function startBackend(b: Omit<Backend, 'proc'> & { proc?: CliProcess }, flags: string[]): Promise<void> {
    const proc = spawnCli(['--conf', b.conf, 'run', '--ready-http', `http://${b.host}:${b.port}/`, ...flags, '--', process.execPath, BACKEND], {
      env: { HOST: b.host, PORT: String(b.port), DELAY_MS: '100' },
    });
    b.proc = proc;
    await proc.waitForLog(/ready: registered/, 30_000);
  }

  beforeAll(async () => {
    etcd = await startEtcd();
    const endpoints = [etcd.endpoint];

    // Three backends under run, registered in /clusters/web.
    for (let i = 0; i < 3; i++) {
      const host = `127.0.0.${141 + i}`;
      const port = await freePort(host);
      const dir = await tempDir('cc-roll-backend-');
      const name = `${host}:${port}`;
      const conf = await writeJson(join(dir, 'cc.conf'), { etcd: { endpoints }, self: { key: `/clusters/web/${name}`, ttl: 10 } });
      const b = { host, port, name, conf } as Backend;
      await startBackend(b, DRAINED);
      backends.push(b);
    }

    // haproxy, as in the handlers README.
    hdir = await tempDir('cc-roll-haproxy-');
    await mkdir(join(hdir, 'cluster-control'));
    const hport = await freePort();
    urls.haproxy = `http://127.0.0.1:${hport}/`;
    const mainCfg = join(hdir, 'haproxy.cfg');
    await writeFile(mainCfg, MAIN_CFG + recipe('haproxy-frontend').replace('    bind :80\n', `    bind 127.0.0.1:${hport}\n`));
    const hentry = JSON.parse(JSON.stringify(jsonRecipe('haproxy-config')).replaceAll('/etc/haproxy/', `${hdir}/`)) as { name: string; handlerConfig: { file: string }; reload: string[] };
    const hconf = await writeJson(join(hdir, 'cc.conf'), { etcd: { endpoints }, clusters: [hentry] });
    const hprepared = await runCli(['--conf', hconf, 'prepare', 'web']);
    expect(hprepared.code, hprepared.stderr).toBe(0);
    haproxy = await startHaproxy({ configFiles: [mainCfg, hentry.handlerConfig.file], port: hport });
    const script = join(hdir, 'cluster-control-haproxy-reload');
    await writeFile(script, recipe('haproxy-reload'), { mode: 0o755 });
    hentry.reload = [script, haproxy.pidFile];
    await writeJson(hconf, { etcd: { endpoints }, clusters: [hentry] });

    // nginx, as in the handlers README.
    ndir = await tempDir('cc-roll-nginx-');
    await mkdir(join(ndir, 'cluster-control'));
    await mkdir(join(ndir, 'conf.d'));
    const local = (text: string) => text.replaceAll('/etc/nginx/', `${ndir}/`);
    await writeFile(join(ndir, 'cluster-control/check.conf'), local(recipe('nginx-check-wrapper')));
    const nport = await freePort();
    urls.nginx = `http://127.0.0.1:${nport}/`;
    await writeFile(join(ndir, 'conf.d/web.conf'), local(recipe('nginx-site')).replace('    listen 80;\n', `    listen 127.0.0.1:${nport};\n`));
    const nginxConf = await writeNginxMainConf(ndir, [join(ndir, 'conf.d/web.conf')]);
    const nentry = JSON.parse(local(JSON.stringify(jsonRecipe('nginx-config'))));
    const nconf = await writeJson(join(ndir, 'cc.conf'), { etcd: { endpoints }, clusters: [nentry] });
    const nprepared = await runCli(['--conf', nconf, 'prepare', 'web']);
    expect(nprepared.code, nprepared.stderr).toBe(0);
    nginx = await startNginx({ confFile: nginxConf, port: nport });

    // One watcher per balancer; both publish their status (the default prefix).
    watchers.haproxy = spawnCli(['--conf', hconf, 'watch', 'web', hprepared.stdout.trim()]);
    watchers.nginx = spawnCli(['--conf', nconf, 'watch', 'web', nprepared.stdout.trim()]);
    await watchers.haproxy.waitForLog(/in sync at revision/);
    await watchers.nginx.waitForLog(/in sync at revision/);
    await waitFor(async () => (await etcd.ctl('get', '/cluster-control/status/', '--prefix', '--keys-only')).split('\n').filter(Boolean).length === 2, {
      what: 'both watchers to publish their status',
    });
  }, 120_000);

  afterAll(async () => {
    // The backends' runs get SIGTERM, while the watchers still run (so their drains end at once):
    // a run that is SIGKILLed leaves its server behind, orphaned.
    for (const p of [watchers.haproxy, watchers.nginx]) p?.child.kill('SIGCONT');
    for (const b of backends) b.proc?.kill('SIGTERM');
    await Promise.allSettled(backends.map((b) => b.proc?.exited(30_000) ?? Promise.resolve()));
    for (const p of [...backends.map((b) => b.proc), watchers.haproxy, watchers.nginx]) p?.kill('SIGKILL');
    await Promise.allSettled([...backends.map((b) => b.proc), watchers.haproxy, watchers.nginx].map((p) => p?.exited(5_000) ?? Promise.resolve()));
    await haproxy?.stop();
    await nginx?.stop();
    await etcd?.dispose();
    for (const d of [hdir, ndir]) if (d) await rm(d, { recursive: true, force: true });
  });

  /** Every backend in turn: SIGTERM (its run drains as it was started), exit, start again with `next`, until both balancers use it. */
  async function rollingRestart(load: Load, next: string[]): Promise<number> {
    let worstStopMs = 0;
    for (const b of backends) {
      const sent = Date.now();
      b.proc.kill('SIGTERM');
      const end = await b.proc.exited(40_000);
      worstStopMs = Math.max(worstStopMs, Date.now() - sent);
      runLogs.push(end.stderr);
      expect(end.code, end.stderr).toBe(0);
      const restarted = Date.now();
      await startBackend(b, next);
      await waitFor(() => load.seen('haproxy', b.name, restarted) && load.seen('nginx', b.name, restarted), {
        timeoutMs: 20_000,
        what: `both balancers to send traffic to ${b.name} again`,
      });
    }
    return worstStopMs;
  }

  it('zero failed requests through both balancers with the drain; failures without it (--drain-max 0 --drain 0)', async () => {
    const load = new Load(urls).start();
    let drainedStopMs = 0;
    try {
      await waitFor(() => backends.every((b) => load.seen('haproxy', b.name, 0) && load.seen('nginx', b.name, 0)), { what: 'both balancers to use every backend' });
      // The backends run with DRAINED; each comes back with NOT_DRAINED for the second round.
      load.phase = 'drained';
      drainedStopMs = await rollingRestart(load, NOT_DRAINED);
      // Requests are counted in the phase they started in: let the drained round's last ones end
      // before the first undrained stop cuts whatever is in flight.
      load.phase = 'other';
      await new Promise((r) => setTimeout(r, 1_000));
      load.phase = 'not-drained';
      await rollingRestart(load, DRAINED);
      load.phase = 'other';
    } finally {
      await load.stop();
    }
    const { drained, 'not-drained': undrained } = load.counts;
    const total = (c: { ok: number; failed: number }) => c.ok + c.failed;
    const summary =
      `rolling restart of 3 backends, ${RATE} POST/s through each balancer: ` +
      `drained (--drain-max 20 --drain 1): haproxy ${drained.haproxy.failed} failed of ${total(drained.haproxy)}, nginx ${drained.nginx.failed} failed of ${total(drained.nginx)}; ` +
      `not drained (--drain-max 0 --drain 0): haproxy ${undrained.haproxy.failed} failed of ${total(undrained.haproxy)}, nginx ${undrained.nginx.failed} failed of ${total(undrained.nginx)}`;
    console.log(summary);
    if (load.failures.length > 0) console.log(`failures (first ${load.failures.length}):\n  ${load.failures.join('\n  ')}`);
    recordResult({
      scenario: 'rolling restart behind haproxy + nginx (drain)',
      runs: 6,
      changesMade: total(drained.haproxy) + total(drained.nginx),
      changesLost: drained.haproxy.failed + drained.nginx.failed,
      falseExpiries: 0,
      worstConvergeMs: drainedStopMs,
      note: summary,
    });

    // Each drained stop waited for both watchers to apply the deletion, and none missed the bound.
    const drainedLogs = runLogs.slice(0, 3);
    for (const log of drainedLogs) {
      expect(log).toMatch(/deleted \/clusters\/web\/\S+ at revision \d+; waiting up to 20s/);
      expect(log).toMatch(/info: drain: waited \d+\.\d s for 2 watchers of web to apply revision \d+; applied: web: \S+ \(watch\) after \d+\.\d s, web: \S+ \(watch\) after/);
      expect(log).not.toMatch(/missed the bound/);
    }
    for (const log of runLogs.slice(3)) expect(log).not.toMatch(/waiting up to/);
    expect(drained.haproxy.ok).toBeGreaterThan(500);
    expect(drained.nginx.ok).toBeGreaterThan(500);
    expect(drained.haproxy.failed + drained.nginx.failed).toBe(0);
    // Proof the measurement can fail: the same restarts without the drain lose requests.
    expect(undrained.haproxy.failed + undrained.nginx.failed).toBeGreaterThan(0);
  }, 120_000);

  it("a frozen load-balancer watcher holds a draining backend's stop until it thaws, or until --drain-max passes (named in the log)", async () => {
    const frozen = watchers.haproxy!;
    const frozenId = new RegExp(`web: ${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${frozen.child.pid}:[0-9a-f]+ \\(watch\\)`);
    const b = backends[0]!;

    // Thaws after 3 s: the stop waits for it.
    frozen.child.kill('SIGSTOP');
    const sent = Date.now();
    b.proc.kill('SIGTERM');
    await b.proc.waitForLog(/deleted \/clusters\/web\/\S+ at revision \d+; waiting up to 20s/);
    await new Promise((r) => setTimeout(r, 3_000));
    // Still draining: run has not exited and the backend still answers (haproxy, frozen on the
    // old file, still sends it traffic).
    expect(b.proc.child.exitCode).toBeNull();
    expect((await post(`http://${b.name}/`)).status).toBe(200);
    const thawed = Date.now();
    frozen.child.kill('SIGCONT');
    const end = await b.proc.exited(20_000);
    const exited = Date.now();
    expect(end.code, end.stderr).toBe(0);
    console.log(`frozen watcher: SIGTERM → exit ${exited - sent} ms, of which ${exited - thawed} ms after the thaw`);
    expect(exited - thawed).toBeLessThan(5_000);
    const waited = /info: drain: waited (\d+\.\d) s for 2 watchers of web to apply revision \d+; applied: (.*)/.exec(end.stderr);
    expect(waited, end.stderr).not.toBeNull();
    expect(Number(waited![1])).toBeGreaterThanOrEqual(3);
    expect(waited![2]).toMatch(frozenId);
    expect(end.stderr).not.toMatch(/missed the bound/);

    // Stays frozen past --drain-max 2: the stop goes ahead after 2 s, naming the frozen watcher.
    await startBackend(b, ['--drain-max', '2', '--drain', '0']);
    frozen.child.kill('SIGSTOP');
    const sent2 = Date.now();
    b.proc.kill('SIGTERM');
    const end2 = await b.proc.exited(20_000);
    const took = Date.now() - sent2;
    frozen.child.kill('SIGCONT');
    expect(end2.code, end2.stderr).toBe(0);
    console.log(`frozen past --drain-max 2: SIGTERM → exit ${took} ms`);
    expect(took).toBeGreaterThanOrEqual(2_000);
    expect(took).toBeLessThan(6_000);
    const missed = / warn: drain: waited \d+\.\d s for 2 watchers of web to apply revision (\d+); .*missed the bound: (.*)/.exec(end2.stderr);
    expect(missed, end2.stderr).not.toBeNull();
    expect(missed![2]).toMatch(frozenId);
    expect(missed![2]).toMatch(/: applied \d+ < \d+/);
    await startBackend(b, DRAINED);
  }, 90_000);
});
