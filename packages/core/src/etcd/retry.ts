import { Backoff, sleep } from '../util/backoff.js';
import { describeError } from '../util/describe-error.js';
import type { Logger } from '../util/log.js';
import { EtcdAccessError, EtcdUnavailableError } from './errors.js';

/**
 * Runs `fn` until it succeeds, retrying while etcd is unavailable (and saying so), until
 * `timeoutMs` has passed; then rethrows the last error. Other errors are not retried.
 */
export async function retryUntil<T>(what: string, fn: () => Promise<T>, options: { timeoutMs: number; logger: Logger; signal?: AbortSignal }): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const backoff = new Backoff({ initialMs: 200, maxMs: 5_000 });
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof EtcdUnavailableError) || err instanceof EtcdAccessError) throw err;
      const left = deadline - Date.now();
      if (left <= 0 || options.signal?.aborted) {
        throw new EtcdUnavailableError(`${what}: gave up after ${Math.round(options.timeoutMs / 1000)}s and ${attempt} attempt(s): ${describeError(err)}`);
      }
      const delay = Math.min(backoff.next(), left);
      options.logger.warn(`${what}: ${describeError(err)}; retrying in ${(delay / 1000).toFixed(1)}s`);
      await sleep(delay, options.signal);
    }
  }
}
