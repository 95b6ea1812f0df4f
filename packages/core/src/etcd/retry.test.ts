import { describe, expect, it } from 'vitest';
import { EtcdAccessError, EtcdEndpointError, EtcdUnavailableError } from './errors.js';
import { silentLogger } from '../util/log.js';
import { retryUntil } from './retry.js';

describe('retryUntil', () => {
  it('retries an outage until it heals', async () => {
    let calls = 0;
    const result = await retryUntil('op', async () => (++calls < 3 ? Promise.reject(new EtcdUnavailableError('down')) : 'ok'), { timeoutMs: 5_000, logger: silentLogger });
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up on what no retry fixes at once: a misconfigured endpoint, an access error', async () => {
    for (const error of [new EtcdEndpointError('https://h:2379: etcd answered plain HTTP to a TLS connection'), new EtcdAccessError('permission denied')]) {
      let calls = 0;
      const started = Date.now();
      await expect(retryUntil('op', async () => (calls++, Promise.reject(error)), { timeoutMs: 30_000, logger: silentLogger })).rejects.toBe(error);
      expect(calls).toBe(1);
      expect(Date.now() - started).toBeLessThan(1_000);
    }
  });
});
