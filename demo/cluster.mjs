// @ts-check
// The three-tier demo cluster (apps/demo-lb → apps/demo-web → apps/demo-db) against a real etcd,
// driven from code: used by the demo runner (demo/run.mjs) and the browser test
// (demo/page.integration.test.ts). Types: cluster.d.mts.
//
// Every app is a real process (`node apps/demo-X/dist/main.js`) bound to its own loopback address,
// as if it were a container: the load balancer on 127.0.0.10, web server i on 127.0.0.(20+i),
// database i on 127.0.0.(30+i), each on a free port. They register under a prefix unique to the run
// (/clusterdemo-<runid>) in our own etcd (free loopback ports, temp data dir) or, when
// CLUSTER_CONTROL_ETCD is set, in that one.
//
// Plain Node 20 ESM, node: built-ins plus the built @cluster-control/core (for etcd access).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** @typedef {import('./cluster.d.mts').ExitResult} ExitResult */

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';
const CORE_ETCD = join(ROOT, 'packages/core/dist/etcd/index.js');
/** The built command line tool: the demo times the fleet's convergence with its `status --wait`. */
export const CLI_BIN = join(ROOT, 'packages/cli/bin.cjs');
/**
 * The demo's clusters as the cluster-control CLI sees them (same names as the apps give them):
 * the lb watches the web servers, every web server watches the databases.
 */
export const CLUSTERS = { webservers: 'webserver', dbservers: 'dbserver' };
export const APP_MAIN = {
  lb: join(ROOT, 'apps/demo-lb/dist/main.js'),
  web: join(ROOT, 'apps/demo-web/dist/main.js'),
  db: join(ROOT, 'apps/demo-db/dist/main.js'),
};
/** The etcd key directory each kind registers under (`<prefix>/<dir>/HOST:PORT`). */
const KEY_DIR = { lb: 'loadbalancer', web: 'webserver', db: 'dbserver' };

const POLL_MS = 50;
/** Default bound of every wait: an app's `ready` line, a convergence, an exit after key deletion. */
export const DEFAULT_BOUND_MS = 20_000;
/** How long a process gets to exit after SIGTERM before it is SIGKILLed (and reported). */
const STOP_GRACE_MS = 5_000;
const READY_LINE = /^ready (http:\/\/\S+)$/m;

// ---------------------------------------------------------------------------------------------
// Errors

/** A failure to report: the message, plus the processes whose stderr explains it. */
export class DemoError extends Error {
  /**
   * @param {string} message
   * @param {(Child | undefined)[]} [procs]
   */
  constructor(message, procs = []) {
    super(message);
    this.name = 'DemoError';
    this.procs = [...new Set(procs.filter(Boolean))];
  }
}

/** A wait was abandoned because the cluster's AbortSignal fired (Ctrl-C in the runner). */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function describeExit(result) {
  if (!result) return 'still running';
  if (result.error) return result.error.message;
  return result.signal ? `killed by ${result.signal}` : `exit code ${result.code}`;
}

export function freePort(host = '127.0.0.1') {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, host, () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => res(port));
    });
  });
}

async function etcdHealthy(endpoint) {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok && /** @type {{ health?: string }} */ (await res.json()).health === 'true';
  } catch {
    return false;
  }
}

const sameList = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const sorted = (list) => [...list].sort();
const show = (list) => (list.length === 0 ? '(none)' : list.join(','));

// ---------------------------------------------------------------------------------------------
// Child processes

