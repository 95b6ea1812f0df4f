import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { EtcdConnection } from '@cluster-control/core';
import { connectEtcd, prefixRange } from '@cluster-control/core/etcd';
import { type CliProcess, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';

/*
 * What every fault scenario is made of: continuous membership churn, real watchers and
 * registrants (the CLI as operators run it), and the final comparison of every watcher's file
 * with etcd's state.
 */

/** A client of our own for the test's side: churn, reads, expiry monitoring. */
export function testClient(endpoints: string[]): Promise<EtcdConnection> {
  return connectEtcd({ endpoints, timeoutMs: 2000 });
}

/** The member names etcd holds directly under `path/`, sorted like the json handler sorts them. */
export async function etcdMembers(etcd: EtcdConnection, path: string): Promise<string[]> {
  const res = await etcd.range(prefixRange(path + '/'));
  return res.kvs.map((kv) => kv.key.slice(path.length + 1)).sort(byMemberOrder);
}

const byMemberOrder = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/**
 * Puts and deletes members of a cluster every `intervalMs`, from a pool of `poolSize` names (odd)
 * (10.77.x.y:80), until stopped. Only operations etcd confirmed count as changes made; while
 * etcd is down the churn keeps trying.
 */
export class Churn {
  made = 0;
  failed = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private n = 0;

  constructor(
    private readonly etcd: EtcdConnection,
    readonly path: string,
    private readonly options: { intervalMs?: number; poolSize?: number; subnet?: number } = {},
  ) {}

  start(): this {
    this.timer = setInterval(() => {
      this.inFlight = this.inFlight.then(() => this.step());
    }, this.options.intervalMs ?? 50);
    return this;
  }

  /** Stops and waits for the last operation. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.inFlight;
  }

  private async step(): Promise<void> {
    // Odd, so that over the rounds every name is both put and deleted: with an even pool the
    // same names would always be put and the others always deleted, and membership would freeze.
    const pool = this.options.poolSize ?? 41;
    const i = this.n++ % pool;
    const name = `10.77.${this.options.subnet ?? 0}.${(i * 7919) % pool}:80`;
    const key = `${this.path}/${name}`;
    try {
      // Alternate: a put on even steps, a delete of some earlier name on odd ones.
      if (this.n % 2 === 0) await this.etcd.put(key, JSON.stringify({ step: this.n }));
      else await this.etcd.delete(key);
      this.made++;
    } catch {
      this.failed++;
    }
  }
}

export interface Watcher {
  readonly proc: CliProcess;
  readonly file: string;
  readonly conf: string;
  members(): Promise<string[]>;
  stop(): Promise<void>;
}

/** `cluster-control watch <cluster> 0` as a separate process, writing a json file. */
export async function startWatcher(endpoints: string[], path: string, extra: { etcd?: Record<string, unknown>; cluster?: Record<string, unknown> } = {}): Promise<Watcher> {
  const dir = await tempDir('cc-fault-watch-');
  const file = join(dir, 'members.json');
  const conf = await writeJson(join(dir, 'cc.conf'), {
    etcd: { endpoints, timeoutMs: 2000, ...extra.etcd },
    clusters: [{ name: 'c', path, handler: 'json', handlerConfig: file, ...extra.cluster }],
  });
  const proc = spawnCli(['--conf', conf, 'watch', 'c', '0']);
  await proc.waitForLog(/in sync at revision/, 30_000);
  return watcherOf(proc, file, conf);
}

/** A Watcher for a process already started on `conf` that keeps `file` (a json members list) current. */
export function watcherOf(proc: CliProcess, file: string, conf: string): Watcher {
  return {
    proc,
    file,
    conf,
    members: async () => JSON.parse(await readFile(file, 'utf8')) as string[],
    stop: async () => {
      proc.kill('SIGTERM');
      await proc.exited(15_000);
    },
  };
}

/** Waits until every watcher's file equals etcd's members; resolves with how long that took. */
export async function waitConverged(etcd: EtcdConnection, path: string, watchers: Watcher[], timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  await waitFor(
    async () => {
      const want = JSON.stringify(await etcdMembers(etcd, path));
      for (const w of watchers) if (JSON.stringify(await w.members()) !== want) return false;
      return true;
    },
    { timeoutMs, intervalMs: 50, what: `every watcher's file to equal etcd's members under ${path}` },
  );
  return Date.now() - started;
}

/** Members in a file but not in etcd, plus members in etcd but not in the file. */
export async function lostChanges(etcd: EtcdConnection, path: string, watcher: Watcher): Promise<number> {
  const want = new Set(await etcdMembers(etcd, path));
  const have = new Set(await watcher.members());
  let lost = 0;
  for (const m of want) if (!have.has(m)) lost++;
  for (const m of have) if (!want.has(m)) lost++;
  return lost;
}

export interface Registrant {
  readonly key: string;
  readonly proc: CliProcess;
  stop(): Promise<void>;
}

/** `cluster-control heartbeat` for `key` as a separate process. */
export async function startRegistrant(endpoints: string[], key: string, ttl: number, extraEtcd: Record<string, unknown> = {}): Promise<Registrant> {
  const dir = await tempDir('cc-fault-reg-');
  const conf = await writeJson(join(dir, 'cc.conf'), { etcd: { endpoints, timeoutMs: 2000, ...extraEtcd }, self: { key, ttl } });
  const proc = spawnCli(['--conf', conf, 'heartbeat']);
  await proc.waitForLog(/registered/, 30_000);
  return {
    key,
    proc,
    stop: async () => {
      proc.kill('SIGTERM');
      await proc.exited(15_000);
    },
  };
}

/**
 * Counts registrations that vanished while their registrant was alive: polls each key every
 * `intervalMs` and counts a transition from present to absent as a false expiry unless the
 * registrant has exited. (A heartbeat that re-registers after such a loss still counts it.)
 */
export class ExpiryMonitor {
  falseExpiries = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly present = new Map<string, boolean>();

  constructor(
    private readonly etcd: EtcdConnection,
    private readonly registrants: Registrant[],
    private readonly intervalMs = 200,
  ) {}

  start(): this {
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    for (const r of this.registrants) {
      let now: boolean;
      try {
        now = (await this.etcd.range({ key: r.key, prefix: false })).kvs.length > 0;
      } catch {
        continue; // etcd unreachable: no information
      }
      const before = this.present.get(r.key);
      if (before === true && !now && r.proc.child.exitCode === null) this.falseExpiries++;
      this.present.set(r.key, now);
    }
  }
}

/**
 * A scenario's teardown, whatever state it stopped in: monitor and churn stopped, every watcher
 * and registrant process SIGKILLed and reaped, and their temp dirs removed.
 */
export async function stopScenario(parts: { monitor?: ExpiryMonitor | undefined; churn?: Churn | undefined; watchers: Watcher[]; registrants: Registrant[] }): Promise<void> {
  parts.monitor?.stop();
  await parts.churn?.stop();
  const procs = [...parts.watchers.map((w) => w.proc), ...parts.registrants.map((r) => r.proc)];
  for (const p of procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.kill('SIGKILL');
  }
  await Promise.allSettled(procs.map((p) => p.exited(5_000)));
  for (const dir of [...parts.watchers.map((w) => dirname(w.file)), ...parts.registrants.map((r) => confDir(r.proc))]) {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** The directory of the config file a CLI process was started with (`--conf FILE`). */
function confDir(proc: CliProcess): string | undefined {
  const args = proc.child.spawnargs;
  const i = args.indexOf('--conf');
  return i >= 0 && args[i + 1] ? dirname(args[i + 1]!) : undefined;
}
