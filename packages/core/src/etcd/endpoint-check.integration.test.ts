import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { type Pki, makePki } from '#test-support/pki.js';
import { silentLogger } from '../util/log.js';
import { connectEtcd } from './grpc-connection.js';
import { EtcdEndpointError, EtcdUnavailableError } from './errors.js';
import { clientFromConfig } from './from-config.js';
import { singleKey } from './key-range.js';

// http:// against a TLS etcd, on every transport: a permanent error saying to use https://, not
// an outage. And the probe that tells them apart does not mistake a TLS etcd that is down for one.
describe.skipIf(!haveEtcd)('an endpoint spoken to without the TLS it needs', () => {
  let pki: Pki;
  let etcd: EtcdServer;
  const plain = () => etcd.endpoint.replace('https://', 'http://');
  const tls = () => ({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });

  beforeAll(async () => {
    pki = await makePki();
    etcd = await startEtcd({ tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, clientCert: pki.clientCert, clientKey: pki.clientKey } });
  });
  afterAll(async () => {
    await etcd?.dispose();
  });

  it.each(['auto', 'gateway', 'grpc'] as const)("transport '%s': http:// to a TLS etcd is an EtcdEndpointError saying to use https://", async (transport) => {
    const client = clientFromConfig({ endpoints: [plain()], timeoutMs: 2000, transport }, silentLogger);
    try {
      const started = Date.now();
      const err = await client.put('/ec/k', 'v').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EtcdEndpointError);
      expect((err as Error).message).toBe(`${plain()}: etcd expects TLS and was spoken to in plain HTTP (use https:// with etcd.tls.ca, or configure etcd without TLS)`);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      client.close();
    }
  });

  it('the gRPC connection of long-running commands says the same', async () => {
    const connection = await connectEtcd({ endpoints: [plain()], timeoutMs: 2000 });
    try {
      await expect(connection.range(singleKey('/ec/k'))).rejects.toThrow(EtcdEndpointError);
    } finally {
      connection.close();
    }
  });

  it('the right endpoint works on every transport; once the TLS etcd is down it is an outage again, not a mismatch', async () => {
    for (const transport of ['auto', 'gateway', 'grpc'] as const) {
      const client = clientFromConfig({ endpoints: [etcd.endpoint], tls: tls(), timeoutMs: 2000, transport }, silentLogger);
      try {
        expect(await client.put('/ec/k', transport)).toBeGreaterThan(0n);
      } finally {
        client.close();
      }
    }
    await etcd.stop();
    try {
      for (const [transport, endpoint] of [
        ['gateway', etcd.endpoint],
        ['grpc', etcd.endpoint],
        ['gateway', plain()],
        ['grpc', plain()],
      ] as const) {
        const client = clientFromConfig({ endpoints: [endpoint], ...(endpoint.startsWith('https') ? { tls: tls() } : {}), timeoutMs: 1000, transport }, silentLogger);
        try {
          await expect(client.put('/ec/k', 'v')).rejects.toThrow(EtcdUnavailableError);
        } finally {
          client.close();
        }
      }
    } finally {
      await etcd.start();
    }
  });
});