/** A child process whose output is captured (shown only when something fails). */
class Child {
  /**
   * @param {object} options
   * @param {string} options.name
   * @param {'lb' | 'web' | 'db' | 'etcd'} options.kind
   * @param {string} options.command
   * @param {string[]} options.args
   * @param {NodeJS.ProcessEnv} [options.env]
   * @param {(child: Child, result: ExitResult) => void} [options.onExit]
   */
  constructor({ name, kind, command, args, env, onExit }) {
    this.name = name;
    this.kind = kind;
    /** Until set, an exit is a failure of the cluster. */
    this.expectExit = false;
    /** SIGKILLed on purpose: not held to exit code 0. */
    this.killedOnPurpose = false;
    this.result = undefined;
    this.stdout = '';
    this.stderr = '';
    this.readyUrl = undefined;
    // Own process group: a Ctrl-C in the terminal reaches only the runner, which then stops its
    // children in order instead of racing them.
    this.proc = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env } });
    this.proc.stdout.on('data', (d) => (this.stdout += d));
    this.proc.stderr.on('data', (d) => {
      this.stderr += d;
      if (!this.readyUrl) this.readyUrl = READY_LINE.exec(this.stderr)?.[1];
    });
    this.exited = new Promise((res) => {
      this.proc.once('error', (error) => res({ code: null, signal: null, error }));
      this.proc.once('close', (code, signal) => res({ code, signal }));
    }).then((result) => {
      this.result = result;
      onExit?.(this, result);
      return result;
    });
  }

  get pid() {
    return this.proc.pid;
  }

  get running() {
    return this.result === undefined && this.proc.pid !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  signal(sig) {
    if (!this.running) return;
    try {
      this.proc.kill(sig);
    } catch {
      // already gone
    }
  }

  /** SIGTERM; SIGKILL if it has not exited after the grace period. Resolves to { result, forced }. */
  async stop() {
    this.expectExit = true;
    if (!this.running) return { result: await this.exited, forced: false };
    this.signal('SIGTERM');
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      this.signal('SIGKILL');
    }, STOP_GRACE_MS);
    const result = await this.exited;
    clearTimeout(timer);
    return { result, forced };
  }

  stderrTail(lines = 12) {
    const all = this.stderr.trimEnd().split('\n');
    return all.slice(-lines).join('\n') || '(no output)';
  }
}

/**
 * An app's Child, with its place in the cluster (set by DemoCluster.startApp).
 * @typedef {Child & { n: number; memberName: string; key: string; dbId: string | undefined }} AppChild
 */

// ---------------------------------------------------------------------------------------------
// The cluster

export class DemoCluster {
  /**
   * @param {object} [options]
   * @param {number} [options.ttl] registration lease TTL of every app, whole seconds (default 5)
   * @param {string} [options.etcd] comma-separated endpoints to use instead of starting etcd
   *   (default: $CLUSTER_CONTROL_ETCD; unset: our own etcd)
   * @param {AbortSignal} [options.signal] aborts every wait with Interrupted
   * @param {(line: string) => void} [options.log] progress lines (default: none)
   */
  constructor(options = {}) {
    this.ttl = options.ttl ?? 5;
    if (!Number.isInteger(this.ttl) || this.ttl < 2) throw new DemoError(`ttl: expected whole seconds >= 2, got ${options.ttl}`);
    this.etcdList = options.etcd ?? process.env.CLUSTER_CONTROL_ETCD ?? '';
    this.abortSignal = options.signal;
    this.log = options.log ?? (() => {});
    this.runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    /** Key prefix of this run; every app registers under `${prefix}/<kind dir>/`. */
    this.prefix = `/clusterdemo-${this.runId}`;
    this.endpoints = [];
    this.externalEtcd = false;
    this.etcdChild = undefined;
    this.etcdDataDir = undefined;
    this.workDir = undefined;
    this.conn = undefined;
    /** @type {AppChild[]} Every app process ever started, in start order. */
    this.apps = [];
    /** @type {AppChild | undefined} */
    this.lb = undefined;
    /** @type {Map<number, AppChild>} Web number (1-based) → its Child; the number fixes its address 127.0.0.(20+n). */
    this.webs = new Map();
    /** @type {Map<number, AppChild>} Database number (1-based) → its Child (with .dbId); address 127.0.0.(30+n). */
    this.dbs = new Map();
    /** The first unexpected exit; every wait fails with it. */
    this.failure = undefined;
    /** performance.now() of the last membership change (default origin of waitConverged). */
    this.lastChangeAt = performance.now();
    this.startedAt = undefined;
    this.shutdownPromise = undefined;
    /** Key → its last change seen by our watch of the prefix: { type: 'put' | 'delete', revision }. */
    this.keyLog = new Map();
    this.keyWatch = undefined;
    /** The CLI's configuration for this run (etcd endpoints, the two clusters), for `status`. */
    this.cliConf = undefined;
    this.exitHook = () => this.killEverythingNow();
    process.on('exit', this.exitHook);
  }

