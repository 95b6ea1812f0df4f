import type { Logger } from './log.js';

/**
 * The other signals whose default action ends a Node process, and that mean nothing else here:
 * they stop as SIGTERM does, because dying of them would leave the lease and the status records
 * behind for a TTL. Not among them: SIGKILL (cannot be caught; the TTL is the answer), SIGPROF
 * (V8's profiler's own), SIGSYS, SIGTRAP and the faults (a real one cannot be cleaned up after),
 * SIGUSR1 (Node's inspector; it does not end the process), SIGPIPE and SIGXFSZ (Node ignores them).
 */
const OTHER_ENDING_SIGNALS: readonly NodeJS.Signals[] = ['SIGALRM', 'SIGVTALRM', 'SIGIO', 'SIGPWR', 'SIGXCPU', 'SIGSTKFLT'];

/**
 * Signals that mean "stop" to a long-running command: it deregisters what it registered (lease
 * revoked, status records gone) and exits 0. SIGQUIT and SIGUSR2 are among them because their
 * default action would kill the process with its lease left behind for a TTL.
 */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGUSR2', ...OTHER_ENDING_SIGNALS];

/** A supervisor's stop signals: SIGQUIT and SIGUSR2 are left to the supervised server (see FORWARDED_SIGNALS). */
export const SUPERVISOR_STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', ...OTHER_ENDING_SIGNALS];

/**
 * Signals `cluster-control run` passes on to its server as they are: SIGHUP included (the server
 * reloads, `run` itself re-reads nothing), and SIGQUIT, nginx's graceful stop (the server exits and
 * `run` deregisters as for any server exit).
 */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGQUIT'];

export interface HandleSignalsOptions {
  /** The signals that mean stop. Default STOP_SIGNALS. */
  stop?: readonly NodeJS.Signals[];
  /** Told of every stop signal as it arrives (`signal` has aborted by then). */
  onStop?: (signal: NodeJS.Signals) => void;
  /**
   * SIGHUP: a function is called (`watch` re-reads its configuration); 'ignore' logs "SIGHUP
   * ignored" to `logger`, as a terminal closing or a `kill -HUP` meant for a reload must not end
   * a process with its key left registered. Absent: SIGHUP is left alone (unless forwarded).
   */
  hangup?: (() => void) | 'ignore';
  logger?: Logger;
  /** Signals passed on as they are, e.g. to a supervised server; they no longer end this process. */
  forward?: { signals: readonly NodeJS.Signals[]; to: (signal: NodeJS.Signals) => void };
}

export interface SignalHandling {
  /** Aborted on the first stop signal. */
  readonly signal: AbortSignal;
  /** That signal, once received. */
  received(): NodeJS.Signals | undefined;
  /** Removes every handler installed here; the signals get their default actions back. */
  dispose(): void;
}

/**
 * The one place where long-running commands and the supervisor install signal handlers. While
 * installed, a handled signal no longer kills the process.
 */
export function handleSignals(options: HandleSignalsOptions = {}): SignalHandling {
  const { stop = STOP_SIGNALS, onStop, hangup, logger, forward } = options;
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const handlers = new Map<NodeJS.Signals, () => void>();
  const add = (signal: NodeJS.Signals, handler: () => void) => {
    if (handlers.has(signal)) throw new Error(`handleSignals: ${signal} given two meanings (stop, SIGHUP, forward)`);
    handlers.set(signal, handler);
  };
  for (const signal of new Set(stop)) {
    add(signal, () => {
      received ??= signal;
      controller.abort();
      onStop?.(signal);
    });
  }
  if (hangup) add('SIGHUP', hangup === 'ignore' ? () => logger?.info('SIGHUP ignored') : () => hangup());
  for (const signal of new Set(forward?.signals)) add(signal, () => forward!.to(signal));
  for (const [signal, handler] of handlers) process.on(signal, handler);
  let disposed = false;
  return {
    signal: controller.signal,
    received: () => received,
    dispose: () => {
      if (disposed) return;
      disposed = true;
      for (const [signal, handler] of handlers) process.off(signal, handler);
    },
  };
}
