#!/usr/bin/env node
// @ts-check
// `npm run demo`: the three-tier demo of cluster-control, the PHP version's demo without Docker.
// A load balancer (apps/demo-lb) asks every web server (apps/demo-web), which asks every database
// (apps/demo-db) for its id; each tier finds the next through etcd with cluster-control. This runner
// starts etcd (unless CLUSTER_CONTROL_ETCD is set), 1 lb, 3 web servers and 2 databases, then plays
// the PHP demo's script and prints the LB's report after each step, with how long the cluster took
// to converge. The cluster itself is demo/cluster.mjs.
//
// Plain Node 20 ESM. Run `node demo/run.mjs --help` for the options.

import { parseArgs } from 'node:util';
import { DEFAULT_BOUND_MS, DemoCluster, DemoError, Interrupted } from './cluster.mjs';

/** @typedef {import('./cluster.mjs').DemoApp} DemoApp */

const USAGE = `Usage: node demo/run.mjs [--ttl N] [--keep] [--help]

The three-tier demo: a load balancer (127.0.0.10), web servers (127.0.0.21..) and databases
(127.0.0.31..), each a real process that registers itself in etcd and watches the next tier with
cluster-control. Starts 1 lb, 3 web servers and 2 databases, then:
  1. prints the first report
  2. adds a database
  3. removes a web server cleanly (deletes its key in etcd: it exits 0 by itself)
  4. kills a web server with SIGKILL (it disappears when its lease expires, after the TTL)
  5. shuts everything down (SIGTERM: every process exits 0, no keys left)
After each step it waits until the LB lists exactly the live web servers, each reporting exactly
the live databases, and prints the LB's report (GET /report.txt) and how long that took. Alongside,
it times the same convergence as cluster-control itself sees it: \`cluster-control status <cluster>
--wait --revision R --expect N --timeout 20\` (the built CLI) for each cluster the step changed,
R being the step's change in etcd; it exits 0 once every live watcher reports R applied (and
reloaded) with none ERROR. The page (--keep) shows those watchers live in its fleet table.

Options:
  --ttl N   registration lease TTL in whole seconds, >= 2 (default 5)
  --keep    after the first report, leave the cluster running, print the page's URL and wait
            for Ctrl-C, then clean up
  --help    show this help

Environment:
  CLUSTER_CONTROL_ETCD  comma-separated etcd endpoints (http://127.0.0.1:2379) to use instead of
                        starting /usr/bin/etcd on free loopback ports with a temporary data dir

Exit status: 0 every step converged, 1 a step failed (after cleaning up), 2 bad usage, 130 interrupted.
Bounds: ${DEFAULT_BOUND_MS / 1000} s per step, TTL + 10 s for the kill step.`;

// ---------------------------------------------------------------------------------------------
// Output

const indent = (text) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `        ${l}`)
    .join('\n');
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

const fmtMs = (ms) => `${String(ms).padStart(5)} ms`;
/** --timeout of every `status --wait` (the CLI's, seconds). */
const FLEET_TIMEOUT_S = 20;

class Runner {
  constructor(options, signal) {
    this.options = options;
    this.cluster = new DemoCluster({ ttl: options.ttl, signal });
    this.step = 0;
    this.label = '';
  }

  /** Where the demo is, for error messages. */
  get where() {
    return this.step === 0 ? 'start-up' : `step ${this.step} (${this.label})`;
  }

  begin(label) {
    this.step += 1;
    this.label = label;
  }

  /** Prints the step's line with its convergence time, the status --wait timings, then the LB's text report. */
  async print(ms, detail = '', fleet = []) {
    const head = `step ${this.step}  ${this.label}`;
    console.log(`\n${head.padEnd(62)} converged in ${fmtMs(ms)}${detail ? `\n        ${detail}` : ''}`);
    for (const f of fleet) {
      const what = `status ${f.cluster} --wait (${plural(f.watchers.length, 'watcher')} ${[...new Set(f.watchers.map((w) => w.state))].join('/') || '-'}, rev ${f.revision})`;
      console.log(`        ${what.padEnd(54)} exit 0 at ${fmtMs(f.atMs)}   (the command ran ${f.ms} ms)`);
    }
    console.log(indent(await this.cluster.reportText()));
  }

  /**
   * \`cluster-control status <cluster> --wait --revision R --expect N\` for each of \`specs\`
   * ({ cluster, revision: bigint or a promise of one, expect }), each started as soon as its R is
   * known (so it runs alongside the end-to-end wait), timed from \`since\` like the step. Throws a
   * DemoError naming who held it up when one exits non-zero.
   */
  async fleetWait(specs, since = this.cluster.lastChangeAt) {
    return Promise.all(
      specs.map(async ({ cluster, revision, expect }) => {
        const r = await revision;
        const out = await this.cluster.statusWait(cluster, { revision: r, expect, timeoutS: FLEET_TIMEOUT_S });
        const atMs = Math.round(performance.now() - since);
        if (out.code !== 0) {
          throw new DemoError(
            `cluster-control status ${cluster} --wait --revision ${r}${expect !== undefined ? ` --expect ${expect}` : ''} exited ${out.code} after ${out.ms} ms:\n${(out.stderr || out.stdout).trimEnd()}`,
          );
        }
        return { cluster, revision: r, expect, atMs, ...out };
      }),
    );
  }

