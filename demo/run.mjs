#!/usr/bin/env node
// `npm run demo`: a small end-to-end scenario of cluster-control against a real etcd, until the
// full three-tier demo (apps/demo-*) lands. A "load balancer" runs `watch` on the webserver
// cluster; web servers register themselves with `heartbeat`, are added, removed by an operator
// (`removekey`), crash (SIGKILL) and shut down, and after each step the LB's member file must
// converge to exactly the expected set. Only the real CLI (packages/cli/bin.js) is used.
//
// Plain Node 20 ESM, node: built-ins only. Run `node demo/run.mjs --help` for the options.

import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI_BIN = join(ROOT, 'packages/cli/bin.js');
const CLI_BUILT = join(ROOT, 'packages/cli/dist/index.js');
const ETCD_BIN = '/usr/bin/etcd';
const ETCDCTL_BIN = '/usr/bin/etcdctl';

const CLUSTER = 'webserver';
const POLL_MS = 50;
const STEP_BOUND_MS = 20_000;
const ETCD_HEALTHY_MS = 20_000;
/** How long a process gets to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 5_000;

const USAGE = `Usage: node demo/run.mjs [--ttl N] [--keep] [--help]

A small end-to-end demo of cluster-control against a real etcd. A "load balancer" runs
\`cluster-control watch ${CLUSTER}\` and keeps <tmp>/lb-webservers.json in step with the web
servers that register with \`cluster-control heartbeat\`, while they start (3), one joins, one is
removed by an operator (removekey), one crashes (SIGKILL) and all shut down (SIGTERM).

Options:
  --ttl N   lease TTL of the web servers in whole seconds, >= 2 (default 5); heartbeat every N/3 s
  --keep    after step 2, leave the cluster running, print where it is and wait for Ctrl-C
  --help    show this help

Environment:
  CLUSTER_CONTROL_ETCD  comma-separated etcd endpoints (http://127.0.0.1:2379) to use instead of
                        starting ${ETCD_BIN} on free loopback ports with a temporary data dir

Exit status: 0 every step converged, 1 a step failed or etcd is missing, 2 bad usage.`;

// ---------------------------------------------------------------------------------------------
// Errors and interruption

/** A failure to report: the message, plus the processes whose stderr explains it. */
class DemoError extends Error {
  constructor(message, procs = []) {
    super(message);
    this.procs = procs.filter(Boolean);
  }
}

class Interrupted extends Error {}

/** Set by the first SIGINT/SIGTERM; every wait checks it, so the demo stops and cleans up. */
let interrupted = false;
let onInterrupt = () => {};
/** Set when a process exits that should not have; every wait checks it. */
let unexpectedExit;

