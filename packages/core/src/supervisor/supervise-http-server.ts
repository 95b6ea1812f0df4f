import type { EtcdConnection, EtcdConnectionOptions } from '../etcd/types.js';
import { connectEtcd } from '../etcd/grpc-connection.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';
import { HttpServerService, type HttpServerServiceOptions } from './http-server-service.js';
import { httpProbe } from './readiness.js';
import { runSupervisor } from './run-supervisor.js';
import { type SupervisedCluster, Supervisor, type SupervisorResult } from './supervisor.js';

export interface SuperviseHttpServerOptions {
  /** Where etcd is. The connection is opened here and closed when the run ends. */
  etcd: EtcdConnectionOptions;
  /** This server's key: registered once it is ready, on a lease of `ttl` seconds kept alive every `heartbeat` seconds (default ttl/3). */
  self: { key: string; value: string; ttl: number; heartbeat?: number };
  /** Clusters whose files are kept current; after each replacement `server.onReload(name)` is called (unless the cluster has a reload command). */
  clusters?: SupervisedCluster[];
  /** The HTTP server: HttpServerService's options, the logger aside. */
  server: Omit<HttpServerServiceOptions, 'logger'>;
  /** A path that answers 2xx once the server can take work, e.g. `/healthz`; registering waits for it. Without one, listening is ready. */
  readyPath?: string;
  /** How long registering waits for `readyPath` (the Supervisor's default: 60 s). */
  readyTimeoutMs?: number;
  /** Between deregistering and closing the server on shutdown, so balancers stop sending traffic first. Default 0. */
  drainMs?: number;
  /**
   * On shutdown, after deleting the key: how long to wait at most for every watcher of the
   * clusters containing it to apply the deletion (their status under `status.prefix`), ms, before
   * `drainMs`. Default 30,000; 0: do not wait. `status: false`: no waiting for the fleet.
   */
  drainMaxMs?: number;
  status?: { prefix: string; ttl?: number } | false;
  /** How long preparing the clusters' files may wait for etcd (the Supervisor's default: 30 s). */
  prepareTimeoutMs?: number;
  logger: Logger;
  metrics?: Metrics;
  /** Called once, when registered and watching, with the server's base URL (HttpServerService.url()). */
  onReady?: (url: string) => void;
  /** The signals that mean "deregister, drain and stop". Default SIGTERM and SIGINT. */
  signals?: readonly NodeJS.Signals[];
}

/**
 * Runs a Node HTTP server under cluster-control, the way `cluster-control run` runs a server
 * command, in one call: connect to etcd → write every cluster's file → listen (an
 * HttpServerService) → wait for `readyPath` → register `self.key` → keep the files current,
 * calling `server.onReload` after each replacement. It ends when an operator deletes the key
 * (the server closes; exit code 0), on SIGTERM/SIGINT (deregister, drain, close; 0), or when the
 * server fails (deregister; 1).
 *
 * Resolves with how the run ended and the exit code to pass on, once the server is closed and the
 * etcd connection too; rejects (after closing them) when it could not run: etcd out of reach
 * while preparing, a cluster's file not written, the port taken, the server never ready.
 *
 * @example
 * const { exitCode } = await superviseHttpServer({
 *   etcd: { endpoints: ['http://127.0.0.1:2379'] },
 *   self: { key: `/services/web/${host}:${port}`, value: '{}', ttl: 10 },
 *   clusters: [{ target: dbTarget }],
 *   server: { host, port, handler, onReload: () => app.reloadDatabases() },
 *   readyPath: '/healthz',
 *   logger,
 * });
 * process.exitCode = exitCode;
 */
export async function superviseHttpServer(options: SuperviseHttpServerOptions): Promise<SupervisorResult> {
  const { logger, readyPath, onReady } = options;
  const service = new HttpServerService({ ...options.server, logger });
  let etcd: EtcdConnection | undefined;
  try {
    return await runSupervisor(
      async () => {
        etcd = await connectEtcd({ logger, ...options.etcd });
        const { key, value, ttl, heartbeat = ttl / 3 } = options.self;
        return new Supervisor({
          etcd,
          clusters: options.clusters ?? [],
          self: { key, value, ttl, heartbeat },
          service,
          ready: readyPath === undefined ? undefined : (signal) => httpProbe(new URL(readyPath, `${service.url()}/`).href)(signal),
          readyTimeoutMs: options.readyTimeoutMs,
          drainMs: options.drainMs,
          drainMaxMs: options.drainMaxMs,
          status: options.status,
          prepareTimeoutMs: options.prepareTimeoutMs,
          logger,
          metrics: options.metrics,
        });
      },
      { logger, onReady: onReady && (() => onReady(service.url())), signals: options.signals },
    );
  } finally {
    await service.stop();
    etcd?.close();
  }
}