  /** Runs the step's end-to-end wait and its fleet waits together; both must succeed. */
  async converge(waitArgs, specs, since) {
    const fleet = this.fleetWait(specs, since);
    fleet.catch(() => {}); // awaited below; a failure of the end-to-end wait wins
    const ms = await this.cluster.waitConverged(waitArgs);
    return { ms, fleet: await fleet };
  }

  async startUp() {
    const c = this.cluster;
    const t0 = performance.now();
    await c.start({ webs: 3, dbs: 2 });
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const etcd = c.externalEtcd ? `${c.endpoints.join(',')} (CLUSTER_CONTROL_ETCD)` : `${c.endpoints[0]} (own, temp data dir)`;
    console.log(`etcd      ${etcd}`);
    console.log(`prefix    ${c.prefix}   ttl ${c.ttl} s`);
    console.log(`started   in ${secs} s: lb ${/** @type {DemoApp} */ (c.lb).memberName}`);
    console.log(
      `          web ${c
        .liveWebs()
        .map((w) => w.name)
        .join('  ')}`,
    );
    console.log(
      `          db  ${c
        .liveDbs()
        .map((d) => `${d.id}=${d.name}`)
        .join('  ')}`,
    );
    console.log(`page      ${c.pageUrl}`);
    // What a `status` run costs here without waiting (node start-up, config, two reads): the floor
    // of every `status --wait` time below.
    const floor = await c.statusWait('webservers', { wait: false });
    console.log(`status    \`cluster-control status webservers --json\` (no --wait) ran ${floor.ms} ms: the floor of the --wait times below`);
  }

  /** 1. The first report, timed from the launch of the apps. */
  async firstReport() {
    const c = this.cluster;
    this.begin('first report: 1 lb, 3 web, 2 db');
    const { ms, fleet } = await this.converge({ webs: 3, dbs: 2 }, [
      { cluster: 'webservers', revision: c.newestRevision('webserver'), expect: 1 },
      { cluster: 'dbservers', revision: c.newestRevision('dbserver'), expect: 3 },
    ]);
    await this.print(ms, 'timed from the launch of the apps', fleet);
  }

  /** 2. A third database joins: every web server must pick it up. */
  async addDatabase() {
    this.begin('add a database');
    const c = this.cluster;
    const db = await c.addDb();
    this.label = `add a database: ${db.id} (${db.name})`;
    const { ms, fleet } = await this.converge({ webs: 3, dbs: 3 }, [{ cluster: 'dbservers', revision: c.newestRevision('dbserver'), expect: 3 }]);
    await this.print(ms, 'timed from its registration', fleet);
  }

  /** 3. An operator deletes web server 2's key: it must exit 0 by itself and leave the LB. */
  async removeWebServer() {
    const c = this.cluster;
    this.begin(`remove web server ${c.webName(2)} (delete its key)`);
    const since = performance.now();
    const fleet = this.fleetWait([{ cluster: 'webservers', revision: c.deletedAt(/** @type {DemoApp} */ (c.webs.get(2)).key), expect: 1 }], since);
    fleet.catch(() => {});
    const { exitMs } = await c.removeWeb(2);
    const ms = await c.waitConverged({ webs: 2, dbs: 3 });
    await this.print(ms, `it exited 0 by itself ${exitMs} ms after its key was deleted`, await fleet);
  }

  /** 4. Web server 3 crashes: the LB drops it once its lease expires. */
  async killWebServer() {
    const c = this.cluster;
    this.begin(`kill web server ${c.webName(3)} (SIGKILL)`);
    const key = /** @type {DemoApp} */ (c.webs.get(3)).key;
    await c.killWeb(3);
    const { ms, fleet } = await this.converge({ webs: 1, dbs: 3, timeoutMs: (c.ttl + 10) * 1000 }, [
      { cluster: 'webservers', revision: c.deletedAt(key, { timeoutMs: (c.ttl + 10) * 1000 }), expect: 1 },
    ]);
    await this.print(ms, `its key went with its lease: ttl ${c.ttl} s, the last keep-alive up to ttl/3 before the kill`, fleet);
  }

  /** 5. SIGTERM everything; nothing may be left. */
  async shutDown() {
    const c = this.cluster;
    this.begin('shut down (SIGTERM)');
    const since = performance.now();
    // The load balancer (still running) must apply every web server's deregistration.
    const webKeys = c.liveWebs().map((w) => /** @type {DemoApp} */ (c.webs.get(w.n)).key);
    const revision = Promise.all(webKeys.map((k) => c.deletedAt(k))).then((rs) => rs.reduce((a, b) => (a > b ? a : b), 0n));
    const fleet = this.fleetWait([{ cluster: 'webservers', revision, expect: 1 }], since);
    fleet.catch(() => {});
    const { webs, dbs } = await c.stopWebsAndDbs();
    const ms = await c.waitConverged({ webs: 0, dbs: 0 });
    await this.print(ms, `${plural(webs, 'web server')} and ${plural(dbs, 'database')} exited 0, deregistered`, await fleet);
    const { exitedZero, killedOnPurpose } = await c.shutdown();
    console.log(`        then the lb${c.externalEtcd ? '' : ' and etcd'}: ${exitedZero} apps exited 0 (and ${killedOnPurpose} SIGKILLed on purpose),`);
    console.log(`        no keys left under ${c.prefix}/, no processes left, ${c.externalEtcd ? 'etcd untouched' : 'etcd stopped'}, temp dirs removed`);
  }