function installSignalHandlers() {
  const handle = (sig) => {
    if (interrupted) {
      // Second signal: give up on a clean shutdown; the exit hook SIGKILLs what is left.
      process.stderr.write(`${sig} again: killing everything\n`);
      process.exit(130);
    }
    interrupted = true;
    onInterrupt();
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}

// ---------------------------------------------------------------------------------------------
// Child processes

/** Every process this demo started; the exit hook kills any still running. */
const children = new Set();
/** Temp dirs to remove, even on a hard exit. */
const tempDirs = new Set();

process.on('exit', () => {
  for (const child of children) if (child.running) child.signal('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A child process whose output is captured (never shown unless something fails). */
class Child {
  constructor(name, command, args, env = {}) {
    this.name = name;
    /** Until set, an exit is a failure of the demo. */
    this.expectExit = false;
    this.stdout = '';
    this.stderr = '';
    // Own process group: a Ctrl-C in the terminal reaches only the demo, which then stops its
    // children in order (heartbeats before etcd) instead of racing them.
    this.proc = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env } });
    this.proc.stdout.on('data', (d) => (this.stdout += d));
    this.proc.stderr.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((res) => {
      this.proc.once('error', (err) => res({ code: null, signal: null, error: err }));
      this.proc.once('close', (code, signal) => res({ code, signal }));
    });
    this.exited.then((result) => {
      if (!this.expectExit && !unexpectedExit) unexpectedExit = new DemoError(`${this.name} exited unexpectedly (${describeExit(result)})`, [this]);
    });
    children.add(this);
  }

  get running() {
    return this.proc.pid !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  signal(sig) {
    if (!this.running) return;
    try {
      this.proc.kill(sig);
    } catch {
      // already gone
    }
  }

  /** SIGTERM (or `sig`); SIGKILL if it has not exited after the grace period. */
  async stop(sig = 'SIGTERM') {
    this.expectExit = true;
    this.signal(sig);
    const timer = setTimeout(() => this.signal('SIGKILL'), STOP_GRACE_MS);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }

  stderrTail(lines = 15) {
    const all = this.stderr.trimEnd().split('\n');
    return all.slice(-lines).join('\n') || '(no output)';
  }
}

function describeExit({ code, signal, error }) {
  if (error) return error.message;
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

/** Starts the CLI in the background. */
function startCli(name, args) {
  return new Child(name, process.execPath, [CLI_BIN, ...args]);
}

/** Runs the CLI to completion; a non-zero exit is a failure. */
async function runCli(name, args) {
  const child = startCli(name, args);
  child.expectExit = true;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.signal('SIGKILL');
  }, STEP_BOUND_MS);
  const result = await child.exited;
  clearTimeout(timer);
  if (timedOut) throw new DemoError(`${name} did not finish within ${STEP_BOUND_MS} ms`, [child]);
  if (result.code !== 0) throw new DemoError(`${name} failed (${describeExit(result)})`, [child]);
  return child.stdout;
}

// ---------------------------------------------------------------------------------------------
// Waiting

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` every POLL_MS until it returns a truthy value, which is returned. Fails fast on an
 * unexpected process exit or an interrupt; after `boundMs` (counted from `since`, default now)
 * fails with `what` and `procs`' stderr.
 */
async function waitFor(check, { boundMs = STEP_BOUND_MS, since = performance.now(), what, procs = [] }) {
  const deadline = since + boundMs;
  for (;;) {
    if (interrupted) throw new Interrupted();
    if (unexpectedExit) throw unexpectedExit;
    const value = await check();
    if (value) return value;
    if (performance.now() > deadline) throw new DemoError(`timed out after ${boundMs} ms: ${typeof what === 'function' ? await what() : what}`, procs);
    await sleep(POLL_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// etcd

function freePort() {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => res(port));
    });
  });
}

async function healthy(endpoint) {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok && (await res.json()).health === 'true';
  } catch {
    return false;
  }
}

/** The configured endpoints, once one of them reports healthy. */
async function useExternalEtcd(list) {
  const endpoints = list.split(',').map((e) => e.trim().replace(/\/+$/, '')).filter(Boolean);
  if (endpoints.length === 0) throw new DemoError('CLUSTER_CONTROL_ETCD is set but names no endpoint');
  const ok = async () => (await Promise.all(endpoints.map(healthy))).some(Boolean);
  await waitFor(ok, { boundMs: ETCD_HEALTHY_MS, what: `no healthy etcd at ${endpoints.join(', ')} (GET /health)` });
  return { endpoints, external: true, stop: async () => {} };
}

/** Our own single-node etcd on free loopback ports, with a temp data dir removed by stop(). */
async function startOwnEtcd() {
  const dataDir = await mkdtemp(join(tmpdir(), 'cc-demo-etcd-'));
  tempDirs.add(dataDir);
  // freePort() can race with another process taking the port before etcd binds it: retry.
  for (let attempt = 1; ; attempt++) {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const endpoint = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const etcd = new Child('etcd', ETCD_BIN, [
      '--name', 'demo',
      '--data-dir', dataDir,
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `demo=${peer}`,
      '--log-level', 'error',
    ], { ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch }); // etcd 3.4 refuses arm64 etc. without it
    // An early exit is reported by the health wait below, not as a generic unexpected exit.
    etcd.expectExit = true;
    const up = async () => {
      if (!etcd.running) throw new DemoError(`etcd exited during startup (${describeExit(await etcd.exited)})`, [etcd]);
      return healthy(endpoint);
    };
    try {
      await waitFor(up, { boundMs: ETCD_HEALTHY_MS, what: `etcd at ${endpoint} did not report healthy`, procs: [etcd] });
    } catch (err) {
      await etcd.stop();
      if (err instanceof DemoError && !etcd.running && attempt < 3 && /address already in use/.test(etcd.stderr)) continue;
      throw err;
    }
    etcd.expectExit = false;
    const stop = async () => {
      await etcd.stop();
      await rm(dataDir, { recursive: true, force: true });
      tempDirs.delete(dataDir);
    };
    return { endpoints: [endpoint], external: false, child: etcd, stop };
  }
}

/** Keys under `prefix`: etcdctl when installed, else etcd's JSON gateway. */
async function countKeys(endpoints, prefix) {
  if (existsSync(ETCDCTL_BIN)) {
    const { stdout } = await promisify(execFile)(ETCDCTL_BIN, [`--endpoints=${endpoints.join(',')}`, 'get', '--prefix', prefix, '--keys-only'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    return stdout.split('\n').filter(Boolean).length;
  }
  const b64 = (s) => Buffer.from(s).toString('base64');
  const rangeEnd = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const res = await fetch(`${endpoints[0]}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: b64(prefix), range_end: b64(rangeEnd), count_only: true }) });
  return Number((await res.json()).count ?? 0);
}

