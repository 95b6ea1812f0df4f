import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';
import { startFailure } from '../install/run-command.js';
import { ServiceStartError, type SupervisedService } from './service.js';

export interface ChildServiceOptions {
  argv: string[];
  /** Sent to stop the child gracefully. Default SIGTERM. */
  stopSignal?: NodeJS.Signals;
  /** After the stop signal, SIGKILL once this has passed. Default 10 s. */
  stopGraceMs?: number;
  /** Signal to send after a cluster's file was replaced, by cluster name (clusters without one are not signalled). */
  reloadSignals?: Readonly<Record<string, NodeJS.Signals>>;
  logger: Logger;
  metrics?: Metrics | undefined;
}

/** A server command run as a child process sharing our stdio; its exit code is ours to pass on. */
export class ChildService implements SupervisedService {
  private child: ChildProcess | undefined;
  private resolveExit!: (code: number) => void;
  readonly exited = new Promise<number>((resolve) => (this.resolveExit = resolve));
  private exitCode: number | undefined;

  constructor(private readonly options: ChildServiceOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Throws ServiceStartError (exit code 127 or 126) when the command is not found or not executable. */
  async start(): Promise<void> {
    const [command, ...args] = this.options.argv;
    if (!command) throw new Error('no server command given');
    // Its own process group, so a server that outlives its grace period is killed with all the
    // workers it forked (apache's children keep serving when only their parent is SIGKILLed).
    const child = spawn(command, args, { stdio: 'inherit', detached: true });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => {
        // Not found or not executable: the exit code a shell would give, for `run` to pass on.
        const { code, message } = startFailure(command, err);
        reject(code === null ? new Error(`could not start ${command}: ${message}`) : new ServiceStartError(message, code));
      });
    });
    this.options.metrics?.set('cluster_control_child_up', 1);
    this.options.logger.info(`started ${this.options.argv.join(' ')} (pid ${child.pid})`);
    child.once('exit', (code, signal) => {
      // A child killed by a signal exits like a shell reports it: 128 + the signal's number.
      this.exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
      this.options.metrics?.set('cluster_control_child_up', 0);
      this.options.logger.info(`${command} exited (${signal ? `signal ${signal}` : `code ${code}`})`);
      this.resolveExit(this.exitCode);
    });
  }

  /** Sends a signal to the child if it is still running. */
  signal(signal: NodeJS.Signals): void {
    if (!this.child || this.exitCode !== undefined) return;
    this.options.metrics?.inc('cluster_control_child_signals_total', { signal });
    this.child.kill(signal);
  }

  private killGroup(): void {
    const pid = this.child?.pid;
    if (pid === undefined || this.exitCode !== undefined) return;
    this.options.metrics?.inc('cluster_control_child_signals_total', { signal: 'SIGKILL' });
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      this.child?.kill('SIGKILL'); // the group is gone already
    }
  }

  reloads(cluster: string): boolean {
    return this.options.reloadSignals?.[cluster] !== undefined;
  }

  reload(cluster: string): void {
    const signal = this.options.reloadSignals?.[cluster];
    if (!signal) return;
    this.options.logger.info(`${cluster}: sending ${signal} to the server`);
    this.signal(signal);
  }

  async stop(): Promise<number> {
    if (!this.child || this.exitCode !== undefined) return this.exitCode ?? 0;
    const { stopSignal = 'SIGTERM', stopGraceMs = 10_000, logger } = this.options;
    logger.info(`stopping the server with ${stopSignal}`);
    this.signal(stopSignal);
    const timer = setTimeout(() => {
      logger.warn(`the server did not stop within ${stopGraceMs} ms; sending SIGKILL to its process group`);
      this.killGroup();
    }, stopGraceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