  /** Creates a cluster and starts etcd (unless external) and `webs` web, `dbs` database and one lb. On failure everything started is cleaned up. */
  static async start(options = {}) {
    const cluster = new DemoCluster(options);
    try {
      await cluster.start({ webs: options.webs ?? 3, dbs: options.dbs ?? 2 });
    } catch (err) {
      await cluster.shutdown({ verify: false }).catch(() => {});
      throw err;
    }
    return cluster;
  }

  /** The load balancer's page (HTML, live through server-sent events). */
  get pageUrl() {
    return this.lb?.readyUrl ? `${this.lb.readyUrl.replace(/\/+$/, '')}/` : undefined;
  }

  /** The running web servers, by number. */
  liveWebs() {
    return [...this.webs]
      .filter(([, c]) => c.running && !c.expectExit)
      .sort(([a], [b]) => a - b)
      .map(([n, c]) => ({ n, name: c.memberName, url: c.readyUrl }));
  }

  /** The running databases, by number. */
  liveDbs() {
    return [...this.dbs]
      .filter(([, c]) => c.running && !c.expectExit)
      .sort(([a], [b]) => a - b)
      .map(([n, c]) => ({ n, id: c.dbId, name: c.memberName, url: c.readyUrl }));
  }

  webName(n) {
    return this.webs.get(n)?.memberName;
  }

  // -------------------------------------------------------------------------------------------
  // Start

  async start({ webs = 3, dbs = 2 } = {}) {
    for (const [kind, main] of Object.entries(APP_MAIN)) {
      if (!existsSync(main)) throw new DemoError(`${main} is missing (demo-${kind} not built): run \`npx turbo run build\` first`);
    }
    if (!existsSync(CORE_ETCD)) throw new DemoError(`${CORE_ETCD} is missing: run \`npx turbo run build\` first`);
    this.workDir = await mkdtemp(join(tmpdir(), `cc-demo-${this.runId}-`));
    if (this.etcdList) await this.useExternalEtcd(this.etcdList);
    else await this.startOwnEtcd();
    const { connectEtcd, prefixRange } = await import(CORE_ETCD);
    this.conn = await connectEtcd({ endpoints: this.endpoints, timeoutMs: 5_000 });
    // Every change under the prefix with its revision, so a step knows which revision the fleet
    // must apply (a delete's, a lease expiry's), whatever else etcd is doing meanwhile.
    const from = (await this.conn.range(prefixRange(`${this.prefix}/`), { limit: 1 })).revision + 1n;
    this.keyWatch = await this.conn.watch(prefixRange(`${this.prefix}/`), from, {
      onEvents: (events) => {
        for (const e of events) this.keyLog.set(e.key, { type: e.type, revision: e.modRevision });
      },
      onProgress: () => {},
      onBroken: (err) => this.log(`watch of ${this.prefix}/ broke: ${err.message}`),
    });
    this.cliConf = join(this.workDir, 'cluster-control.conf');
    await writeFile(
      this.cliConf,
      JSON.stringify({
        etcd: { endpoints: this.endpoints },
        clusters: Object.entries(CLUSTERS).map(([name, dir]) => ({ name, path: `${this.prefix}/${dir}`, handler: 'json', handlerConfig: join(/** @type {string} */ (this.workDir), `${name}.json`) })),
      }),
    );

    this.startedAt = performance.now();
    const starts = [];
    for (let n = 1; n <= dbs; n++) starts.push(this.startApp('db', n));
    for (let n = 1; n <= webs; n++) starts.push(this.startApp('web', n));
    starts.push(this.startApp('lb', 0));
    const results = await Promise.allSettled(starts);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    this.lastChangeAt = this.startedAt;
    return this;
  }

