import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdConnection } from '@cluster-control/core';
import { parseMemberName } from '@cluster-control/core/model';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';
import { ETCDCTL_BIN, type EtcdServer, freePort, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { type Haproxy, haveHaproxy, startHaproxy } from '#test-support/haproxy.js';
import { haveNginx, startNginx, writeNginxMainConf } from '#test-support/nginx.js';
import { jsonRecipe, recipe } from '#test-support/recipes.js';
import type { ServerProcess } from '#test-support/server-process.js';
import { Churn, testClient } from './harness.js';
import { recordResult } from './results.js';

const run = promisify(execFile);

/*
 * Hostile registrants (README: Hostile or broken members: a bad member never stops the fleet).
 * Under continuous churn of valid members, someone with write access to the cluster prefix
 * registers:
 *
 *   - a member whose value is JSON nested 6,000 deep (it broke the json `objects` render),
 *   - a member at a denied address (169.254.169.254, the cloud metadata service),
 *   - `nonexistent-host.invalid:80` (it failed the real `nginx -t` and `haproxy -c` checks for everyone),
 *   - a member with `weight` 1,000,000 against a template looping `(1..m.meta.weight)`,
 *   - 200 values of 1.4 MB (280 MB under the prefix: more than gRPC's 256 MiB in one response),
 *   - 100,000 spellings of one member name (case and percent-encoding variants),
 *   - 20,000 meta flips of one (valid) member, while reload runs are counted.
 *
 * The watchers are the CLI as operators run it: `watch` with the json handler (`objects`), `watch`
 * with the README's nginx recipe (real `nginx -t` check) and with its haproxy recipe (real
 * `haproxy -c`), `run -- sleep` with a Liquid template cluster (checked with `haproxy -c`), and a
 * json `watch` started only after all of it is in etcd (its first read meets the whole mess).
 * A real nginx and a real haproxy (master-worker) serve the generated upstream and backend and are
 * reloaded with the README's reload recipes; every reload first appends a timestamp to a file, so
 * reload runs are counted against each cluster's reloadMinIntervalMs (nginx: 2000, the others the
 * default 1000). At the end neither server may have refused a reload.
 *
 * After each injection one "dead" member is deleted and the time until it leaves every file is
 * measured (the removal must install whatever the hostile members do). At the end, with churn
 * stopped, every file must list exactly etcd's good members (all keys under the prefix minus the
 * hostile ones; for the template cluster minus the runaway-weight member too, which only the
 * template cannot render), no hostile member may be in any file, each watcher's peak RSS must
 * stay under RSS_BOUND_MB, and each watcher's reload runs must stay within its rate limit.
 */
const PATH = '/faults/hostile';
const POOL = 41; // odd: see Churn
const DEAD = 8;
const OVERSIZE_COUNT = 200;
const OVERSIZE_BYTES = 1_400_000; // under etcd's default max request (1.5 MiB) with the key
const SPELLINGS = Number(process.env.HOSTILE_SPELLINGS ?? 100_000);
const SPELLINGS_PER_TXN = 1000; // etcd started with --max-txn-ops 1000
const FLIPS = Number(process.env.HOSTILE_FLIPS ?? 20_000);
const NESTING = 6000;
/** A dead (deleted) member leaves every file within this, even while the floods are processed. */
const DEAD_BOUND_MS = 15_000;
/** Peak RSS (VmHWM) of every watcher process. */
const RSS_BOUND_MB = 400;
/** Reload runs per watcher: at most lifetime / reloadMinIntervalMs + this. */
const RELOAD_SLACK = 2;

const NESTED = '10.33.0.1:80';
const DENIED = '169.254.169.254:80';
const UNRESOLVABLE = 'nonexistent-host.invalid:80';
const RUNAWAY = '10.66.0.1:80';
const FLIPPER = '10.44.0.1:80';
const CROWDED = '[fd00::abcd]:80';
const oversizeName = (i: number) => `10.22.${i >> 8}.${i & 255}:80`;
const deadName = (i: number) => `10.55.0.${i + 1}:80`;

// The minimal global/defaults a main haproxy.cfg has before the README's frontend (as in the haproxy integration test).
const MAIN_CFG = ['global', '    maxconn 256', '', 'defaults', '    mode http', '    timeout connect 5s', '    timeout client 30s', '    timeout server 30s', '', ''].join('\n');

/**
 * The README's template recipe with a "slot" comment per unit of weight (a poor man's weighting,
 * the kind of loop that once blocked the event loop for 20 s) and a `# member NAME` line per member,
 * so the test can read the file back.
 */
const TEMPLATE = `# Written by cluster-control from {{ cluster.path }} ({{ members.size }} member(s)); do not edit.
global
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend www
    bind {{ vars.bind }}
    default_backend {{ cluster.name }}

backend {{ cluster.name }}
    balance roundrobin
{%- for m in members %}
    # member {{ m.name }}
    server {{ m.name | remove: "[" | remove: "]" }} {{ m.host }}:{{ m.port | default: 80 }} weight {{ m.meta.weight | default: 1 | at_least: 0 | at_most: 256 }} check
{%- for i in (1..m.meta.weight) %}
    # slot {{ i }} of {{ m.name }}
{%- endfor %}
{%- endfor %}
`;

/**
 * The n-th spelling of `name`: every character literal, upper-cased, or percent-encoded (hex in
 * either case), chosen by the digits of n in a mixed radix. Spelling 0 is the name itself.
 */
function spelling(name: string, n: number): string {
  let out = '';
  let rest = n;
  for (const c of name) {
    const hex = c.charCodeAt(0).toString(16);
    const variants = /[a-z]/.test(c)
      ? [c, c.toUpperCase(), `%${hex}`, `%${c.toUpperCase().charCodeAt(0).toString(16)}`]
      : /[0-9]/.test(c)
        ? [c, `%${hex}`]
        : [c, `%${hex.toUpperCase()}`, `%${hex.toLowerCase()}`];
    out += variants[rest % variants.length];
    rest = Math.floor(rest / variants.length);
  }
  if (rest > 0) throw new Error(`${name} has fewer than ${n + 1} spellings`);
  return out;
}

/** Runs fn(0..n-1) with at most `parallel` in flight. */
async function inPool(n: number, parallel: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

type Kind = 'json' | 'nginx' | 'haproxy' | 'template';

/** The member names a file lists, read back from what each handler writes. */
function namesIn(kind: Kind, text: string): string[] {
  switch (kind) {
    case 'json': {
      const data = JSON.parse(text) as (string | { name: string })[];
      return data.map((m) => (typeof m === 'string' ? m : m.name));
    }
    case 'nginx':
      // `server 127.0.0.1:1 down;` is the placeholder of an empty upstream.
      return [...text.matchAll(/^\s*server\s+([^\s;]+)/gm)].map((m) => m[1]!).filter((n) => n !== '127.0.0.1:1');
    case 'haproxy':
      return [...text.matchAll(/^\s*server\s+\S+\s+(\S+)/gm)].map((m) => m[1]!);
    case 'template':
      return [...text.matchAll(/^\s*# member (\S+)$/gm)].map((m) => m[1]!);
  }
}

interface Target {
  /** Cluster name (and what the summary calls this watcher). */
  name: string;
  kind: Kind;
  file: string;
  reloadLog: string;
  reloadMinIntervalMs: number;
  proc?: CliProcess;
  startedAt?: number;
}

const sorted = (names: Iterable<string>) => [...names].sort();
const peakRssMb = async (pid: number) => {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)![1]) / 1024;
};

describe.skipIf(!haveEtcd || !haveNginx || !haveHaproxy)('15 hostile registrants', () => {
  let etcd: EtcdServer;
  let client: EtcdConnection | undefined;
  let churn: Churn | undefined;
  let dir: string | undefined;
  let nginx: ServerProcess | undefined;
  let haproxy: Haproxy | undefined;
  const procs: CliProcess[] = [];

  beforeAll(async () => {
    etcd = await startEtcd({ extraArgs: ['--max-txn-ops', String(SPELLINGS_PER_TXN)] });
    client = await testClient([etcd.endpoint]);
  });

  afterAll(async () => {
    await churn?.stop();
    // HOSTILE_LOGS=dir keeps every watcher's stderr, to read after a failure.
    if (process.env.HOSTILE_LOGS) {
      await mkdir(process.env.HOSTILE_LOGS, { recursive: true });
      for (const [i, p] of procs.entries())
        await writeFile(
          join(
            process.env.HOSTILE_LOGS,
            `${i}-${p.child.spawnargs
              .slice(-3)
              .join('-')
              .replace(/[^\w.-]/g, '_')}.log`,
          ),
          p.stderr(),
        );
    }
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        // SIGTERM first: `run` stops its child; a SIGKILLed `run` would leave it behind.
        p.kill('SIGTERM');
        await p.exited(15_000).catch(() => p.kill('SIGKILL'));
      }
    }
    await nginx?.stop();
    await haproxy?.stop();
    client?.close();
    await etcd?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('15 hostile registrants: every valid change lands, no hostile member in any file, RSS and reloads bounded', async () => {
    const scenarioStart = Date.now();
    dir = await tempDir('cc-fault-hostile-');
    const etc = dir;
    await mkdir(join(etc, 'nginx/cluster-control'), { recursive: true });
    await mkdir(join(etc, 'haproxy/cluster-control'), { recursive: true });
    const etcd3 = client!;
    const put = (name: string, value: string) => etcd3.put(`${PATH}/${name}`, value);
    const del = (name: string) => etcd3.delete(`${PATH}/${name}`);

    // --- the README's nginx and haproxy recipes, with /etc/nginx and /etc/haproxy in the temp dir ---
    await writeFile(join(etc, 'nginx/cluster-control/check.conf'), recipe('nginx-check-wrapper').replaceAll('/etc/nginx/', `${etc}/nginx/`));
    const nginxEntry = JSON.parse(JSON.stringify(jsonRecipe('nginx-config')).replaceAll('/etc/nginx/', `${etc}/nginx/`)) as { handlerConfig: { file: string }; check: string[]; reload: string };
    const nginxPort = await freePort();
    const site = join(etc, 'nginx/site.conf');
    await writeFile(site, recipe('nginx-site').replaceAll('/etc/nginx/', `${etc}/nginx/`).replace('    listen 80;\n', `    listen 127.0.0.1:${nginxPort};\n`));
    const nginxMain = await writeNginxMainConf(join(etc, 'nginx'), [site]);
    expect(nginxEntry.reload).toBe(`nginx -c ${nginxMain} -s reload`);
    const haproxyMain = join(etc, 'haproxy/haproxy.cfg');
    const haproxyEntry = JSON.parse(JSON.stringify(jsonRecipe('haproxy-config')).replaceAll('/etc/haproxy/', `${etc}/haproxy/`)) as {
      handlerConfig: { file: string; serverParams: unknown };
      check: string[];
    };
    const haproxyPort = await freePort();
    await writeFile(haproxyMain, MAIN_CFG + recipe('haproxy-frontend').replace('    bind :80\n', `    bind 127.0.0.1:${haproxyPort}\n`));
    const haproxyReload = join(etc, 'haproxy/cluster-control-haproxy-reload');
    await writeFile(haproxyReload, recipe('haproxy-reload'), { mode: 0o755 });
    const templateFile = join(etc, 'haproxy/template.cfg.liquid');
    await writeFile(templateFile, TEMPLATE);

    const targets: Target[] = [
      { name: 'json', kind: 'json', file: join(etc, 'json.json'), reloadLog: join(etc, 'json.reloads'), reloadMinIntervalMs: 1000 },
      // A non-default interval: the configuration's value must reach the watcher.
      { name: 'nginx', kind: 'nginx', file: nginxEntry.handlerConfig.file, reloadLog: join(etc, 'nginx.reloads'), reloadMinIntervalMs: 2000 },
      { name: 'haproxy', kind: 'haproxy', file: haproxyEntry.handlerConfig.file, reloadLog: join(etc, 'haproxy.reloads'), reloadMinIntervalMs: 1000 },
      { name: 'tpl', kind: 'template', file: join(etc, 'haproxy/tpl.cfg'), reloadLog: join(etc, 'tpl.reloads'), reloadMinIntervalMs: 1000 },
      { name: 'late', kind: 'json', file: join(etc, 'late.json'), reloadLog: join(etc, 'late.reloads'), reloadMinIntervalMs: 1000 },
    ];
    const byName = (name: string) => targets.find((t) => t.name === name)!;
    // Every reload logs its start, then runs the real one where there is a real server (the recipes' reloads).
    const realReload: Record<string, string[]> = {
      nginx: nginxEntry.reload.split(' '),
      // Given the pid file of the haproxy started below (instead of Debian's /run/haproxy.pid).
      haproxy: [haproxyReload, '/run/haproxy.pid'],
    };
    const reloadCmd = (t: Target) => ['sh', '-c', 'date +%s%3N >> "$0"; [ $# -eq 0 ] || exec "$@"', t.reloadLog, ...(realReload[t.name] ?? [])];
    // `resolve: true` for the json files too: their readers (like the balancers, which have a check
    // and so resolve by default) connect to every member, so a name that does not resolve is bad.
    const common = (t: Target) => ({ name: t.name, path: PATH, reload: reloadCmd(t), reloadMinIntervalMs: t.reloadMinIntervalMs, members: { resolve: true } });
    const metricsPort = await freePort();
    const conf = join(etc, 'cluster-control.conf');
    const writeConf = () =>
      writeJson(conf, {
        etcd: { endpoints: [etcd.endpoint], timeoutMs: 5000 },
        clusters: [
          { ...common(byName('json')), handler: 'json', handlerConfig: { file: byName('json').file, format: 'objects' } },
          // The site recipe proxies to upstream `web` (the recipe's cluster name).
          { ...common(byName('nginx')), handler: 'nginx', handlerConfig: { ...nginxEntry.handlerConfig, upstream: 'web' }, check: nginxEntry.check },
          // The recipe's frontend sends traffic to backend `web` (the recipe's cluster name).
          { ...common(byName('haproxy')), handler: 'haproxy', handlerConfig: { ...haproxyEntry.handlerConfig, backend: 'web' }, check: haproxyEntry.check },
          { ...common(byName('late')), handler: 'json', handlerConfig: byName('late').file },
        ],
      });
    await writeConf();
    // `run` reads every cluster of its configuration: the template cluster has a file of its own.
    const runConf = await writeJson(join(etc, 'run.conf'), {
      etcd: { endpoints: [etcd.endpoint], timeoutMs: 5000 },
      clusters: [
        {
          ...common(byName('tpl')),
          handler: 'template',
          handlerConfig: { file: byName('tpl').file, templateFile, vars: { bind: `127.0.0.1:${await freePort()}` } },
          check: ['/usr/sbin/haproxy', '-c', '-q', '-f', '{src}'],
        },
      ],
    });
    const startWatch = async (t: Target) => {
      t.startedAt = Date.now();
      t.proc = spawnCli(['--conf', conf, 'watch', t.name, '0']);
      procs.push(t.proc);
      await t.proc.waitForLog(/in sync at revision/, 120_000);
    };

    // --- valid members, churn, and the watchers ---
    for (let i = 0; i < DEAD; i++) await put(deadName(i), '{}');
    await put(FLIPPER, JSON.stringify({ weight: 1 }));
    churn = new Churn(etcd3, PATH, { intervalMs: 50, poolSize: POOL, subnet: 15 }).start();
    // The real servers load the generated files: `prepare` writes them first, as the README says.
    for (const n of ['nginx', 'haproxy']) {
      const prepared = await runCli(['--conf', conf, 'prepare', n]);
      expect(prepared.code, prepared.stderr).toBe(0);
    }
    nginx = await startNginx({ confFile: nginxMain, port: nginxPort });
    haproxy = await startHaproxy({ configFiles: [haproxyMain, byName('haproxy').file], port: haproxyPort });
    realReload.haproxy = [haproxyReload, haproxy.pidFile];
    await writeConf();
    await Promise.all(['json', 'nginx', 'haproxy'].map((n) => startWatch(byName(n))));
    const tpl = byName('tpl');
    tpl.startedAt = Date.now();
    tpl.proc = spawnCli(['--conf', runConf, 'run', '--metrics', `127.0.0.1:${metricsPort}`, '--', 'sleep', '1000']);
    procs.push(tpl.proc);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status === 200, { timeoutMs: 30_000, what: `run to be ready; stderr: ${tpl.proc.stderr()}` }).catch(
      (err: unknown) => {
        throw new Error(`${String(err)}\n${tpl.proc!.stderr().slice(-3000)}`);
      },
    );
    const live = () => targets.filter((t) => t.proc);

    const hostileKeys = new Set<string>();
    const hostileNames = new Set<string>();
    /** Keys only the template cannot render: members of the other clusters' files. */
    const templateOnly = new Set<string>([`${PATH}/${RUNAWAY}`]);
    const hostile = async (name: string, value: string) => {
      hostileKeys.add(`${PATH}/${name}`);
      hostileNames.add(parseNameOf(name));
      await put(name, value);
    };

    const files = async (t: Target) => namesIn(t.kind, await readFile(t.file, 'utf8'));
    const problems = (t: Target) => `${t.name} stderr:\n${t.proc!.stderr().slice(-3000)}`;

    // --- dead members: deleted after each injection; each must leave every file ---
    let deadIndex = 0;
    const deadMs: Record<string, number> = {};
    const killDead = async (phase: string) => {
      const name = deadName(deadIndex++);
      await del(name);
      const from = Date.now();
      await Promise.all(
        live().map((t) =>
          waitFor(async () => !(await files(t)).includes(name), { timeoutMs: DEAD_BOUND_MS * 2, intervalMs: 20, what: `dead member ${name} (${phase}) to leave ${t.file}` }).catch((err: unknown) => {
            throw new Error(`${String(err)}\n${problems(t)}`);
          }),
        ),
      );
      deadMs[phase] = Date.now() - from;
    };

    await new Promise((r) => setTimeout(r, 1500)); // normal operation under churn
    const timings: Record<string, number> = {};
    const timed = async (phase: string, fn: () => Promise<unknown>) => {
      const t0 = Date.now();
      await fn();
      timings[phase] = Date.now() - t0;
    };

    // 1. JSON nested 6,000 deep (under valueBytes: caught by metaDepth).
    await timed('nested', () => hostile(NESTED, '{"a":'.repeat(NESTING) + '1' + '}'.repeat(NESTING)));
    await killDead('nested');
    // 2. The metadata service's address.
    await timed('denied', () => hostile(DENIED, '{}'));
    await killDead('denied');
    // 3. A host name that does not resolve (nginx -t and haproxy -c would refuse the file).
    await timed('unresolvable', () => hostile(UNRESOLVABLE, '{}'));
    await killDead('unresolvable');
    // 4. A weight at the top of the allowed range: the template's loop can't render it in time.
    await timed('runaway', () => put(RUNAWAY, JSON.stringify({ weight: 1_000_000 })));
    await killDead('runaway');
    // 5. 200 values of 1.4 MB; a dead member is deleted while they are being put.
    const big = JSON.stringify({ pad: 'x'.repeat(OVERSIZE_BYTES - 10) });
    for (let i = 0; i < OVERSIZE_COUNT; i++) {
      hostileKeys.add(`${PATH}/${oversizeName(i)}`);
      hostileNames.add(oversizeName(i));
    }
    await timed('oversize', () => Promise.all([inPool(OVERSIZE_COUNT, 4, (i) => put(oversizeName(i), big)), new Promise((r) => setTimeout(r, 1000)).then(() => killDead('during oversize'))]));
    await killDead('oversize');
    // 6. 100,000 spellings of one name, in transactions of 1,000 puts.
    hostileNames.add(CROWDED);
    const spellings = Array.from({ length: SPELLINGS }, (_, i) => `${PATH}/${spelling(CROWDED, i)}`);
    for (const k of spellings) hostileKeys.add(k);
    expect(new Set(spellings.map((k) => parseNameOf(k.slice(PATH.length + 1)))).size).toBe(1);
    const txn = (keys: string[]) =>
      new Promise<void>((resolve, reject) => {
        const child = execFile(ETCDCTL_BIN, [`--endpoints=${etcd.endpoint}`, 'txn'], { env: { ...process.env, ETCDCTL_API: '3' } }, (err, _out, stderr) =>
          err ? reject(new Error(`etcdctl txn: ${stderr || err.message}`)) : resolve(),
        );
        // etcdctl txn reads: compares (none), a blank line, the puts, a blank line, failure requests (none), a blank line.
        child.stdin!.end(`\n${keys.map((k) => `put "${k}" "{}"`).join('\n')}\n\n\n`);
      });
    await timed('spellings', () =>
      Promise.all([
        inPool(Math.ceil(SPELLINGS / SPELLINGS_PER_TXN), 2, (b) => txn(spellings.slice(b * SPELLINGS_PER_TXN, (b + 1) * SPELLINGS_PER_TXN))),
        new Promise((r) => setTimeout(r, 1000)).then(() => killDead('during spellings')),
      ]),
    );
    await killDead('spellings');
    // 7. 20,000 meta flips of one valid member; the last one (weight 7) must land.
    const reloadsBeforeFlips = await Promise.all(live().map(async (t) => (await reloadTimes(t)).length));
    await timed('flips', async () => {
      await Promise.all([inPool(FLIPS - 1, 16, (i) => put(FLIPPER, JSON.stringify({ weight: 1 + (i % 9), n: i }))), new Promise((r) => setTimeout(r, 1000)).then(() => killDead('during flips'))]);
      await put(FLIPPER, JSON.stringify({ weight: 7, n: FLIPS }));
    });
    const flipReloads = (await Promise.all(live().map(async (t) => (await reloadTimes(t)).length))).map((n, i) => n - reloadsBeforeFlips[i]!);

    // --- a watcher that starts now: its first read is the whole hostile prefix ---
    const late = byName('late');
    await timed('late watcher in sync', () => startWatch(late));

    // --- settle and compare ---
    await churn.stop();
    const settled = Date.now();
    const keys = await listKeys(etcd.endpoint, PATH);
    const goodKeys = keys.filter((k) => !hostileKeys.has(k));
    const expected = (t: Target) => sorted(new Set(goodKeys.filter((k) => t.kind !== 'template' || !templateOnly.has(k)).map((k) => parseNameOf(k.slice(PATH.length + 1)))));
    let lost = 0;
    await Promise.all(
      live().map((t) =>
        waitFor(async () => JSON.stringify(sorted(await files(t))) === JSON.stringify(expected(t)), { timeoutMs: 60_000, intervalMs: 50, what: `${t.file} to list etcd's good members` }).catch(
          async (err: unknown) => {
            const have = new Set(await files(t));
            const want = new Set(expected(t));
            throw new Error(`${String(err)}\nmissing: ${[...want].filter((n) => !have.has(n)).join(' ')}\nextra: ${[...have].filter((n) => !want.has(n)).join(' ')}\n${problems(t)}`);
          },
        ),
      ),
    );
    const convergeMs = Date.now() - settled;
    for (const t of live()) {
      const have = new Set(await files(t));
      const want = new Set(expected(t));
      for (const n of want) if (!have.has(n)) lost++;
      for (const n of have) if (!want.has(n)) lost++;
      // No hostile member in any file; the runaway member in every file but the template's.
      for (const n of hostileNames) expect(have.has(n), `${n} in ${t.file}`).toBe(false);
      expect(have.has(RUNAWAY), `${RUNAWAY} in ${t.file}`).toBe(t.kind !== 'template');
      expect(have.has(FLIPPER)).toBe(true);
    }
    // The last flip landed (weight 7) wherever meta reaches the file.
    expect(await readFile(byName('nginx').file, 'utf8')).toMatch(new RegExp(`server ${FLIPPER} weight=7[ ;]`));
    expect(await readFile(byName('haproxy').file, 'utf8')).toMatch(new RegExp(`server \\S+ ${FLIPPER} .*weight 7`));
    const tplText = await readFile(tpl.file, 'utf8');
    expect(tplText.split('\n').filter((l) => l.includes(`of ${FLIPPER}`))).toHaveLength(7);
    expect(JSON.parse(await readFile(byName('json').file, 'utf8'))).toContainEqual(expect.objectContaining({ name: FLIPPER, meta: { weight: 7, n: FLIPS } }));

    // Each hostile member is logged once per watcher, with its kind.
    const logged = (t: Target, name: string, kind: string) =>
      t
        .proc!.stderr()
        .split('\n')
        .filter((l) => l.includes(`member ${name} quarantined (${kind})`)).length;
    for (const t of live()) {
      expect(logged(t, NESTED, 'limits'), `${t.name}: ${NESTED} logged once`).toBe(1);
      expect(logged(t, DENIED, 'address'), `${t.name}: ${DENIED} logged once`).toBe(1);
      expect(logged(t, UNRESOLVABLE, 'unresolved'), `${t.name}: ${UNRESOLVABLE} logged once`).toBe(1);
      expect(logged(t, CROWDED, 'limits'), `${t.name}: ${CROWDED} logged once`).toBe(1);
      expect(logged(t, oversizeName(0), 'limits'), `${t.name}: ${oversizeName(0)} logged once`).toBe(1);
      expect(t.proc!.child.exitCode, `${t.name} still running`).toBeNull();
    }
    expect(logged(tpl, RUNAWAY, 'render'), `the runaway member logged once by the template cluster`).toBe(1);

    // Metrics of `run`: the gauge and the counters by kind.
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const sample = (name: string, labels: string) => Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
    const hostileCount = 4 + OVERSIZE_COUNT + 1; // nested, denied, unresolvable, crowded; oversize; the runaway
    expect(sample('cluster_control_quarantined_members', 'cluster="tpl"')).toBe(hostileCount);
    expect(sample('cluster_control_quarantines_total', 'cluster="tpl",kind="limits"')).toBeGreaterThanOrEqual(2 + OVERSIZE_COUNT);
    for (const kind of ['address', 'unresolved', 'render']) expect(sample('cluster_control_quarantines_total', `cluster="tpl",kind="${kind}"`), kind).toBeGreaterThanOrEqual(1);

    // `members --json` shows them (a read of the whole prefix, in pages).
    const membersStarted = Date.now();
    const shown = await runCli(['--conf', runConf, 'members', 'tpl', '--json'], { timeoutMs: 120_000 });
    const membersMs = Date.now() - membersStarted;
    expect(shown.code, shown.stderr).toBe(0);
    const listing = JSON.parse(shown.stdout) as { members: { name: string }[]; quarantined: { name: string; key: string; kind: string; reason: string }[] };
    expect(sorted(listing.members.map((m) => m.name))).toEqual(expected(tpl));
    const kindOf = new Map(listing.quarantined.map((q) => [q.name, q.kind]));
    expect(Object.fromEntries([NESTED, DENIED, UNRESOLVABLE, CROWDED, oversizeName(OVERSIZE_COUNT - 1), RUNAWAY].map((n) => [n, kindOf.get(n)]))).toEqual({
      [NESTED]: 'limits',
      [DENIED]: 'address',
      [UNRESOLVABLE]: 'unresolved',
      [CROWDED]: 'limits',
      [oversizeName(OVERSIZE_COUNT - 1)]: 'limits',
      [RUNAWAY]: 'render',
    });
    expect(listing.quarantined).toHaveLength(hostileCount);

    // --- reloads: within the rate limit, and the last change reloaded ---
    await new Promise((r) => setTimeout(r, 2500)); // the longest interval plus a margin: a pending reload runs
    const ended = Date.now();
    const reloadNotes: string[] = [];
    const reloads: { t: Target; times: number[]; lifetime: number; bound: number; lastWrite: number }[] = [];
    for (const t of live()) {
      const times = await reloadTimes(t);
      const lifetime = ended - t.startedAt!;
      const bound = Math.floor(lifetime / t.reloadMinIntervalMs) + RELOAD_SLACK;
      const gaps = times.slice(1).map((x, i) => x - times[i]!);
      const minGap = gaps.length > 0 ? Math.min(...gaps) : Infinity;
      reloadNotes.push(`${t.name} ${times.length} in ${Math.round(lifetime / 1000)} s (bound ${bound}, min gap ${minGap} ms)`);
      reloads.push({ t, times, lifetime, bound, lastWrite: Math.floor((await stat(t.file)).mtimeMs) });
    }

    // --- peak RSS of every watcher process ---
    const rss: Record<string, number> = {};
    for (const t of live()) rss[t.name] = Math.round(await peakRssMb(t.proc!.child.pid!));

    // --- the real servers: every reload they were given loaded ---
    const nginxReconfigured = (nginx.output().match(/signal 1 \(SIGHUP\) received/g) ?? []).length;
    const haproxyLoads = haproxy.loads();

    const hostilePuts = 4 + OVERSIZE_COUNT + SPELLINGS;
    const scenarioMs = Date.now() - scenarioStart;
    const worstDead = Math.max(...Object.values(deadMs));
    recordResult({
      scenario: `15 hostile registrants (${SPELLINGS} spellings, ${FLIPS} flips)`,
      runs: 7,
      changesMade: churn.made + DEAD + FLIPS + hostilePuts,
      changesLost: lost,
      falseExpiries: 0,
      worstConvergeMs: Math.max(convergeMs, worstDead),
      note: [
        `churn ${churn.made}, ${hostilePuts} hostile puts, ${FLIPS} flips, ${DEAD} dead`,
        `put times ${Object.entries(timings)
          .map(([k, v]) => `${k} ${v} ms`)
          .join(', ')}`,
        `dead member out of every file: ${Object.entries(deadMs)
          .map(([k, v]) => `${k} ${v} ms`)
          .join(', ')} (bound ${DEAD_BOUND_MS} ms)`,
        `converged ${convergeMs} ms after churn stopped`,
        `peak RSS MB ${Object.entries(rss)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')} (bound ${RSS_BOUND_MB})`,
        `reloads ${reloadNotes.join(', ')}; during the flips ${flipReloads.join('/')}`,
        `real nginx reconfigured ${nginxReconfigured} times, haproxy loaded ${haproxyLoads} times, no load failed`,
        `members --json ${membersMs} ms`,
        `scenario ${Math.round(scenarioMs / 1000)} s`,
      ].join('; '),
    });
    process.stdout.write(`hostile registrants: ${JSON.stringify({ timings, deadMs, convergeMs, rss, reloadNotes, flipReloads, membersMs, scenarioMs, churn: churn.made })}\n`);
    expect(lost).toBe(0);
    for (const [phase, ms] of Object.entries(deadMs)) expect(ms, `dead member (${phase}) out of every file`).toBeLessThanOrEqual(DEAD_BOUND_MS);
    for (const { t, times, lifetime, bound, lastWrite } of reloads) {
      expect(times.length, `${t.name}: ${times.length} reload runs in ${lifetime} ms with reloadMinIntervalMs ${t.reloadMinIntervalMs}`).toBeLessThanOrEqual(bound);
      expect(times.length, `${t.name} reloaded at least once`).toBeGreaterThan(0);
      // The last replacement was followed by a reload.
      expect(times.at(-1)!, `${t.name}: last reload after the last write`).toBeGreaterThanOrEqual(lastWrite);
    }
    for (const t of live()) expect(t.proc!.stderr(), `${t.name}: failed reloads`).not.toMatch(/reload for cluster \S+ (exited|failed|timed out)/);
    expect(nginx.child.exitCode).toBeNull();
    expect(nginx.output()).not.toMatch(/\[emerg\]/);
    expect(nginxReconfigured).toBeGreaterThan(0);
    expect(haproxy.server.child.exitCode).toBeNull();
    expect(haproxy.server.output()).not.toMatch(/Loading failure!/);
    expect(haproxyLoads).toBeGreaterThan(1);

    tpl.proc.kill('SIGTERM');
    expect((await tpl.proc.exited(20_000)).code).toBe(0);
    for (const [name, mb] of Object.entries(rss)) expect(mb, `${name} peak RSS ${mb} MB`).toBeLessThan(RSS_BOUND_MB);
  });
});

/** The canonical member name a key's last segment spells (throws if it spells none). */
function parseNameOf(segment: string): string {
  const parsed = parseMemberName(segment);
  if (!parsed.ok) throw new Error(`${segment}: ${parsed.reason}`);
  return parsed.name;
}

/** The keys under `path/` (keys only: the values are 280 MB), with etcdctl. */
async function listKeys(endpoint: string, path: string): Promise<string[]> {
  const { stdout } = await run(ETCDCTL_BIN, [`--endpoints=${endpoint}`, 'get', `${path}/`, '--prefix', '--keys-only'], {
    env: { ...process.env, ETCDCTL_API: '3' },
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout.split('\n').filter((l) => l.startsWith(`${path}/`));
}

/** The reload runs a target's reload command logged (ms timestamps). */
async function reloadTimes(t: Target): Promise<number[]> {
  return (await readFile(t.reloadLog, 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);
}
