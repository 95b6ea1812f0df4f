import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';
import { describeFailure, runCommand, truncateOutput } from './run-command.js';

export interface ReloaderOptions {
  argv: string[];
  timeoutMs: number;
  /** Extra environment for each run (CLUSTER_CONTROL_CLUSTER/FILE/MEMBERS), read when the run starts. */
  envFor: () => Record<string, string>;
  logger: Logger;
  metrics?: Metrics;
  cluster: string;
  backoff?: { initialMs: number; maxMs: number };
}

/**
 * Runs the reload command after file replacements. Requests made while a run is in progress
 * coalesce into one more run; a failed run is retried with backoff until one succeeds. Requests
 * made during a backoff wait join the retry instead of cutting the wait short: under churn a
 * failing reload would otherwise run once per replacement, with no backoff at all.
 * Nothing here throws into the caller: the watcher must keep going whatever the reload does.
 */
export class Reloader {
  private pending = false;
  private closed = false;
  private failures = 0;
  private loop: Promise<void> | undefined;
  /** Ends the current backoff wait early (close). */
  private wake: (() => void) | undefined;

  constructor(private readonly options: ReloaderOptions) {}

  request(): void {
    if (this.closed) return;
    this.pending = true;
    this.loop ??= this.run();
  }

  /** Resolves when no run is in progress or pending (a command that keeps failing keeps it pending). */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Stops retrying and waits for a command that is already running. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.idle();
  }

  private async run(): Promise<void> {
    try {
      while (this.pending && !this.closed) {
        this.pending = false;
        if (await this.runOnce()) {
          this.failures = 0;
          continue;
        }
        this.failures += 1;
        // The files changed and the service has not seen it yet: the reload is still owed.
        this.pending = true;
        const delay = this.backoffDelay();
        this.options.logger.warn(`reload for cluster ${this.options.cluster}: retrying in ${delay} ms`);
        await this.sleep(delay);
      }
    } finally {
      // Cleared in the same synchronous step as the last `pending` check, so no request() can slip between.
      this.loop = undefined;
    }
  }

  private async runOnce(): Promise<boolean> {
    const { argv, timeoutMs, logger, metrics, cluster } = this.options;
    let env: NodeJS.ProcessEnv;
    try {
      env = { ...process.env, ...this.options.envFor() };
    } catch (err) {
      logger.error(`reload for cluster ${cluster}: could not build its environment: ${err instanceof Error ? err.message : String(err)}`);
      metrics?.inc('cluster_control_reloads_total', { cluster, result: 'failed' });
      return false;
    }
    const result = await runCommand(argv, { timeoutMs, env });
    metrics?.inc('cluster_control_reloads_total', { cluster, result: result.ok ? 'ok' : 'failed' });
    const output = truncateOutput(result.output.trimEnd());
    if (result.ok) {
      logger.info(`reload for cluster ${cluster} succeeded${output ? `: ${output}` : ''}`);
    } else {
      logger.error(`reload for cluster ${cluster} ${describeFailure(result, timeoutMs)}${output ? `: ${output}` : ''}`);
    }
    return result.ok;
  }

  /** Exponential, capped, with jitter (half to full delay) so many watchers don't retry in step. */
  private backoffDelay(): number {
    const initial = this.options.backoff?.initialMs ?? 500;
    const max = this.options.backoff?.maxMs ?? 30_000;
    const base = Math.min(max, initial * 2 ** Math.min(this.failures - 1, 30));
    return Math.round(base / 2 + Math.random() * (base / 2));
  }

  private sleep(ms: number): Promise<void> {
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