  async useExternalEtcd(list) {
    const endpoints = list
      .split(',')
      .map((e) => e.trim().replace(/\/+$/, ''))
      .filter(Boolean);
    if (endpoints.length === 0) throw new DemoError('CLUSTER_CONTROL_ETCD is set but names no endpoint');
    this.endpoints = endpoints;
    this.externalEtcd = true;
    const ok = async () => (await Promise.all(endpoints.map(etcdHealthy))).some(Boolean);
    await this.waitFor(ok, { boundMs: DEFAULT_BOUND_MS, what: `no healthy etcd at ${endpoints.join(', ')} (GET /health)` });
  }

  /** Our own single-node etcd on free loopback ports, with a temp data dir. */
  async startOwnEtcd() {
    if (!existsSync(ETCD_BIN)) throw new DemoError(`${ETCD_BIN} not found: install Debian's etcd-server (scripts/bootstrap.sh --servers) or set CLUSTER_CONTROL_ETCD`);
    this.etcdDataDir = await mkdtemp(join(tmpdir(), `cc-demo-etcd-${this.runId}-`));
    // freePort() can race with another process taking the port before etcd binds it: retry.
    for (let attempt = 1; ; attempt++) {
      const [clientPort, peerPort] = [await freePort(), await freePort()];
      const endpoint = `http://127.0.0.1:${clientPort}`;
      const peer = `http://127.0.0.1:${peerPort}`;
      const etcd = new Child({
        name: 'etcd',
        kind: 'etcd',
        command: ETCD_BIN,
        args: [
          '--name',
          'demo',
          '--data-dir',
          this.etcdDataDir,
          '--listen-client-urls',
          endpoint,
          '--advertise-client-urls',
          endpoint,
          '--listen-peer-urls',
          peer,
          '--initial-advertise-peer-urls',
          peer,
          '--initial-cluster',
          `demo=${peer}`,
          '--log-level',
          'error',
        ],
        env: { ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch }, // etcd 3.4 refuses arm64 etc. without it
        onExit: (child, result) => this.noteExit(child, result),
      });
      // An early exit is reported by the health wait below, not as an unexpected exit.
      etcd.expectExit = true;
      this.etcdChild = etcd;
      const up = async () => {
        if (!etcd.running) throw new DemoError(`etcd exited during startup (${describeExit(await etcd.exited)})`, [etcd]);
        return etcdHealthy(endpoint);
      };
      try {
        await this.waitFor(up, { boundMs: DEFAULT_BOUND_MS, what: `etcd at ${endpoint} did not report healthy`, procs: [etcd] });
      } catch (err) {
        await etcd.stop();
        if (err instanceof DemoError && attempt < 3 && /address already in use/.test(etcd.stderr)) continue;
        throw err;
      }
      etcd.expectExit = false;
      this.endpoints = [endpoint];
      return;
    }
  }

