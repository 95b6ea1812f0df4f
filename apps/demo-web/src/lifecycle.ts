import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EtcdConnection, type Logger, type SupervisedCluster, Supervisor, connectEtcd, describeError, httpProbe } from '@cluster-control/core';
import type { CommonArgs } from './args.js';
import type { HttpService } from './http-service.js';

// Runs an app under core's Supervisor: prepare its clusters' files → start its HTTP server →
// wait until it answers → register its key → keep the files current (reloading the app) → on
// SIGTERM/SIGINT deregister, drain briefly and stop; on an operator's removal stop by itself.
// (Each app carries its own copy; see args.ts.)

export type Kind = 'dbserver' | 'webserver' | 'loadbalancer';

export interface SupervisedApp {
  args: CommonArgs;
  kind: Kind;
  /** The registration value (JSON text). */
  value: string;
  service: HttpService;
  clusters: SupervisedCluster[];
  logger: Logger;
  /** Where the app's own readiness is probed (answers 2xx once serving). */
  readyPath: string;
}

export const DRAIN_MS = 300;
const READY_POLL_MS = 50;

/** The data dir from --data-dir (created), or a new temp dir that is removed again at the end. */
export async function dataDir(args: CommonArgs, app: string): Promise<{ dir: string; dispose: () => Promise<void> }> {
  if (args.dataDir !== undefined) {
    await mkdir(args.dataDir, { recursive: true });
    return { dir: args.dataDir, dispose: async () => {} };
  }
  const dir = await mkdtemp(join(tmpdir(), `${app}-`));
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** Resolves with the process exit code; everything it opened is closed by then. */
export async function runSupervised(app: SupervisedApp): Promise<number> {
  const { args, logger, service } = app;
  const key = `${args.prefix}/${app.kind}/${args.name}`;
  let etcd: EtcdConnection | undefined;
  let supervisor: Supervisor | undefined;
  let stopRequested = false;
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info(`${signal}: shutting down`);
    stopRequested = true;
    supervisor?.shutdown();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let readyTimer: NodeJS.Timeout | undefined;
  try {
    etcd = await connectEtcd({ endpoints: args.etcd, logger });
    supervisor = new Supervisor({
      etcd,
      clusters: app.clusters,
      self: { key, value: app.value, ttl: args.ttl, heartbeat: args.ttl / 3 },
      service,
      ready: httpProbe(`${args.url}${app.readyPath}`),
      readyTimeoutMs: 15_000,
      drainMs: DRAIN_MS,
      logger,
    });
    if (stopRequested) supervisor.shutdown();
    const running = supervisor;
    readyTimer = setInterval(() => {
      if (!running.readiness().ready) return;
      clearInterval(readyTimer);
      process.stderr.write(`ready ${args.url}\n`);
    }, READY_POLL_MS);
    const { end, exitCode } = await running.run();
    logger.info(`stopped (${end}); exit code ${exitCode}`);
    return exitCode;
  } catch (err) {
    if (stopRequested) {
      // SIGTERM while still preparing (e.g. etcd out of reach): nothing was registered.
      logger.info(`stopped before registering (${describeError(err)})`);
      return 0;
    }
    logger.error(describeError(err));
    return 1;
  } finally {
    clearInterval(readyTimer);
    await service.stop().catch(() => 1);
    etcd?.close();
  }
}
