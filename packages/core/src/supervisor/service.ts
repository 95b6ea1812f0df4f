import { ErrorCode } from '../util/error-codes.js';

/**
 * What the Supervisor runs and registers: a child process (the CLI's `run`), or the embedding
 * application itself (a Node server started and stopped by callbacks).
 */
export interface SupervisedService {
  /** Starts the service; resolves once it has been started (not necessarily ready). */
  start(): Promise<void>;
  /** Resolves with the exit code when the service ends, on its own or after stop(). */
  readonly exited: Promise<number>;
  /** Stops it gracefully; resolves with its exit code. */
  stop(): Promise<number>;
  /** Tells it that a cluster's file was replaced (e.g. a reload signal to a child). */
  reload?(cluster: string): void | Promise<void>;
  /** Whether reload(cluster) does anything for that cluster (default: yes); a no-op is not run, logged or paced. */
  reloads?(cluster: string): boolean;
}

/**
 * What start() throws when the service could not be started at all and there is an exit code to
 * pass on for it, as a shell would: 127 for a command not found, 126 for one not executable.
 */
export class ServiceStartError extends Error {
  override name = 'ServiceStartError';
  readonly code = ErrorCode.CC_SERVICE_START;
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Resolves once the service accepts work; `signal` aborts the wait. */
export type ReadinessProbe = (signal: AbortSignal) => Promise<void>;