  /** Starts app `kind` number `n` on its own address and waits for its `ready <url>` line. */
  async startApp(kind, n) {
    const host = kind === 'lb' ? '127.0.0.10' : `127.0.0.${(kind === 'web' ? 20 : 30) + n}`;
    const label = kind === 'lb' ? 'lb' : `${kind} ${n}`;
    const dataDir = join(/** @type {string} */ (this.workDir), kind === 'lb' ? 'lb' : `${kind}-${n}`);
    await mkdir(dataDir, { recursive: true });
    // A free port can be taken by someone else before the app binds it: retry then.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort(host);
      const args = [APP_MAIN[kind], '--host', host, '--port', String(port), '--etcd', this.endpoints.join(','), '--prefix', this.prefix, '--ttl', String(this.ttl), '--data-dir', dataDir];
      const dbId = kind === 'db' ? `db-${n}` : undefined;
      if (dbId) args.push('--id', dbId);
      const child = /** @type {AppChild} */ (new Child({ name: `${label} (${host}:${port})`, kind, command: process.execPath, args, onExit: (c, r) => this.noteExit(c, r) }));
      child.n = n;
      child.memberName = `${host}:${port}`;
      child.key = `${this.prefix}/${KEY_DIR[kind]}/${host}:${port}`;
      child.dbId = dbId;
      child.expectExit = true; // until ready: a startup failure is reported below
      this.apps.push(child);
      if (kind === 'lb') this.lb = child;
      else (kind === 'web' ? this.webs : this.dbs).set(n, child);
      const ready = () => {
        if (child.readyUrl) return true;
        if (!child.running) throw new DemoError(`${child.name} exited before it was ready (${describeExit(child.result)})`, [child]);
        return false;
      };
      try {
        await this.waitFor(ready, { boundMs: DEFAULT_BOUND_MS, what: `${child.name} logged no "ready <url>" line`, procs: [child] });
      } catch (err) {
        if (child.running) await child.stop();
        if (err instanceof DemoError && attempt < 3 && /EADDRINUSE|address already in use/i.test(child.stderr)) continue;
        throw err;
      }
      child.expectExit = false;
      this.log(`${child.name} ready at ${child.readyUrl}`);
      return child;
    }
  }

  noteExit(child, result) {
    if (!child.expectExit && !this.failure) this.failure = new DemoError(`${child.name} exited unexpectedly (${describeExit(result)})`, [child]);
  }

  // -------------------------------------------------------------------------------------------
  // Membership changes

  /** Starts database number N+1 (id db-<N+1>); resolves once it is ready (registered). */
  async addDb() {
    const n = Math.max(0, ...this.dbs.keys()) + 1;
    const child = await this.startApp('db', n);
    this.lastChangeAt = performance.now();
    return { n, id: child.dbId, name: child.memberName };
  }

  /** Starts web server number N+1; resolves once it is ready (registered). */
  async addWeb() {
    const n = Math.max(0, ...this.webs.keys()) + 1;
    const child = await this.startApp('web', n);
    this.lastChangeAt = performance.now();
    return { n, name: child.memberName };
  }

  runningWeb(n) {
    const child = this.webs.get(n);
    if (!child) throw new DemoError(`there is no web server ${n}`);
    if (!child.running || child.expectExit) throw new DemoError(`web server ${n} is not running`);
    return child;
  }

  /**
   * The clean removal: deletes web server `n`'s key in etcd, as an operator would; the process must
   * notice and exit by itself with code 0 within `timeoutMs`. Resolves to the ms it took to exit.
   */
  async removeWeb(n, { timeoutMs = DEFAULT_BOUND_MS } = {}) {
    const child = this.runningWeb(n);
    child.expectExit = true;
    const t0 = performance.now();
    this.lastChangeAt = t0;
    const deleted = await this.conn.delete(child.key);
    if (deleted !== 1) throw new DemoError(`web server ${n}'s key ${child.key} was not in etcd`, [child]);
    await this.waitFor(() => !child.running, { boundMs: timeoutMs, since: t0, what: `${child.name} did not exit after its key was deleted`, procs: [child] });
    const result = await child.exited;
    if (result.code !== 0) throw new DemoError(`${child.name} exited with ${describeExit(result)} after its key was deleted, expected exit code 0`, [child]);
    return { name: child.memberName, exitMs: Math.round(performance.now() - t0) };
  }

  /** SIGKILLs web server `n` (no deregistration: its key stays until its lease expires). */
  async killWeb(n) {
    const child = this.runningWeb(n);
    child.expectExit = true;
    child.killedOnPurpose = true;
    this.lastChangeAt = performance.now();
    child.signal('SIGKILL');
    await child.exited;
    return { name: child.memberName };
  }

  /** SIGTERMs every web server and database (not the lb); each must exit 0 (deregistering). Resolves to how many of each. */
  async stopWebsAndDbs() {
    const procs = [...this.webs.values(), ...this.dbs.values()].filter((c) => c.running);
    const counts = { webs: procs.filter((c) => c.kind === 'web').length, dbs: procs.filter((c) => c.kind === 'db').length };
    this.lastChangeAt = performance.now();
    const results = await Promise.all(procs.map(async (c) => ({ c, ...(await c.stop()) })));
    const bad = results.filter(({ result, forced }) => forced || result.code !== 0);
    if (bad.length > 0) {
      const what = bad.map(({ c, result, forced }) => `${c.name} ${forced ? 'ignored SIGTERM for 5 s' : describeExit(result)}`).join('; ');
      throw new DemoError(
        `after SIGTERM: ${what}`,
        bad.map(({ c }) => c),
      );
    }
    return counts;
  }

  // -------------------------------------------------------------------------------------------
  // The fleet: what every watcher published (README: Is the fleet in step?), read with the CLI's
  // `status`

  /** The newest revision of any key under `${prefix}/${dir}/` (0n: none). */
  async newestRevision(dir) {
    const { prefixRange } = await import(CORE_ETCD);
    return this.conn.newestModRevision(prefixRange(`${this.prefix}/${dir}/`));
  }

  /**
   * The revision at which `key` was deleted (an operator's delete, a deregistration, a lease
   * expiry), as our watch of the prefix saw it; waits for it up to `timeoutMs`.
   */
  async deletedAt(key, { timeoutMs = DEFAULT_BOUND_MS } = {}) {
    const deleted = () => {
      const last = this.keyLog.get(key);
      return last?.type === 'delete' ? last.revision : undefined;
    };
    return this.waitFor(deleted, { boundMs: timeoutMs, what: `${key} was not deleted` });
  }

  /**
   * Runs the built CLI's `status <cluster> --wait --json` (with `--revision`, `--expect`, and
   * `--timeout` in seconds; `wait: false`: plain `status <cluster> --json`) against this run's etcd. Resolves to
   * { code, ms, watchers: [{ id, state, appliedRevision, pid }], stdout, stderr } (`ms`: the
   * command's own run time, node's start-up included). Never rejects on exit code 1.
   */
  /**
   * @param {keyof typeof CLUSTERS} cluster
   * @param {{ revision?: bigint; expect?: number; timeoutS?: number; wait?: boolean }} [options]
   * @returns {Promise<import('./cluster.d.mts').StatusRun>}
   */
  statusWait(cluster, { revision, expect, timeoutS = 20, wait = true } = {}) {
    if (!existsSync(CLI_BIN)) throw new DemoError(`${CLI_BIN} is missing: run \`npx turbo run build\` first`);
    if (!CLUSTERS[cluster]) throw new DemoError(`unknown cluster ${cluster}`);
    const args = [CLI_BIN, '--conf', /** @type {string} */ (this.cliConf), 'status', cluster, '--json', ...(wait ? ['--wait', '--timeout', String(timeoutS)] : [])];
    if (revision !== undefined) args.push('--revision', String(revision));
    if (expect !== undefined) args.push('--expect', String(expect));
    const t0 = performance.now();
    return new Promise((res) => {
      const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.once('error', (err) => res({ code: null, ms: Math.round(performance.now() - t0), watchers: [], stdout, stderr: stderr + err.message }));
      child.once('close', (code) => {
        /** @type {import('./cluster.d.mts').StatusRun['watchers']} */
        let watchers = [];
        try {
          watchers = JSON.parse(stdout).clusters.flatMap((c) => c.watchers.map((w) => ({ id: w.id, state: w.state, appliedRevision: w.appliedRevision, pid: w.pid })));
        } catch {
          // not JSON (an error): stderr says why
        }
        res({ code, ms: Math.round(performance.now() - t0), watchers, stdout, stderr });
      });
    });
  }

  /** GET lb /fleet.json: the fleet table the page shows. */
  fleet() {
    return this.fetchLb('/fleet.json', (res) => res.json());
  }

  // -------------------------------------------------------------------------------------------
  // Reports and convergence

  async fetchLb(path, parse) {
    if (!this.lb?.readyUrl) throw new DemoError('the load balancer is not running');
    const res = await fetch(new URL(path, this.pageUrl), { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
    return parse(res);
  }

  /** GET lb /report.json. */
  report() {
    return this.fetchLb('/report.json', (res) => res.json());
  }

  /** GET lb /report.txt. */
  reportText() {
    return this.fetchLb('/report.txt', (res) => res.text());
  }

  /**
   * Why `report` is not converged on the live cluster (undefined when it is): the LB must list
   * exactly the live web servers, every one of them exactly the live database ids, consistent.
   */
  divergence(report) {
    const webs = sorted(this.liveWebs().map((w) => w.name));
    const ids = sorted(this.liveDbs().map((d) => d.id));
    if (!report || !Array.isArray(report.webServers)) return `unexpected report: ${JSON.stringify(report)?.slice(0, 300)}`;
    const listed = sorted(report.webServers.map((w) => w.name));
    if (!sameList(listed, webs)) return `the LB lists web servers ${show(listed)}, the live ones are ${show(webs)}`;
    for (const w of report.webServers) {
      if (w.error) return `web server ${w.name}: error ${w.error}`;
      const got = sorted(w.databases ?? []);
      if (!sameList(got, ids)) return `web server ${w.name} reports databases ${show(got)}, the live ones are ${show(ids)}`;
      if (w.agrees !== true) return `web server ${w.name} is marked as disagreeing`;
    }
    if (webs.length > 0 && !sameList(sorted(report.databases ?? []), ids)) return `the report's database list is ${show(report.databases ?? [])}, the live ones are ${show(ids)}`;
    if (report.consistent !== true) return 'the report says consistent: false';
    return undefined;
  }

  /**
   * Waits until the LB's report matches the live cluster (see divergence). `webs`/`dbs`, when
   * given, are the expected numbers of live web servers and databases (a check on the caller).
   * The bound and the returned ms count from `since` (default: the last membership change).
   */
  /** @param {{ webs?: number; dbs?: number; timeoutMs?: number; since?: number }} [options] */
  async waitConverged({ webs, dbs, timeoutMs = DEFAULT_BOUND_MS, since = this.lastChangeAt } = {}) {
    const live = { webs: this.liveWebs().length, dbs: this.liveDbs().length };
    if ((webs !== undefined && webs !== live.webs) || (dbs !== undefined && dbs !== live.dbs)) {
      throw new DemoError(`expected ${webs ?? live.webs} web servers and ${dbs ?? live.dbs} databases, ${live.webs} and ${live.dbs} are running`);
    }
    let last = 'no report yet';
    let lastText;
    const check = async () => {
      try {
        const report = await this.report();
        last = this.divergence(report) ?? '';
        if (last) lastText = await this.reportText().catch(() => undefined);
        return last === '';
      } catch (err) {
        last = `GET /report.json failed: ${/** @type {Error} */ (err).message}`;
        return false;
      }
    };
    const what = () => `not converged: ${last}${lastText ? `\nlast report:\n${lastText.trimEnd()}` : ''}`;
    await this.waitFor(check, { boundMs: timeoutMs, since, what, procs: [this.lb, ...this.webs.values()].filter((c) => c?.running) });
    return Math.round(performance.now() - since);
  }

  /**
   * Polls `check` every POLL_MS until it returns a truthy value (returned). Fails at once on an
   * unexpected exit or an abort; after `boundMs` (from `since`) with `what` and `procs`' stderr.
   */
  /**
   * @template T
   * @param {() => T | Promise<T>} check
   * @param {{ boundMs?: number; since?: number; what: string | (() => string); procs?: (Child | undefined)[] }} options
   * @returns {Promise<T>}
   */
  async waitFor(check, { boundMs = DEFAULT_BOUND_MS, since = performance.now(), what, procs = [] }) {
    const deadline = since + boundMs;
    for (;;) {
      if (this.abortSignal?.aborted) throw new Interrupted();
      if (this.failure) throw this.failure;
      const value = await check();
      if (value) return value;
      if (performance.now() > deadline) throw new DemoError(`timed out after ${boundMs} ms: ${typeof what === 'function' ? what() : what}`, procs);
      await sleep(POLL_MS);
    }
  }

  // -------------------------------------------------------------------------------------------
  // etcd access (through @cluster-control/core)

  /** Keys under this run's prefix. */
  async keys() {
    const { prefixRange } = await import(CORE_ETCD);
    return (await this.conn.range(prefixRange(`${this.prefix}/`))).kvs.map((kv) => kv.key);
  }

  /** Puts `value` at `${prefix}/${relKey}` (for tests: a hand-made registration). */
  async putKey(relKey, value) {
    await this.conn.put(`${this.prefix}/${relKey}`, value);
  }

  /** Deletes `${prefix}/${relKey}`; resolves to the number deleted. */
  async deleteKey(relKey) {
    return this.conn.delete(`${this.prefix}/${relKey}`);
  }

  // -------------------------------------------------------------------------------------------
  // Shutdown

  /**
   * SIGTERMs every process, then stops our etcd and removes the temp dirs. With `verify` (default)
   * it then checks that every app exited 0 (except those SIGKILLed on purpose), no key is left under
   * the prefix, no process of this run is left, etcd stopped and the temp dirs are gone, and throws
   * a DemoError listing what is not so. Always cleans up first; safe to call more than once.
   * Resolves to a summary: { exitedZero, killedOnPurpose, keysLeft }.
   */
  shutdown({ verify = true } = {}) {
    this.shutdownPromise ??= this.doShutdown(verify);
    return this.shutdownPromise;
  }

  async doShutdown(verify) {
    const problems = [];
    const procs = new Set();
    // 1. The apps, all at once: each deregisters (revokes its lease) before exiting.
    const stops = await Promise.all(this.apps.map(async (c) => ({ c, ...(await c.stop()) })));
    for (const { c, result, forced } of stops) {
      if (c.killedOnPurpose) continue;
      if (forced) problems.push(`${c.name} did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM (SIGKILLed)`);
      else if (result.code !== 0) problems.push(`${c.name} exited with ${describeExit(result)}`);
      else continue;
      procs.add(c);
    }
    // 2. No keys left. A SIGKILLed app's key lives until its lease expires: give it that long.
    let keysLeft = [];
    if (this.conn) {
      const anyKilled = this.apps.some((c) => c.killedOnPurpose);
      const boundMs = verify ? (anyKilled ? this.ttl * 1000 + 3_000 : 2_000) : 0;
      const t0 = performance.now();
      for (;;) {
        keysLeft = await this.keys().catch((err) => [`(could not read keys: ${err.message})`]);
        if (keysLeft.length === 0 || performance.now() - t0 >= boundMs) break;
        await sleep(100);
      }
      if (keysLeft.length > 0) {
        if (verify) problems.push(`keys left under ${this.prefix}/: ${keysLeft.join(' ')}`);
        // Never leave them in a shared etcd (ours is deleted with its data dir anyway).
        if (this.externalEtcd) for (const key of await this.keys().catch(() => [])) await this.conn.delete(key).catch(() => {});
      }
      this.keyWatch?.close();
      this.keyWatch = undefined;
      this.conn.close();
      this.conn = undefined;
    }
    // 3. Our etcd.
    if (this.etcdChild) {
      const { forced } = await this.etcdChild.stop();
      if (forced) problems.push('etcd did not exit within 5 s of SIGTERM (SIGKILLed)');
    }
    // 4. Temp dirs.
    for (const dir of /** @type {string[]} */ ([this.workDir, this.etcdDataDir].filter(Boolean))) {
      await rm(dir, { recursive: true, force: true });
      if (existsSync(dir)) problems.push(`could not remove ${dir}`);
    }
    // 5. No process of this run left: every child exited, and nothing carries the run id.
    const left = /** @type {Child[]} */ ([...this.apps, this.etcdChild].filter((c) => c?.running)).map((c) => `${c.pid} ${c.name}`);
    left.push(...(await processesMentioning(this.runId)));
    if (left.length > 0) problems.push(`processes left: ${[...new Set(left)].join('; ')}`);
    process.off('exit', this.exitHook);
    if (verify && problems.length > 0) throw new DemoError(`shutdown: ${problems.join('; ')}`, [...procs]);
    return {
      exitedZero: this.apps.filter((c) => !c.killedOnPurpose && c.result?.code === 0).length,
      killedOnPurpose: this.apps.filter((c) => c.killedOnPurpose).length,
      keysLeft: keysLeft.length,
    };
  }

  /** Last resort (process exit hook): SIGKILL everything, remove the temp dirs, synchronously. */
  killEverythingNow() {
    for (const c of [...this.apps, this.etcdChild]) if (c?.running) c.signal('SIGKILL');
    for (const dir of [this.workDir, this.etcdDataDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** Processes (other than us) whose command line contains `text`; [] without /proc. */
async function processesMentioning(text) {
  if (!existsSync('/proc')) return [];
  const found = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
      if (argv.includes(text)) found.push(`${pid} ${argv.slice(0, 120)}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}
