import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type ClusterConfig, type ClusterTarget, type EtcdConnection, type Logger, type Metrics, ClusterSync } from '@cluster-control/core';
import type { StatusPublisher } from '@cluster-control/core/status';
import { HostResolver } from '@cluster-control/core/sync';

/** One cluster a watcher follows, as the configuration (and the command line) describe it now. */
export interface WatchSpec {
  target: ClusterTarget;
  cluster: ClusterConfig;
  /** The configuration file's directory: relative file names in handler options are relative to it. */
  baseDir: string;
  /** The reload to run after each replacement: the command line's, else the configured one. */
  reload: string[] | undefined;
  /** Continue after this revision (what `prepare` printed); absent: from the current state. */
  startRevision?: bigint | undefined;
}

/** What `apply` did, by cluster name. */
export interface ApplyReport {
  started: string[];
  stopped: string[];
  restarted: string[];
  unchanged: string[];
}

interface Running {
  spec: WatchSpec;
  fingerprint: string;
  sync: ClusterSync;
}

/**
 * The clusters one `watch` process follows, each its own ClusterSync (own file, check, reload,
 * wait), sharing the etcd connection, the status publisher and the host resolver. `apply` brings
 * the set in line with a new configuration: new clusters start, removed ones stop (their status
 * record deleted), changed ones restart from the current state; the others keep running.
 */
export class ClusterWatchers {
  private readonly running = new Map<string, Running>();
  private readonly resolver = new HostResolver();
  private failure: ((err: unknown) => void) | undefined;
  /** Rejects with the first non-retryable error that ended a cluster's watch. */
  readonly failed: Promise<never>;

  constructor(
    private readonly etcd: EtcdConnection,
    private readonly options: { logger: Logger; metrics: Metrics; status: StatusPublisher | undefined },
  ) {
    this.failed = new Promise<never>((_, reject) => (this.failure = reject));
    this.failed.catch(() => {}); // observed by whoever races it
  }

  names(): string[] {
    return [...this.running.keys()];
  }

  async apply(specs: readonly WatchSpec[]): Promise<ApplyReport> {
    const report: ApplyReport = { started: [], stopped: [], restarted: [], unchanged: [] };
    const wanted = new Map(specs.map((s) => [s.target.name, s]));
    const fingerprints = new Map(await Promise.all(specs.map(async (s) => [s.target.name, await fingerprint(s)] as const)));
    for (const name of this.names()) {
      if (wanted.has(name)) continue;
      await this.stop(name, true);
      report.stopped.push(name);
    }
    for (const spec of specs) {
      const name = spec.target.name;
      const current = this.running.get(name);
      const print = fingerprints.get(name)!;
      if (current && current.fingerprint === print) {
        report.unchanged.push(name);
        continue;
      }
      if (current) {
        // Its record is rewritten by the new sync unless the prefix moved.
        await this.stop(name, current.spec.target.path !== spec.target.path);
        // A restart reads the current state: what happened while it was stopped is in that read.
        this.start({ ...spec, startRevision: undefined }, print);
        report.restarted.push(name);
      } else {
        this.start(spec, print);
        report.started.push(name);
      }
    }
    return report;
  }

  /** Stops every cluster's sync (the status publisher is its owner's to close). */
  async stopAll(): Promise<void> {
    await Promise.all(this.names().map((name) => this.stop(name, false)));
  }

  private start(spec: WatchSpec, print: string): void {
    const { logger, metrics, status } = this.options;
    const { target, cluster } = spec;
    const sync = new ClusterSync(this.etcd, {
      target,
      reload: spec.reload,
      reloadTimeoutMs: cluster.reloadTimeoutMs,
      reloadMinIntervalMs: cluster.reloadMinIntervalMs,
      wait: cluster.wait,
      // Undefined means "from now": read the current state instead of replaying history.
      startRevision: spec.startRevision,
      logger,
      metrics,
      resolver: this.resolver,
      status: status ?? false,
    });
    this.running.set(target.name, { spec, fingerprint: print, sync });
    sync.start().then(
      () => {
        if (this.running.get(target.name)?.sync === sync) logger.info(`${target.name}: in sync at revision ${sync.revision}; watching ${target.path}/`);
      },
      () => {}, // the same error ends done() below
    );
    sync.done().catch((err: unknown) => {
      if (this.running.get(target.name)?.sync === sync) this.failure?.(err);
    });
  }

  private async stop(name: string, forgetStatus: boolean): Promise<void> {
    const current = this.running.get(name);
    if (!current) return;
    this.running.delete(name);
    await current.sync.stop();
    if (forgetStatus) await this.options.status?.forget(current.spec.target.path);
  }
}

/**
 * What makes a cluster "changed" on a re-read: its configuration entry, the reload it runs, and
 * the contents of files its handler options name by absolute path (a `templateFile` edited
 * before SIGHUP is a change, as with consul-template).
 */
async function fingerprint(spec: WatchSpec): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ cluster: spec.cluster, reload: spec.reload }, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)));
  for (const option of Object.values(spec.cluster.handlerOptions)) {
    // Any string may name a file (templateFile may be relative); one that is not a regular file is skipped.
    if (typeof option !== 'string' || option === '' || option.includes('\0')) continue;
    const value = resolve(spec.baseDir, option);
    try {
      // Regular files only: a FIFO or device named in an option must not block or be read.
      if ((await stat(value)).isFile()) hash.update(`\0${value}\0`).update(await readFile(value));
    } catch {
      // Unreadable: the handler's parseOptions already said what it thinks of it.
    }
  }
  return hash.digest('hex');
}
