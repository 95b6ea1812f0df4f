import type { EtcdConnection } from '../etcd/types.js';
import { EtcdAccessError } from '../etcd/errors.js';
import { describeError } from '../util/describe-error.js';
import { Registration, RegistrationTimeoutError } from '../registration/registration.js';
import { DEFAULT_STATUS_PREFIX, DEFAULT_STATUS_TTL } from '../status/status-record.js';
import { ClusterSync } from '../sync/cluster-sync.js';
import type { ClusterTarget } from '../sync/cluster-target.js';
import { StatusPublisher } from '../status/status-publisher.js';
import { HostResolver } from '../sync/host-resolver.js';
import { prepareCluster } from '../sync/prepare.js';
import { aborted, sleep } from '../util/backoff.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';
import { ErrorCode } from '../util/error-codes.js';
import { retryUntil } from '../etcd/retry.js';
import { type ReadinessProbe, ServiceStartError, type SupervisedService } from './service.js';

export interface SupervisedCluster {
  target: ClusterTarget;
  /** Command run after each replacement; without one the service's reload(cluster) is called. */
  reload?: string[] | undefined;
  reloadTimeoutMs?: number;
  /** Least time between two reloads, ms (default 1000). */
  reloadMinIntervalMs?: number | undefined;
  wait?: { min: number; max: number } | undefined;
}

export interface SupervisorOptions {
  etcd: EtcdConnection;
  clusters: SupervisedCluster[];
  /** The own key; without it the service runs and its files are kept current, but nothing registers. */
  self?: { key: string; value: string; ttl: number; heartbeat: number; adoptLease?: string | undefined } | undefined;
  service: SupervisedService;
  /** Registration waits for this; none = ready once started. */
  ready?: ReadinessProbe | undefined;
  readyTimeoutMs?: number;
  /**
   * The fleet view (README: Is the fleet in step?): this run publishes what its watches applied
   * under `prefix` (on a lease of `ttl` seconds), and on shutdown the drain waits for the watchers
   * publishing there. Default: the default prefix and TTL; false: no status, no waiting for the
   * fleet (only `drainMs`).
   */
  status?: { prefix: string; ttl?: number } | false | undefined;
  /**
   * On shutdown, after deleting the own key at revision R: how long to wait at most until every
   * live watcher of every cluster containing the key applied R with its reload ok, ms. Default
   * 30,000; 0: do not wait.
   */
  drainMaxMs?: number | undefined;
  /** On shutdown, after the fleet applied the deregistration (or drainMaxMs passed): this long more before stopping the service, for requests in flight. */
  drainMs?: number;
  /** How long `prepare` may wait for etcd before the run fails. */
  prepareTimeoutMs?: number;
  /**
   * How long registering may take (etcd unreachable, or the key held by another lease) before the
   * run stops the service and fails. Default: no limit.
   */
  registerTimeoutMs?: number | undefined;
  /**
   * Once the service has exited by itself: how long to wait for etcd to confirm the lease's
   * revocation (and the watches to stop) before passing its exit code on. Default 1 s; an
   * unconfirmed lease expires within its TTL.
   */
  deregisterTimeoutMs?: number;
  logger: Logger;
  metrics?: Metrics | undefined;
  /** Passed to the watches; tests shorten them. */
  watch?: { progressIntervalMs?: number; stallTimeoutMs?: number };
}

export type SupervisorEnd =
  /** An operator deleted the own key (or revoked its lease): the service was stopped. */
  | 'removed'
  /** shutdown() was called (SIGTERM/SIGINT): deregistered, drained, stopped. */
  | 'shutdown'
  /** The service ended by itself: deregistered; its exit code is passed on. */
  | 'service-exited';

/** How a run ended, and the exit code to pass on. */
export interface SupervisorResult {
  end: SupervisorEnd;
  exitCode: number;
}

export class SupervisorError extends Error {
  override name = 'SupervisorError';
  readonly code = ErrorCode.CC_SUPERVISOR;
}

/**
 * `cluster-control run` as an API: prepare every cluster's file → start the service → wait until
 * it is ready → register and watch every cluster (reloading the service after replacements) →
 * end on an operator's removal, a shutdown request, or the service exiting. On shutdown the key
 * is gone before the service is asked to stop.
 */
export class Supervisor {
  private readonly shutdownRequested = new AbortController();
  private readonly syncs = new Map<string, ClusterSync>();
  /** Publishes what every cluster's watch applied; one lease for the run. */
  private status: StatusPublisher | undefined;
  /** One cache of member host names for every cluster of the run. */
  private readonly resolver = new HostResolver();
  private registration: Registration | undefined;
  private publisher: StatusPublisher | undefined;
  private state: 'starting' | 'ready' | 'stopping' = 'starting';
  private markReady!: () => void;
  private readonly becameReady = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(private readonly options: SupervisorOptions) {}

  /** Resolves the first time the run is ready (registered and watching); stays pending if it ends before. */
  whenReady(): Promise<void> {
    return this.becameReady;
  }

