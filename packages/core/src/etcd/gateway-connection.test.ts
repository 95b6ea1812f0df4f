import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prefixRange } from './key-range.js';
import { connectEtcdGateway } from './gateway-connection.js';

describe('connectEtcdGateway', () => {
  it('rejects a call whose TLS material node cannot use, and nothing fires later (it used to throw from a timer)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-gw-tls-'));
    const key = join(dir, 'key.pem');
    writeFileSync(key, 'not a key\n');
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const gw = connectEtcdGateway({ endpoints: ['https://127.0.0.1:1'], tls: { cert: key, key }, timeoutMs: 50 });
      await expect(gw.range(prefixRange('/x/'))).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 150)); // past the call's deadline
      gw.close();
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
  });
});
