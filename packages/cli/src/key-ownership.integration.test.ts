import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';
import { type EtcdServer, freePort, haveEtcd, startEtcd } from '#test-support/etcd-server.js';

const CHILD = resolve(import.meta.dirname, '../../../test/support/child-server.mjs');
const TTL = 3;

/**
 * A server for `run` that needs nothing from etcd (child-server.mjs asks etcdctl on every signal,
 * which hangs while etcd is frozen): listens on PORT at SIGUSR2, exits 7 at SIGUSR1; says "child up"
 * on stdout (run's, shared) once it listens for them.
 */
const EXIT7_CHILD = [
  process.execPath,
  '-e',
  `const s = require('node:net').createServer();
   process.on('SIGUSR2', () => s.listen(Number(process.env.PORT), '127.0.0.1'));
   process.on('SIGUSR1', () => process.exit(7));
   setInterval(() => {}, 1 << 30);
   console.log('child up');`,
];

/** The lease (hex, as our logs print it) the key is on; '' when the key is absent. */
async function leaseOf(etcd: EtcdServer, key: string): Promise<string> {
  // Lease IDs are int64: read them from the JSON text, not through a lossy JSON number.
  const json = await etcd.ctl('get', key, '-w', 'json');
  const lease = /"lease":(\d+)/.exec(json)?.[1];
  return lease ? BigInt(lease).toString(16) : '';
}