  /** Asks a running supervisor to deregister, drain and stop (what SIGTERM does). */
  shutdown(): void {
    this.shutdownRequested.abort();
  }

  /** For /readyz: ready means registered (if configured) and every cluster watched. */
  readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (this.state !== 'ready') reasons.push(this.state === 'starting' ? 'starting' : 'stopping');
    if (this.options.self && !this.registration?.lease) reasons.push('not registered');
    for (const { target } of this.options.clusters) {
      const sync = this.syncs.get(target.name);
      if (!sync) reasons.push(`cluster ${target.name} not watched yet`);
      else if (!sync.fileState().current) reasons.push(`cluster ${target.name}: ${sync.fileState().problem ?? 'file not current'}`);
    }
    return { ready: reasons.length === 0, reasons };
  }

  /** Runs to the end; resolves with why it ended and the exit code to pass on. */
  async run(): Promise<SupervisorResult> {
    const { logger, metrics, service } = this.options;
    const stop = this.shutdownRequested.signal;
    const revisions = await this.prepareAll();
    if (stop.aborted) return { end: 'shutdown', exitCode: 0 };

    try {
      await service.start();
    } catch (err) {
      // Nothing is registered or watched yet: pass the shell-like exit code on (127: not found).
      if (!(err instanceof ServiceStartError)) throw err;
      logger.error(`the server could not be started: ${err.message} (exit ${err.exitCode})`);
      return { end: 'service-exited', exitCode: err.exitCode };
    }
    const exitedEarly = await this.waitUntilReady();
    if (exitedEarly !== undefined) return { end: 'service-exited', exitCode: exitedEarly };
    if (stop.aborted) return this.finish('shutdown', await service.stop());

    let removed: Promise<'removed' | 'stopped'> = new Promise(() => {});
    if (this.options.self) {
      const self = this.options.self;
      this.registration = new Registration(this.options.etcd, { ...self, logger, metrics, ...(this.options.watch ? { watch: this.options.watch } : {}) });
      // The service exiting wins over registering (etcd unreachable, the key held by another
      // lease): its exit code is passed on at once, and a dead server is never registered.
      const registering = await Promise.race([
        this.registration.register({ timeoutMs: this.options.registerTimeoutMs }).then(
          () => ({ outcome: 'registered' as const }),
          (err: unknown) => ({ outcome: 'failed' as const, err }),
        ),
        aborted(stop).then(() => ({ outcome: 'shutdown' as const })),
        service.exited.then((code) => ({ outcome: 'exited' as const, code })),
      ]);
      if (registering.outcome === 'shutdown') return this.finish('shutdown', await service.stop());
      if (registering.outcome === 'exited') {
        logger.error(`the server exited with code ${registering.code} before it was registered`);
        return this.finish('service-exited', registering.code);
      }
      if (registering.outcome === 'failed') {
        await this.registration.stop({ timeoutMs: this.deregisterTimeoutMs });
        await service.stop();
        const { err } = registering;
        throw err instanceof RegistrationTimeoutError ? new SupervisorError(`${err.message}; stopped the server`) : err;
      }
      // An error no retry can fix ends the registration: then stop as for a shutdown, as a
      // watch's does, rather than leave the server running unsupervised.
      removed = this.registration.run().catch((err: unknown) => {
        logger.error(`registration of ${self.key} stopped: ${describeError(err)}`);
        this.shutdown();
        return 'stopped' as const;
      });
    }
    await this.watchAll(revisions);
    this.state = 'ready';
    metrics?.set('cluster_control_ready', 1);
    logger.info('ready: registered and watching');
    this.markReady();

    const outcome = await Promise.race([
      removed.then((end) => (end === 'removed' ? ('removed' as const) : undefined)),
      aborted(stop).then(() => 'shutdown' as const),
      service.exited.then((code) => ({ code })),
    ]);
    this.state = 'stopping';
    metrics?.set('cluster_control_ready', 0);
    if (outcome === 'removed') {
      logger.info('this node was removed by an operator: stopping the server');
      return this.finish('removed', await service.stop(), 0);
    }
    if (outcome === 'shutdown' || outcome === undefined) {
      await this.drainRegistration();
      const drainMs = this.options.drainMs ?? 0;
      if (drainMs > 0) {
        logger.info(`draining for ${drainMs} ms before stopping the server`);
        await sleep(drainMs);
      }
      return this.finish('shutdown', await service.stop(), 0);
    }
    logger.info(`the server exited with code ${outcome.code}: deregistering`);
    return this.finish('service-exited', outcome.code);
  }

  private get deregisterTimeoutMs(): number {
    return this.options.deregisterTimeoutMs ?? 1_000;
  }

  private async prepareAll(): Promise<Map<string, bigint>> {
    const { etcd, logger, metrics } = this.options;
    const revisions = new Map<string, bigint>();
    for (const { target } of this.options.clusters) {
      const result = await retryUntil(`prepare ${target.name}`, () => prepareCluster(etcd, target, logger, metrics, this.resolver), {
        timeoutMs: this.options.prepareTimeoutMs ?? 30_000,
        logger,
        signal: this.shutdownRequested.signal,
      });
      if (result.outcome === 'check-failed' || result.outcome === 'failed') {
        throw new SupervisorError(`prepare ${target.name}: ${target.file} was not written (${result.outcome}); not starting the server`);
      }
      revisions.set(target.name, result.revision);
    }
    return revisions;
  }

  /** Resolves undefined once ready (or shutdown was asked for), or the exit code if the service ended first. */
  private async waitUntilReady(): Promise<number | undefined> {
    const { ready, readyTimeoutMs = 60_000, service, logger } = this.options;
    if (!ready) return undefined;
    const probe = new AbortController();
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), readyTimeoutMs).unref());
    const result = await Promise.race([
      ready(probe.signal).then(() => 'ready' as const),
      service.exited.then((code) => ({ code })),
      aborted(this.shutdownRequested.signal).then(() => 'shutdown' as const),
      timeout,
    ]);
    probe.abort();
    if (result === 'timeout') {
      await service.stop();
      throw new SupervisorError(`the server was not ready within ${Math.round(readyTimeoutMs / 1000)}s; stopped it`);
    }
    if (typeof result === 'object') {
      logger.error(`the server exited with code ${result.code} before it was ready`);
      return result.code;
    }
    if (result === 'ready') logger.info('the server is ready');
    return undefined;
  }

  private async watchAll(revisions: Map<string, bigint>): Promise<void> {
    const { etcd, logger, metrics, service } = this.options;
    // Published unless turned off (status: false), like the watch command does.
    const status = this.statusConfig();
    if (status) this.status ??= new StatusPublisher(etcd, { ...status, command: 'run', logger, metrics });
    for (const cluster of this.options.clusters) {
      const name = cluster.target.name;
      const sync = new ClusterSync(etcd, {
        target: cluster.target,
        reload: cluster.reload,
        // Without a command, reloading is the service's business (a signal to the child, a re-read):
        // through the same paced, retried path as a command.
        reloadAction: !cluster.reload && service.reload && (service.reloads?.(name) ?? true) ? async () => service.reload!(name) : undefined,
        ...(cluster.reloadTimeoutMs !== undefined ? { reloadTimeoutMs: cluster.reloadTimeoutMs } : {}),
        reloadMinIntervalMs: cluster.reloadMinIntervalMs,
        wait: cluster.wait,
        startRevision: revisions.get(name),
        logger,
        metrics,
        resolver: this.resolver,
        status: this.status ?? false,
        ...(this.options.watch ? { watch: this.options.watch } : {}),
      });
      this.syncs.set(name, sync);
      sync.start().catch(() => {}); // a fatal watch error surfaces through done()
      sync.done().catch((err) => {
        logger.error(`${name}: watching stopped: ${describeError(err)}`);
        if (err instanceof EtcdAccessError) this.shutdown();
      });
    }
  }

  /**
   * Deregisters for a shutdown: the key deleted at R, the lease revoked, then (status on and
   * drainMaxMs > 0) a bounded wait until the fleet applied R (Registration.drain logs whom it
   * waited for). Just the revocation otherwise.
   */
  private async drainRegistration(): Promise<void> {
    if (!this.registration) return;
    const { drainMaxMs = 30_000 } = this.options;
    const status = this.statusConfig();
    if (!status || drainMaxMs <= 0) {
      await this.registration.stop();
      return;
    }
    await this.registration.drain({ statusPrefix: status.prefix, maxMs: drainMaxMs });
  }

  /** The `status` option with its defaults: where watches publish and the drain reads; undefined when off. */
  private statusConfig(): { prefix: string; ttl: number } | undefined {
    const { status } = this.options;
    if (status === false) return undefined;
    return { prefix: status?.prefix ?? DEFAULT_STATUS_PREFIX, ttl: status?.ttl ?? DEFAULT_STATUS_TTL };
  }

  private async finish(end: SupervisorEnd, serviceCode: number, exitCode = serviceCode): Promise<SupervisorResult> {
    if (end === 'service-exited') {
      // Whatever etcd is doing, the exit code is passed on promptly: the revocation and the
      // watches' ends get one short bound, together.
      const bound = new AbortController();
      const done = Promise.allSettled([this.registration?.stop({ timeoutMs: this.deregisterTimeoutMs }), ...[...this.syncs.values()].map((s) => s.stop()), this.status?.close()]);
      const finished = await Promise.race([done.then(() => true), sleep(this.deregisterTimeoutMs + 200, bound.signal).then(() => false)]);
      bound.abort();
      if (!finished) this.options.logger.warn(`etcd did not answer within ${this.deregisterTimeoutMs} ms while stopping; exiting anyway`);
      return { end, exitCode };
    }
    await Promise.allSettled([...this.syncs.values()].map((s) => s.stop()));
    await this.status?.close();
    await this.registration?.stop({ revoke: end !== 'removed' });
    return { end, exitCode };
  }
}