  /** --keep: leave the cluster running until Ctrl-C (`stopped` resolves). */
  async keepRunning(stopped) {
    const c = this.cluster;
    const ctl = `ETCDCTL_API=3 etcdctl --endpoints=${c.endpoints.join(',')}`;
    console.log(`\n--keep: the cluster is running; press Ctrl-C to stop it and clean up`);
    console.log(`  page     ${c.pageUrl}`);
    console.log(`  report   curl ${c.pageUrl}report.txt`);
    console.log(`  keys     ${ctl} get --prefix ${c.prefix}/ --keys-only`);
    console.log(`  remove   ${ctl} del ${c.prefix}/webserver/${c.webName(1)}`);
    // From here a process exiting (say, a web server whose key was deleted by hand) is news.
    let stopping = false;
    for (const app of c.apps) {
      app.expectExit = true;
      void app.exited.then((r) => !stopping && console.log(`  ${app.name} exited (${r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`})`));
    }
    await stopped;
    stopping = true;
    console.log('stopping...');
    const { exitedZero, killedOnPurpose } = await c.shutdown();
    console.log(
      `${exitedZero} apps exited 0${killedOnPurpose ? ` (${killedOnPurpose} SIGKILLed)` : ''}, no keys or processes left, ${c.externalEtcd ? 'etcd untouched' : 'etcd stopped'}, temp dirs removed`,
    );
  }

  async run(stopped) {
    await this.startUp();
    await this.firstReport();
    if (this.options.keep) return this.keepRunning(stopped);
    await this.addDatabase();
    await this.removeWebServer();
    await this.killWebServer();
    await this.shutDown();
  }
}

// ---------------------------------------------------------------------------------------------
// Main

/** @param {string[]} argv */
function parseOptions(argv) {
  /** @type {(message: string) => never} */
  const fail = (message) => {
    process.stderr.write(`demo: ${message}\n(run with --help for usage)\n`);
    process.exit(2);
  };
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { ttl: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    fail(/** @type {Error} */ (err).message);
  }
  const ttl = values.ttl === undefined ? 5 : Number(values.ttl);
  // cluster-control's own minimum: a lease needs room for keep-alives inside it.
  if (!/^\d+$/.test(values.ttl ?? '5') || ttl < 2) fail(`--ttl: expected whole seconds >= 2, got ${JSON.stringify(values.ttl)}`);
  return { ttl, keep: values.keep ?? false, help: values.help ?? false };
}

function printFailure(runner, err) {
  if (!(err instanceof DemoError)) {
    console.error(`\ndemo FAILED at ${runner.where}: unexpected error: ${err?.stack ?? err}`);
    return;
  }
  console.error(`\ndemo FAILED at ${runner.where}: ${err.message}`);
  for (const proc of err.procs) console.error(`--- stderr of ${proc.name} (last lines) ---\n${proc.stderrTail()}`);
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const abort = new AbortController();
  let onStop;
  const stopped = new Promise((res) => (onStop = res));
  const handle = (sig) => {
    if (abort.signal.aborted) {
      // Second signal: give up on a clean shutdown; the cluster's exit hook SIGKILLs what is left.
      process.stderr.write(`${sig} again: killing everything\n`);
      process.exit(130);
    }
    abort.abort();
    onStop();
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);

  console.log(`cluster-control demo: load balancer -> web servers -> databases, through etcd`);
  const runner = new Runner(options, abort.signal);
  try {
    await runner.run(stopped);
    if (!options.keep)
      console.log(`\ndemo passed: ${runner.step} steps converged, each also by \`cluster-control status --wait\` (bounds: ${DEFAULT_BOUND_MS / 1000} s a step, ${options.ttl + 10} s for the kill)`);
    return 0;
  } catch (err) {
    const interrupted = err instanceof Interrupted;
    if (interrupted) console.error(`\ninterrupted during ${runner.where}; cleaning up`);
    else printFailure(runner, err);
    try {
      await runner.cluster.shutdown({ verify: false });
      console.error('cleaned up: processes stopped, temp dirs removed');
    } catch (cleanupErr) {
      console.error(`cleanup failed too: ${/** @type {any} */ (cleanupErr)?.message ?? cleanupErr}`);
    }
    return interrupted ? 130 : 1;
  }
}

// Exit explicitly: a lingering keep-alive socket (fetch, gRPC) must not hold the demo open.
process.exit(await main());
