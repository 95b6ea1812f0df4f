import { describeError } from '../util/describe-error.js';
import type { Logger } from '../util/log.js';
import { SUPERVISOR_STOP_SIGNALS, handleSignals } from '../util/signals.js';
import type { Supervisor, SupervisorResult } from './supervisor.js';

export interface RunSupervisorOptions {
  logger: Logger;
  /** Called once, when the run first becomes ready (registered and watching every cluster). */
  onReady?: () => void;
  /** The signals that mean "deregister, drain and stop". Default SIGTERM and SIGINT. */
  signals?: readonly NodeJS.Signals[];
}

/**
 * Runs a Supervisor as the process's main job, the way `cluster-control run` does: while it runs,
 * SIGTERM and SIGINT (or `signals`) no longer kill the process but call supervisor.shutdown(), so
 * the key is revoked before the service stops and the process can exit 0; the handlers are
 * removed again when the run ends.
 *
 * Pass a function instead of a Supervisor to create it (e.g. after connecting to etcd) with the
 * handlers already in place: a signal that arrives before run() starts still shuts it down. A
 * failure after such a signal (say, etcd out of reach while preparing) counts as a clean shutdown:
 * nothing was registered. Any other failure rejects.
 */
export async function runSupervisor(supervisor: Supervisor | (() => Supervisor | Promise<Supervisor>), options: RunSupervisorOptions): Promise<SupervisorResult> {
  const { logger, onReady, signals = SUPERVISOR_STOP_SIGNALS } = options;
  let running: Supervisor | undefined;
  const handling = handleSignals({
    stop: signals,
    onStop: (signal) => {
      logger.info(`${signal}: shutting down`);
      running?.shutdown();
    },
  });
  const signalled = () => handling.received() !== undefined;
  try {
    running = typeof supervisor === 'function' ? await supervisor() : supervisor;
    if (signalled()) running.shutdown();
    if (onReady) {
      running
        .whenReady()
        .then(onReady)
        .catch((err: unknown) => logger.error(`onReady: ${describeError(err)}`));
    }
    const result = await running.run();
    logger.info(`stopped (${result.end}); exit code ${result.exitCode}`);
    return result;
  } catch (err) {
    if (!signalled()) throw err;
    logger.info(`stopped before registering (${describeError(err)})`);
    return { end: 'shutdown', exitCode: 0 };
  } finally {
    handling.dispose();
  }
}
