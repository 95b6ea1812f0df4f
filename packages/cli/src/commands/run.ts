import { type Metrics, Supervisor, type SupervisedCluster } from '@cluster-control/core';
import { type ObservabilityServer, type PrometheusMetrics, createPrometheusMetrics, serveObservability } from '@cluster-control/core/observe';
import { ChildService, FORWARDED_SIGNALS, SUPERVISOR_STOP_SIGNALS, handleSignals, httpProbe, parseHostPort, tcpProbe } from '@cluster-control/core/supervisor';
import { createMetrics } from '@cluster-control/core/util';
import { builtinHandlers } from '@cluster-control/handlers';
import type { CommandContext } from '../context.js';
import { configProblems, summarize } from '../config-checks.js';
import { RuntimeError, UsageError } from '../errors.js';
import { takeLeftLease } from '../lease-handover.js';

export interface RunOptions {
  readyTcp?: string;
  readyHttp?: string;
  readyTimeout: number;
  reloadSignal?: NodeJS.Signals;
  stopSignal: NodeJS.Signals;
  stopGrace: number;
  drain: number;
  /** ms; 0: do not wait for the fleet on shutdown. */
  drainMax: number;
  metrics?: string;
  checkConfig?: boolean;
  timeout: number;
}

/**
 * `run [options] -- <server command...>`: one supervisor process instead of the PHP version's
 * startup script: prepare every cluster, start the server, register once it is ready, keep files
 * current and the server reloaded, and deregister before it stops.
 */
export async function run(ctx: CommandContext, command: string[], options: RunOptions): Promise<number> {
  if (command.length === 0) throw new UsageError('run: give the server command after --, e.g. cluster-control run -- apache2 -DFOREGROUND');
  const readyTcp = options.readyTcp === undefined ? undefined : parseHostPort(options.readyTcp);
  if (options.readyTcp !== undefined && !readyTcp) throw new UsageError(`--ready-tcp: expected HOST:PORT, got ${JSON.stringify(options.readyTcp)}`);
  if (options.readyHttp !== undefined && !/^https?:\/\/[^\s]+$/.test(options.readyHttp)) throw new UsageError(`--ready-http: expected an http(s) URL, got ${JSON.stringify(options.readyHttp)}`);

  if (options.checkConfig) {
    // check-config's checks: every problem, not only the first. (The server command is not
    // looked up: a plan is often checked on a machine without the server installed.)
    const problems = await configProblems(ctx.config, builtinHandlers);
    if (problems.length > 0) {
      process.stdout.write([...problems, summarize(ctx.config, problems)].join('\n') + '\n');
      return 2;
    }
  }

  const clusters: SupervisedCluster[] = [];
  const reloadSignals: Record<string, NodeJS.Signals> = {};
  for (const cluster of ctx.config.clusters) {
    clusters.push({ target: await ctx.target(cluster.name), reload: cluster.reload, reloadTimeoutMs: cluster.reloadTimeoutMs, reloadMinIntervalMs: cluster.reloadMinIntervalMs, wait: cluster.wait });
    const signal = cluster.reload ? undefined : (cluster.reloadSignal ?? options.reloadSignal);
    if (signal) reloadSignals[cluster.name] = signal;
  }
  if (options.checkConfig) {
    process.stdout.write(describePlan(ctx, command, clusters, reloadSignals, options));
    return 0;
  }

  const prometheus: PrometheusMetrics | undefined = options.metrics ? createPrometheusMetrics() : undefined;
  const metrics: Metrics = prometheus ?? createMetrics();
  const child = new ChildService({ argv: command, stopSignal: options.stopSignal, stopGraceMs: options.stopGrace, reloadSignals, logger: ctx.logger, metrics });
  const ready = readyTcp ? tcpProbe(readyTcp.host, readyTcp.port) : options.readyHttp ? httpProbe(options.readyHttp) : undefined;
  const supervisor = new Supervisor({
    etcd: await ctx.etcd(),
    clusters,
    self: ctx.config.self ? { ...ctx.config.self, adoptLease: takeLeftLease(ctx.config.self.key, ctx.config.etcd.endpoints) } : undefined,
    service: child,
    ready,
    readyTimeoutMs: options.readyTimeout,
    drainMs: options.drain,
    // On SIGTERM: the key deleted at R, then up to --drain-max for the fleet to apply R, then --drain.
    status: ctx.config.status,
    drainMaxMs: options.drainMax,
    prepareTimeoutMs: options.timeout,
    registerTimeoutMs: options.timeout,
    // Once the server has exited, its exit code is passed on within 2 s whatever etcd is doing.
    deregisterTimeoutMs: Math.min(ctx.config.etcd.timeoutMs, 1_000),
    logger: ctx.logger,
    metrics,
  });

  // SIGTERM and SIGINT shut down; the others (SIGHUP, SIGQUIT…) are the server's.
  const signals = handleSignals({
    stop: SUPERVISOR_STOP_SIGNALS,
    onStop: () => supervisor.shutdown(),
    forward: { signals: FORWARDED_SIGNALS, to: (signal) => child.signal(signal) },
  });
  let endpoints: ObservabilityServer | undefined;
  try {
    endpoints =
      prometheus && options.metrics
        ? await serveObservability({ address: options.metrics, metrics: prometheus, ready: () => supervisor.readiness() }).catch((err: Error) => {
            throw new RuntimeError(`--metrics: ${err.message}`);
          })
        : undefined;
    if (endpoints) ctx.logger.info(`serving /metrics, /healthz and /readyz on ${endpoints.address}`);
    const { end, exitCode } = await supervisor.run();
    ctx.logger.info(`run ended (${end}); exit code ${exitCode}`);
    return exitCode;
  } finally {
    signals.dispose();
    await endpoints?.close();
  }
}

function describePlan(ctx: CommandContext, command: string[], clusters: SupervisedCluster[], reloadSignals: Record<string, NodeJS.Signals>, options: RunOptions): string {
  const lines = [`configuration OK: ${ctx.config.sourcePath}`];
  lines.push(`etcd: ${ctx.config.etcd.endpoints.join(', ')}`);
  lines.push(ctx.config.self ? `register: ${ctx.config.self.key} (ttl ${ctx.config.self.ttl}s, heartbeat ${ctx.config.self.heartbeat}s)` : 'register: nothing (no "self" section)');
  for (const { target, reload } of clusters) {
    const after = reload ? `reload: ${reload.join(' ')}` : reloadSignals[target.name] ? `signal: ${reloadSignals[target.name]}` : 'no reload';
    lines.push(`cluster ${target.name}: ${target.path}/ → ${target.file} (${target.handler.name}); ${after}`);
  }
  const readiness = options.readyTcp ? `tcp ${options.readyTcp}` : options.readyHttp ? `http ${options.readyHttp}` : 'at once';
  lines.push(`server: ${command.join(' ')}; ready: ${readiness}; stop: ${options.stopSignal}, SIGKILL after ${options.stopGrace / 1000}s; drain ${options.drain / 1000}s`);
  lines.push(describeDrain(ctx, options));
  return lines.join('\n') + '\n';
}

function describeDrain(ctx: CommandContext, options: RunOptions): string {
  const fleet =
    ctx.config.status === false
      ? 'status is off: no waiting for the fleet'
      : options.drainMax > 0
        ? `wait up to ${options.drainMax / 1000}s for every watcher under ${ctx.config.status.prefix} to apply it`
        : '--drain-max 0: no waiting for the fleet';
  return `on shutdown: delete the own key, ${fleet}, then drain ${options.drain / 1000}s`;
}