const registeredLease = (p: CliProcess) => /registered \S+ \(lease ([0-9a-f]+)/.exec(p.stderr())?.[1];
const count = (text: string, pattern: RegExp) => text.split('\n').filter((l) => pattern.test(l)).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Owning a key (README): the own key is put only if absent or already on our lease; a second
// registrant waits, the first is never disturbed. `run` passes its child's exit code on at once,
// whatever etcd does.
describe.skipIf(!haveEtcd)('owning a key', () => {
  let etcd: EtcdServer;
  let dir: string;
  const running: CliProcess[] = [];
  const spawn = (args: string[], env: Record<string, string> = {}) => {
    const p = spawnCli(args, { env });
    running.push(p);
    return p;
  };
  const conf = async (name: string, key: string, extra: Record<string, unknown> = {}) =>
    writeJson(join(dir, `${name}.conf`), { etcd: { endpoints: [etcd.endpoint] }, self: { key, ttl: TTL, heartbeat: 1 }, ...extra });

  beforeAll(async () => {
    etcd = await startEtcd();
    dir = await tempDir('cc-own-');
  });
  afterAll(async () => {
    for (const p of running) p.kill('SIGKILL');
    await etcd?.dispose();
  });

  it('two heartbeats with one key: the second says who holds it and waits; it registers once the first deregisters', async () => {
    const key = '/clusters/own/10.2.0.1:80';
    const first = spawn(['--conf', await conf('hb1', key), 'heartbeat']);
    await first.waitForLog(/registered/);
    const firstLease = registeredLease(first)!;
    expect(await leaseOf(etcd, key)).toBe(firstLease);

    const second = spawn(['--conf', await conf('hb2', key), 'heartbeat']);
    await second.waitForLog(/is held by lease/);
    expect(second.stderr()).toMatch(new RegExp(`${key} is held by lease ${firstLease} \\(since revision \\d+\\); waiting for it to be free`));
    // Longer than a TTL: the first keeps its key and keeps running; the second said it once.
    await sleep((TTL + 1) * 1000);
    expect(await leaseOf(etcd, key)).toBe(firstLease);
    expect(first.child.exitCode).toBeNull();
    expect(second.child.exitCode).toBeNull();
    expect(count(second.stderr(), /is held by lease/)).toBe(1);
    expect(second.stderr()).not.toMatch(/registered/);
    expect(first.stderr()).not.toMatch(/removed|deleted by someone else|put on lease/);

    const stoppedAt = Date.now();
    first.kill('SIGTERM');
    expect((await first.exited()).code).toBe(0);
    await second.waitForLog(/registered/, 5_000);
    const tookOverMs = Date.now() - stoppedAt;
    console.log(`second heartbeat registered ${tookOverMs} ms after SIGTERM to the first`);
    expect(tookOverMs).toBeLessThan(2_500);
    expect(await leaseOf(etcd, key)).toBe(registeredLease(second));
    second.kill('SIGTERM');
    expect((await second.exited()).code).toBe(0);
    expect(await leaseOf(etcd, key)).toBe('');
  });

  it('heartbeat --once --timeout 2 against a key held by another live lease: exit 1 within ~3 s, one line', async () => {
    const key = '/clusters/own/10.2.0.2:80';
    const holder = spawn(['--conf', await conf('hold', key), 'heartbeat']);
    await holder.waitForLog(/registered/);
    const lease = registeredLease(holder)!;
    const startedAt = Date.now();
    const res = await runCli(['--conf', await conf('once', key), 'heartbeat', '--once', '--timeout', '2']);
    const tookMs = Date.now() - startedAt;
    console.log(`heartbeat --once --timeout 2 exited ${res.code} after ${tookMs} ms`);
    expect(res.code).toBe(1);
    expect(tookMs).toBeLessThan(3_500);
    const errors = res.stderr.split('\n').filter((l) => l.startsWith('cluster-control:'));
    expect(errors).toEqual([`cluster-control: could not register ${key} within 2s: it is held by lease ${lease} (since revision ${/since revision (\d+)/.exec(res.stderr)![1]})`]);
    expect(await leaseOf(etcd, key)).toBe(lease);
    // The long-running form: the same bound.
    const long = await runCli(['--conf', await conf('once', key), 'heartbeat', '--timeout', '1']);
    expect(long.code).toBe(1);
    expect(long.stderr).toMatch(/cluster-control: could not register \S+ within 1s: it is held by lease/);
    expect(holder.child.exitCode).toBeNull();
    holder.kill('SIGTERM');
    expect((await holder.exited()).code).toBe(0);
  });

  it('a key put over ours by someone else (a plain put) is neither an operator removal nor fought over', async () => {
    const key = '/clusters/own/10.2.0.3:80';
    const node = spawn(['--conf', await conf('forced', key), 'heartbeat']);
    await node.waitForLog(/registered/);
    // etcdctl prints lease IDs zero-padded to 16 digits; our logs (and leaseOf) do not pad.
    const granted = /lease ([0-9a-f]+) granted/.exec(await etcd.ctl('lease', 'grant', '30'))![1]!;
    const other = BigInt(`0x${granted}`).toString(16);
    await etcd.ctl('put', key, 'forced', '--lease', other);
    await node.waitForLog(/was put on lease .* by someone else; not registered until it is free again/, 5_000);
    await sleep(1500);
    expect(await leaseOf(etcd, key)).toBe(other);
    expect(node.child.exitCode).toBeNull();
    await etcd.ctl('lease', 'revoke', other);
    await waitFor(async () => (await leaseOf(etcd, key)) !== '', { timeoutMs: 5_000, what: 'the node to register again' });
    expect(node.child.exitCode).toBeNull();
    node.kill('SIGTERM');
    expect((await node.exited()).code).toBe(0);
  });

  it('two runs with one key: the first keeps its key and its server; the second registers only after the first deregisters', async () => {
    const key = '/clusters/own-run/10.2.0.4:80';
    const node = async (name: string) => {
      const port = await freePort();
      const log = join(dir, `${name}.child.log`);
      const c = await conf(name, key, { clusters: [{ name: 'db', path: '/clusters/own-run-db', handler: 'json', handlerConfig: join(dir, `${name}.db.json`) }] });
      const proc = spawn(['--conf', c, 'run', '--ready-tcp', `127.0.0.1:${port}`, '--timeout', '60', '--drain', '0', '--', process.execPath, CHILD], {
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG: log,
      });
      const events = async () =>
        (await readFile(log, 'utf8').catch(() => ''))
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { event: string; signal?: string });
      return { proc, port, events };
    };
    const a = await node('run-a');
    await a.proc.waitForLog(/ready: registered and watching/);
    const aLease = registeredLease(a.proc)!;
    const b = await node('run-b');
    await b.proc.waitForLog(/is held by lease/);
    expect(b.proc.stderr()).toContain(`is held by lease ${aLease}`);
    await sleep((TTL + 1) * 1000);
    // The first: its key, its server untouched (no signal), its run going on.
    expect(await leaseOf(etcd, key)).toBe(aLease);
    expect((await a.events()).filter((e) => e.event === 'signal')).toEqual([]);
    expect(a.proc.child.exitCode).toBeNull();
    expect(await (await fetch(`http://127.0.0.1:${a.port}/`)).text()).toBe('ok\n');
    // The second: its server started and ready, not registered, waiting.
    expect(b.proc.stderr()).not.toMatch(/ready: registered/);
    expect(b.proc.child.exitCode).toBeNull();

    const stoppedAt = Date.now();
    a.proc.kill('SIGTERM');
    expect((await a.proc.exited()).code).toBe(0);
    await b.proc.waitForLog(/ready: registered and watching/, 5_000);
    const tookOverMs = Date.now() - stoppedAt;
    console.log(`second run registered ${tookOverMs} ms after SIGTERM to the first`);
    expect(tookOverMs).toBeLessThan(3_000);
    expect(await leaseOf(etcd, key)).toBe(registeredLease(b.proc));
    b.proc.kill('SIGTERM');
    expect((await b.proc.exited()).code).toBe(0);
  });

  it('heartbeat --once then heartbeat on the same node: the later one takes the lease over at once; another node still waits', async () => {
    const key = '/clusters/own/10.2.0.9:80';
    const file = await conf('once', key);
    const once = await runCli(['--conf', file, 'heartbeat', '--once']);
    expect(once.code).toBe(0);
    const onceLease = /registered \S+ \(lease ([0-9a-f]+)/.exec(once.stderr)![1]!;
    expect(await leaseOf(etcd, key)).toBe(onceLease);

    // Another node (its own runtime directory: nothing handed over) must wait for that lease.
    const elsewhere = spawn(['--conf', file, 'heartbeat'], { XDG_RUNTIME_DIR: await tempDir('cc-other-node-') });
    await elsewhere.waitForLog(/is held by lease/);

    const startedAt = Date.now();
    const later = spawn(['--conf', file, 'heartbeat']);
    await later.waitForLog(/registered/);
    expect(Date.now() - startedAt).toBeLessThan(TTL * 1000);
    expect(later.stderr()).toMatch(new RegExp(`taking over lease ${onceLease} of ${key}`));
    // Kept alive past the --once TTL, on the same lease; the other node still waits.
    await sleep((TTL + 1) * 1000);
    expect(await leaseOf(etcd, key)).toBe(onceLease);
    expect(elsewhere.stderr()).not.toMatch(/registered/);
    later.kill('SIGTERM');
    await elsewhere.waitForLog(/registered/, 10_000);
  });
});

// Separate etcd: this one is frozen.
describe.skipIf(!haveEtcd)('run with etcd unreachable', () => {
  let etcd: EtcdServer;
  let dir: string;
  const running: CliProcess[] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
    dir = await tempDir('cc-own-frozen-');
  });
  afterAll(async () => {
    etcd?.signal('SIGCONT');
    for (const p of running) p.kill('SIGKILL');
    await etcd?.dispose();
  });

  const startRun = async (name: string) => {
    const port = await freePort();
    const key = `/clusters/frozen/127.0.0.1:${port}`;
    const conf = await writeJson(join(dir, `${name}.conf`), {
      // etcd's default call deadline (5 s): longer than the 2 s the exit may take.
      etcd: { endpoints: [etcd.endpoint], timeoutMs: 5000 },
      self: { key, ttl: TTL, heartbeat: 1 },
      clusters: [{ name: 'db', path: '/clusters/frozen-db', handler: 'json', handlerConfig: join(dir, `${name}.db.json`) }],
    });
    const run = spawnCli(['--conf', conf, 'run', '--ready-tcp', `127.0.0.1:${port}`, '--', ...EXIT7_CHILD], { env: { PORT: String(port) } });
    running.push(run);
    await waitFor(() => run.stdout().includes('child up'), { what: 'the child to be up' });
    const pid = Number(/\(pid (\d+)\)/.exec(run.stderr())![1]);
    return { run, pid, key };
  };

  /** Makes the child exit 7; resolves to how long `run` took to exit, and its result. */
  const exitChild = async (n: { run: CliProcess; pid: number }) => {
    const at = Date.now();
    process.kill(n.pid, 'SIGUSR1');
    const res = await n.run.exited(15_000);
    return { ms: Date.now() - at, res };
  };

  it('registered, then etcd frozen (SIGSTOP): a child that exits 7 makes run exit 7 within 2 s', async () => {
    const n = await startRun('registered');
    process.kill(n.pid, 'SIGUSR2'); // ready
    await n.run.waitForLog(/ready: registered and watching/);
    etcd.signal('SIGSTOP');
    try {
      await sleep(500);
      const { ms, res } = await exitChild(n);
      console.log(`run (registered, etcd frozen) exited ${res.code} ${ms} ms after its child exited 7`);
      expect(res.code).toBe(7);
      expect(ms).toBeLessThan(2_000);
    } finally {
      etcd.signal('SIGCONT');
    }
  });

  it('etcd frozen while registering: the child exiting 7 wins, run exits 7 within 2 s, the dead server is not registered', async () => {
    const n = await startRun('registering');
    etcd.signal('SIGSTOP');
    try {
      process.kill(n.pid, 'SIGUSR2'); // ready: run starts registering against a frozen etcd
      await n.run.waitForLog(/the server is ready/);
      await sleep(1000);
      const { ms, res } = await exitChild(n);
      console.log(`run (registering, etcd frozen) exited ${res.code} ${ms} ms after its child exited 7`);
      expect(res.code).toBe(7);
      expect(ms).toBeLessThan(2_000);
      expect(res.stderr).toMatch(/exited with code 7 before it was registered/);
    } finally {
      etcd.signal('SIGCONT');
    }
    // Whatever etcd does with the calls it had queued, the key does not outlive one TTL.
    await sleep((TTL + 1) * 1000);
    expect(await leaseOf(etcd, n.key)).toBe('');
  });
});