/** Best effort, for a shared etcd after a failure: leave nothing of this run behind. */
async function deletePrefix(endpoints, prefix) {
  if (!existsSync(ETCDCTL_BIN)) return;
  await promisify(execFile)(ETCDCTL_BIN, [`--endpoints=${endpoints.join(',')}`, 'del', '--prefix', prefix], { env: { ...process.env, ETCDCTL_API: '3' } }).catch(() => {});
}

// ---------------------------------------------------------------------------------------------
// The scenario's files

const shQuote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Writes the LB's and the web servers' configuration files into a fresh temp dir. */
async function writeConfigs({ endpoints, ttl, servers }) {
  const dir = await mkdtemp(join(tmpdir(), 'cc-demo-'));
  tempDirs.add(dir);
  const runPrefix = `/clusterdemo/${Date.now().toString(36)}-${randomBytes(3).toString('hex')}/`;
  const prefix = `${runPrefix}${CLUSTER}`;
  const lbFile = join(dir, 'lb-webservers.json');
  const reloadLog = join(dir, 'lb-reloads.log');
  const etcd = { endpoints };
  const write = (name, config) => writeFile(join(dir, name), JSON.stringify(config, null, 2) + '\n').then(() => join(dir, name));

  const lbConf = await write('lb.conf', {
    etcd,
    clusters: [
      {
        name: CLUSTER,
        path: prefix,
        handler: 'json',
        handlerConfig: { file: lbFile },
        // Stands in for "nginx -s reload": one line per reload, with the members it saw.
        reload: ['sh', '-c', `echo "$CLUSTER_CONTROL_MEMBERS" >> ${shQuote(reloadLog)}`],
      },
    ],
  });
  const serverConf = {};
  for (let n = 1; n <= servers; n++) {
    serverConf[n] = await write(`web${n}.conf`, {
      etcd,
      self: { key: `${prefix}/${memberName(n)}`, ttl, heartbeat: Math.round((ttl * 1000) / 3) / 1000 },
    });
  }
  return { dir, runPrefix, prefix, lbFile, reloadLog, lbConf, serverConf };
}

const memberName = (n) => `127.0.0.${n}:8080`;

