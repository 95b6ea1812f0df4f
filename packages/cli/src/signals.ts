import type { Logger } from '@cluster-control/core';

/**
 * Signals that mean "stop" to a long-running command: it deregisters what it registered (lease
 * revoked, status records gone) and exits 0. SIGQUIT is among them because its default action
 * would kill the process with its lease left behind for a TTL.
 */
export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT'];

/**
 * Installs `handlers` for the process's lifetime in a command; returns the function that removes
 * them. While a handler is installed, its signal no longer kills the process.
 */
export function onSignals(handlers: Partial<Record<NodeJS.Signals, (signal: NodeJS.Signals) => void>>): () => void {
  const installed = Object.entries(handlers) as [NodeJS.Signals, (signal: NodeJS.Signals) => void][];
  for (const [signal, handler] of installed) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of installed) process.off(signal, handler);
  };
}

export interface ShutdownSignal {
  /** Aborted on the first of SHUTDOWN_SIGNALS. */
  signal: AbortSignal;
  /** That signal, once received. */
  received: () => NodeJS.Signals | undefined;
  dispose: () => void;
}

/**
 * The signal plumbing of a long-running command: SHUTDOWN_SIGNALS abort `signal`; SIGHUP calls
 * `onHangup` (`watch` re-reads its configuration) or, without one, is logged and ignored — a
 * terminal closing or a `kill -HUP` meant for a reload must not end a command with its key left
 * registered.
 */
export function shutdownSignal(logger: Logger, options: { onHangup?: () => void } = {}): ShutdownSignal {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const stop = (sig: NodeJS.Signals) => {
    received ??= sig;
    controller.abort();
  };
  const handlers: Partial<Record<NodeJS.Signals, (signal: NodeJS.Signals) => void>> = {
    SIGHUP: options.onHangup ? () => options.onHangup!() : () => logger.info('SIGHUP ignored'),
  };
  for (const sig of SHUTDOWN_SIGNALS) handlers[sig] = stop;
  const dispose = onSignals(handlers);
  return { signal: controller.signal, received: () => received, dispose };
}
