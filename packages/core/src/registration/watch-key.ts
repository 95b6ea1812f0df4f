import type { EtcdConnection } from '../etcd/types.js';
import { singleKey } from '../etcd/key-range.js';
import { ResilientWatch } from '../watch/resilient-watch.js';
import type { Logger } from '../util/log.js';

export interface WatchKeyOptions {
  logger: Logger;
  signal?: AbortSignal;
  watch?: { progressIntervalMs?: number; stallTimeoutMs?: number };
}

/**
 * Resolves 'deleted' once `key` has been seen present and then absent (`watchkey`, README: Using
 * it), or 'stopped' when the signal aborts. A key that does not exist yet is waited for.
 */
export async function waitForKeyDeletion(etcd: EtcdConnection, key: string, options: WatchKeyOptions): Promise<'deleted' | 'stopped'> {
  let seen = false;
  let deleted!: () => void;
  const gone = new Promise<void>((resolve) => (deleted = resolve));
  const observe = (present: boolean) => {
    if (present && !seen) options.logger.info(`${key} is present; watching for its removal`);
    if (present) seen = true;
    else if (seen) deleted();
  };
  const watch = new ResilientWatch(
    etcd,
    singleKey(key),
    {
      snapshot: (kvs) => observe(kvs.length > 0),
      events: (events) => observe(events[events.length - 1]!.type === 'put'),
    },
    { logger: options.logger, label: key, ...options.watch },
  ).start();
  const stopped = new Promise<void>((resolve) => {
    if (options.signal?.aborted) resolve();
    options.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  try {
    await watch.synced;
    if (!seen) options.logger.info(`waiting for ${key} to appear`);
    const result = await Promise.race([gone.then(() => 'deleted' as const), stopped.then(() => 'stopped' as const), watch.done().then(() => 'stopped' as const)]);
    return result;
  } finally {
    await watch.stop();
  }
}