/** The LB file's members, or undefined while it is missing (it is replaced atomically, never half-written). */
async function readMembers(file) {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Reload runs so far, and the member list the last one was given. */
async function readReloads(file) {
  const text = await readFile(file, 'utf8').catch(() => '');
  const lines = text.split('\n').slice(0, -1);
  return { count: lines.length, last: lines.at(-1) };
}

const sameSet = (a, b) => Array.isArray(a) && JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

/** Leftover processes of this run: children of ours, or anything with our temp dir in its argv. */
async function leftoverProcesses(workDir, exceptPids) {
  if (!existsSync('/proc')) return [...children].filter((c) => c.running && !exceptPids.has(c.proc.pid)).map((c) => c.name);
  const found = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid || exceptPids.has(pid)) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
      if (ppid === process.pid || argv.includes(workDir)) found.push(`${pid} ${argv}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// The demo

class Demo {
  constructor(options) {
    this.ttl = options.ttl;
    this.keep = options.keep;
    this.etcd = undefined;
    this.files = undefined;
    this.watcher = undefined;
    /** Web server number → its heartbeat process. */
    this.servers = new Map();
    this.step = 0;
    this.stepLabel = '';
  }

  /** Where the demo is, for error messages. */
  get where() {
    return this.step === 0 ? 'setup' : `step ${this.step} (${this.stepLabel})`;
  }

  async setup() {
    const list = process.env.CLUSTER_CONTROL_ETCD;
    this.etcd = list ? await useExternalEtcd(list) : await startOwnEtcd();
    this.files = await writeConfigs({ endpoints: this.etcd.endpoints, ttl: this.ttl, servers: 4 });
    const where = this.etcd.external ? `etcd ${this.etcd.endpoints.join(',')} (CLUSTER_CONTROL_ETCD)` : `etcd ${this.etcd.endpoints[0]} (own, temp data dir)`;
    console.log(`${where}   cluster ${this.files.prefix}   ttl ${this.ttl} s`);
    console.log(`LB file ${this.files.lbFile}`);
  }

  startServer(n) {
    const proc = startCli(`web server ${n} (heartbeat)`, ['--conf', this.files.serverConf[n], 'heartbeat']);
    this.servers.set(n, proc);
    return proc;
  }

  /**
   * Waits until the LB file holds exactly `expected` (and `also.check()` holds) and the last reload
   * saw it; returns the ms from `t0` to convergence, the members and the reload count.
   */
  async converge(expected, t0, { boundMs = STEP_BOUND_MS, procs = [], also } = {}) {
    const { lbFile, reloadLog } = this.files;
    const fileOk = async () => sameSet(await readMembers(lbFile), expected);
    const what = async () =>
      (await fileOk()) && also ? also.what : `not converged: expected [${expected.join(' ')}], LB file has ${JSON.stringify(await readMembers(lbFile)) ?? '(nothing)'}`;
    const waitProcs = [this.watcher, ...procs];
    await waitFor(async () => (await fileOk()) && (!also || also.check()), { boundMs, since: t0, what, procs: waitProcs });
    const ms = Math.round(performance.now() - t0);
    // The reload runs just after the file is replaced: wait for it so the count is final.
    const members = await readMembers(lbFile);
    const reloadSaw = async () => (await readReloads(reloadLog)).last === members.join(' ');
    await waitFor(reloadSaw, { boundMs, since: t0, what: `the reload command never ran for [${members.join(' ')}]`, procs: waitProcs });
    return { ms, members, reloads: (await readReloads(reloadLog)).count };
  }

  begin(label) {
    this.step += 1;
    this.stepLabel = label;
    return performance.now();
  }

  report({ ms, members, reloads }, note = '') {
    const list = members.length > 0 ? members.join(' ') : '(none)';
    console.log(`step ${this.step}  ${this.stepLabel.padEnd(26)} converged in ${String(ms).padStart(5)} ms   members: ${list}   reloads: ${reloads}${note ? `   ${note}` : ''}`);
  }

  /** a. prepare, watch from its revision, 3 web servers register. */
  async startCluster() {
    const t0 = this.begin('start 3 web servers');
    const revision = (await runCli('prepare', ['--conf', this.files.lbConf, 'prepare', CLUSTER])).trim();
    if (!/^\d+$/.test(revision)) throw new DemoError(`prepare printed ${JSON.stringify(revision)}, not a revision`);
    // The web servers start right away, racing the watcher's start: the revision hand-off is
    // what guarantees none of them is missed (SPEC §2).
    this.watcher = startCli('LB watcher (watch)', ['--conf', this.files.lbConf, 'watch', CLUSTER, revision]);
    for (const n of [1, 2, 3]) this.startServer(n);
    const procs = [...this.servers.values()];
    this.report(await this.converge([1, 2, 3].map(memberName), t0, { procs }), `(watch from prepare's revision ${revision})`);
  }

  /** b. a 4th web server joins. */
  async addServer() {
    const t0 = this.begin('add web server 4');
    const proc = this.startServer(4);
    this.report(await this.converge([1, 2, 3, 4].map(memberName), t0, { procs: [proc] }));
  }

  /** c. an operator removes web server 2: its heartbeat must notice and exit 0 by itself. */
  async removeServer() {
    const t0 = this.begin('removekey web server 2');
    const proc = this.servers.get(2);
    proc.expectExit = true;
    await runCli('removekey', ['--conf', this.files.serverConf[2], 'removekey']);
    const result = await this.converge([1, 3, 4].map(memberName), t0, { procs: [proc], also: { check: () => !proc.running, what: `${proc.name} did not exit after its key was removed` } });
    await this.expectCleanExit(proc);
    this.report(result, 'heartbeat 2 exited 0');
  }

  /** d. web server 3 crashes: its key lives on until the lease expires. */
  async killServer() {
    const t0 = this.begin('SIGKILL web server 3');
    const proc = this.servers.get(3);
    proc.expectExit = true;
    proc.signal('SIGKILL');
    // The last keep-alive was up to one heartbeat (ttl/3) before the kill, so expect 2/3..1 TTL.
    const result = await this.converge([1, 4].map(memberName), t0, { boundMs: (this.ttl + 10) * 1000, procs: [proc] });
    this.report(result, `(lease ttl ${this.ttl} s)`);
  }

  /** e. SIGTERM everything: leases revoked at once, every process exits 0, nothing left behind. */
  async shutDown() {
    const t0 = this.begin('shut down (SIGTERM)');
    const heartbeats = [...this.servers.values()].filter((p) => p.running);
    for (const p of heartbeats) p.expectExit = true;
    for (const p of heartbeats) p.signal('SIGTERM');
    const result = await this.converge([], t0, {
      procs: heartbeats,
      also: { check: () => heartbeats.every((p) => !p.running), what: 'not every heartbeat exited after SIGTERM' },
    });
    for (const p of heartbeats) await this.expectCleanExit(p);
    this.watcher.expectExit = true;
    this.watcher.signal('SIGTERM');
    await waitFor(() => !this.watcher.running, { what: 'the watcher to exit after SIGTERM', procs: [this.watcher] });
    await this.expectCleanExit(this.watcher);

    const keys = await countKeys(this.etcd.endpoints, this.files.runPrefix);
    if (keys !== 0) throw new DemoError(`${keys} key(s) left under ${this.files.runPrefix}`);
    const left = await leftoverProcesses(this.files.dir, new Set(this.etcd.child ? [this.etcd.child.proc.pid] : []));
    if (left.length > 0) throw new DemoError(`processes left behind:\n  ${left.join('\n  ')}`);
    this.report(result, 'all exited 0, no keys or processes left');
  }

  async expectCleanExit(proc) {
    const result = await proc.exited;
    if (result.code !== 0) throw new DemoError(`${proc.name} exited with ${describeExit(result)}, expected exit code 0`, [proc]);
  }

  /** --keep: leave the cluster running until Ctrl-C. */
  async keepRunning() {
    const { endpoints } = this.etcd;
    console.log(`\n--keep: the cluster is running (web servers 1-4, LB watcher)`);
    console.log(`  etcd     ${endpoints.join(',')}`);
    console.log(`  LB file  ${this.files.lbFile}   (reload log ${this.files.reloadLog})`);
    console.log(`  try      ETCDCTL_API=3 etcdctl --endpoints=${endpoints.join(',')} get --prefix ${this.files.prefix}/ --keys-only`);
    console.log(`press Ctrl-C to stop and clean up`);
    // From here a process exiting (say, a web server whose key was deleted by hand) is just news.
    for (const child of children) child.expectExit = true;
    for (const [n, proc] of this.servers) proc.exited.then((r) => !interrupted && console.log(`web server ${n} exited (${describeExit(r)})`));
    await new Promise((res) => {
      onInterrupt = res;
      if (interrupted) res();
    });
    const stopped = await this.stopProcesses();
    const bad = stopped.filter(({ result }) => result.code !== 0);
    console.log(`stopped ${stopped.length} processes: ${bad.length === 0 ? 'all exited 0' : bad.map(({ proc, result }) => `${proc.name} ${describeExit(result)}`).join(', ')}`);
  }

  /** SIGTERMs every running process but etcd, heartbeats first so their leases are revoked while the watcher still runs. */
  async stopProcesses() {
    const stopAll = (procs) => Promise.all(procs.filter((p) => p.running).map(async (proc) => ({ proc, result: await proc.stop() })));
    const heartbeats = await stopAll([...this.servers.values()]);
    const rest = await stopAll([...children].filter((c) => c !== this.etcd?.child));
    return [...heartbeats, ...rest];
  }

  /** Stops every process, then etcd; removes the temp files. */
  async cleanup({ failed }) {
    await this.stopProcesses();
    // A shared etcd may still hold this run's keys (a SIGKILLed server's until its TTL, or keys
    // put by hand under --keep): leave nothing behind.
    if ((failed || this.keep) && this.etcd?.external && this.files) await deletePrefix(this.etcd.endpoints, this.files.runPrefix);
    await this.etcd?.stop();
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
    tempDirs.clear();
  }

  async run() {
    await this.setup();
    await this.startCluster();
    await this.addServer();
    if (this.keep) return this.keepRunning();
    await this.removeServer();
    await this.killServer();
    await this.shutDown();
  }
}

// ---------------------------------------------------------------------------------------------
// Main

function parseOptions(argv) {
  const fail = (message) => {
    process.stderr.write(`demo: ${message}\n(run with --help for usage)\n`);
    process.exit(2);
  };
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { ttl: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    fail(err.message);
  }
  const ttl = values.ttl === undefined ? 5 : Number(values.ttl);
  // cluster-control's own minimum: a lease needs room for keep-alives inside it.
  if (!/^\d+$/.test(values.ttl ?? '5') || ttl < 2) fail(`--ttl: expected whole seconds >= 2, got ${JSON.stringify(values.ttl)}`);
  return { ttl, keep: values.keep ?? false, help: values.help ?? false };
}

function printFailure(demo, err) {
  const { where } = demo;
  if (!(err instanceof DemoError)) {
    console.error(`demo FAILED at ${where}: unexpected error: ${err?.stack ?? err}`);
    return;
  }
  console.error(`demo FAILED at ${where}: ${err.message}`);
  for (const proc of new Set(err.procs)) console.error(`--- stderr of ${proc.name} (last lines) ---\n${proc.stderrTail()}`);
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  if (!existsSync(CLI_BUILT)) {
    console.error(`demo: ${CLI_BUILT} is missing: build first (npm run build, or npx turbo run build)`);
    return 1;
  }
  if (!process.env.CLUSTER_CONTROL_ETCD && !existsSync(ETCD_BIN)) {
    console.error(`demo: ${ETCD_BIN} not found: run \`npm run demo\` as root so scripts/bootstrap.sh installs Debian's etcd-server, or set CLUSTER_CONTROL_ETCD=http://HOST:2379`);
    return 1;
  }
  installSignalHandlers();
  const demo = new Demo(options);
  let code = 0;
  try {
    await demo.run();
  } catch (err) {
    if (err instanceof Interrupted) {
      console.error(`interrupted during ${demo.where}; cleaning up`);
      code = 130;
    } else {
      printFailure(demo, err);
      code = 1;
    }
  }
  await demo.cleanup({ failed: code !== 0 });
  if (code === 0) console.log(options.keep ? 'demo stopped: cleaned up' : `demo passed: ${demo.step} steps converged`);
  else if (code === 1) console.error(`cleaned up (child processes${demo.etcd && !demo.etcd.external ? ' and etcd' : ''} stopped, temp files removed)`);
  return code;
}

// Exit explicitly: a lingering keep-alive socket (fetch) must not hold the demo open.
process.exit(await main());
