import { Backoff, type BackoffOptions } from '../util/backoff.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';
import { describeFailure, firstLine, runCommand, truncateOutput } from './run-command.js';

/** Least time between the starts of two reload runs when none is configured (ms). */
export const DEFAULT_RELOAD_MIN_INTERVAL_MS = 1_000;

export interface ReloaderOptions {
  /** The reload command. Ignored when `action` is given. */
  argv?: string[];
  /**
   * What reloading means when it is not a command (e.g. a signal to a supervised server). A
   * rejection is a failed run: its message is logged like a command's failure, and it is retried
   * with the same backoff.
   */
  action?: (() => Promise<void>) | undefined;
  timeoutMs: number;
  /** Extra environment for each command run (CLUSTER_CONTROL_CLUSTER/FILE/MEMBERS), read when the run starts. */
  envFor?: () => Record<string, string>;
  logger: Logger;
  metrics?: Metrics;
  cluster: string;
  /** Between retries of a failed run (default 500 ms doubling to 30 s, with jitter so many watchers don't retry in step). */
  backoff?: BackoffOptions;
  /**
   * Least time between the starts of two runs (default 1000 ms; 0: none). Requests made in
   * between coalesce into one run at the end of the interval, so the last state is always
   * reloaded, at most once per interval.
   */
  minIntervalMs?: number | undefined;
  /** Told as each run starts (e.g. to note which file state it reloads). */
  onRunStart?: () => void;
  /** Told how each run ended (e.g. to publish the outcome). */
  onRunEnd?: (outcome: ReloadOutcome) => void;
}

/** How one reload run ended; `output` is the first line of a failure's output or error. */
export interface ReloadOutcome {
  ok: boolean;
  exitCode?: number | undefined;
  output?: string | undefined;
}

/**
 * Runs the reload command (or action) after file replacements. Requests made while a run is in
 * progress, or less than `minIntervalMs` after the last run started, coalesce into one more run,
 * which starts as soon as both allow: a member flapping 1,000 times a second reloads the server
 * once a second, and its last state is always reloaded. A failed run is retried with backoff until
 * one succeeds. Requests made during a backoff wait join the retry instead of cutting the wait
 * short: under churn a failing reload would otherwise run once per replacement, with no backoff.
 * Nothing here throws into the caller: the watcher must keep going whatever the reload does.
 */
export class Reloader {
  private pending = false;
  private closed = false;
  private readonly backoff: Backoff;
  private loop: Promise<void> | undefined;
  /** When the last run started (performance.now()), for minIntervalMs. */
  private lastStart: number | undefined;
  /** Ends the current wait early (close). */
  private wake: (() => void) | undefined;

  constructor(private readonly options: ReloaderOptions) {
    this.backoff = new Backoff(options.backoff ?? { initialMs: 500, maxMs: 30_000 });
  }

  request(): void {
    if (this.closed) return;
    this.pending = true;
    this.loop ??= this.run();
  }

  /** Resolves when no run is in progress or pending (a command that keeps failing keeps it pending). */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /**
   * Stops retrying and waits for a run that is already in progress. A reload held back only by
   * minIntervalMs is owed for a file already replaced: it runs now, once (not retried).
   */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.idle();
  }

  private async run(): Promise<void> {
    try {
      while (this.pending && !this.closed) {
        const wait = this.intervalLeft();
        if (wait > 0) {
          await this.sleep(wait);
          // Closed during the wait: the run below is the last one (the loop ends after it).
        }
        this.pending = false;
        this.lastStart = performance.now();
        if (await this.runOnce()) {
          this.backoff.reset();
          continue;
        }
        if (this.closed) break;
        // The files changed and the service has not seen it yet: the reload is still owed.
        this.pending = true;
        const delay = this.backoff.next();
        this.options.logger.warn(`reload for cluster ${this.options.cluster}: retrying in ${delay} ms`);
        await this.sleep(delay);
      }
    } finally {
      // Cleared in the same synchronous step as the last `pending` check, so no request() can slip between.
      this.loop = undefined;
    }
  }

  /** How long until minIntervalMs has passed since the last run started (never more than the interval: the clock is monotonic, but be safe). */
  private intervalLeft(): number {
    const interval = this.options.minIntervalMs ?? DEFAULT_RELOAD_MIN_INTERVAL_MS;
    if (this.lastStart === undefined || interval <= 0) return 0;
    return Math.min(interval, Math.max(0, this.lastStart + interval - performance.now()));
  }

  private async runOnce(): Promise<boolean> {
    this.options.onRunStart?.();
    const outcome = this.options.action ? await this.runAction(this.options.action) : await this.runCommand();
    this.options.onRunEnd?.(outcome);
    return outcome.ok;
  }

  /** The action, bounded by timeoutMs like a command (it cannot be killed; a late settle is ignored). */
  private async runAction(action: () => Promise<void>): Promise<ReloadOutcome> {
    const { logger, metrics, cluster, timeoutMs } = this.options;
    let timer: NodeJS.Timeout | undefined;
    let failure: string | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(action),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    } finally {
      clearTimeout(timer);
    }
    metrics?.inc('cluster_control_reloads_total', { cluster, result: failure === undefined ? 'ok' : 'failed' });
    if (failure === undefined) logger.info(`reload for cluster ${cluster} succeeded`);
    else logger.error(`reload for cluster ${cluster} failed: ${failure}`);
    return failure === undefined ? { ok: true } : { ok: false, output: firstLine(failure) };
  }

  private async runCommand(): Promise<ReloadOutcome> {
    const { argv = [], timeoutMs, logger, metrics, cluster } = this.options;
    let env: NodeJS.ProcessEnv;
    try {
      env = { ...process.env, ...this.options.envFor?.() };
    } catch (err) {
      logger.error(`reload for cluster ${cluster}: could not build its environment: ${err instanceof Error ? err.message : String(err)}`);
      metrics?.inc('cluster_control_reloads_total', { cluster, result: 'failed' });
      return { ok: false, output: 'could not build its environment' };
    }
    const result = await runCommand(argv, { timeoutMs, env });
    metrics?.inc('cluster_control_reloads_total', { cluster, result: result.ok ? 'ok' : 'failed' });
    const output = truncateOutput(result.output.trimEnd());
    if (result.ok) {
      logger.info(`reload for cluster ${cluster} succeeded${output ? `: ${output}` : ''}`);
    } else {
      logger.error(`reload for cluster ${cluster} ${describeFailure(result, timeoutMs)}${output ? `: ${output}` : ''}`);
    }
    if (result.ok) return { ok: true };
    return { ok: false, ...(result.code !== null ? { exitCode: result.code } : {}), output: firstLine(output || describeFailure(result, timeoutMs)) };
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
