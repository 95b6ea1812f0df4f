import { describe, expect, it } from 'vitest';
import { transportClient } from './auto-transport.js';
import type { EtcdClient } from './types.js';
import { EtcdEndpointError, EtcdUnavailableError, GatewayMissingError } from './errors.js';

/**
 * The switching logic only: which client a call goes to. (Both clients' behaviour against real
 * etcd servers, with and without the gateway, is in transport.integration.test.ts.)
 */
function standIn(name: string, fail?: () => Error) {
  const calls: string[] = [];
  let closed = false;
  const answer = async (call: string): Promise<never> => {
    calls.push(call);
    if (fail) throw fail();
    throw new Error('unreachable');
  };
  const client = {
    endpoints: ['http://127.0.0.1:2379'],
    range: async () => (fail ? answer('range') : (calls.push('range'), { kvs: [], revision: name === 'grpc' ? 2n : 1n })),
    newestModRevision: async () => (fail ? answer('newestModRevision') : (calls.push('newestModRevision'), 0n)),
    summarize: async () => (fail ? answer('summarize') : (calls.push('summarize'), { count: 0, newestModRevision: 0n, revision: 1n })),
    put: async () => (fail ? answer('put') : (calls.push('put'), name === 'grpc' ? 2n : 1n)),
    putIfFree: async () => (fail ? answer('putIfFree') : (calls.push('putIfFree'), { ok: true as const, revision: 1n })),
    delete: async () => (fail ? answer('delete') : (calls.push('delete'), 1)),
    deleteAt: async () => (fail ? answer('deleteAt') : (calls.push('deleteAt'), { deleted: 1, revision: 1n })),
    grantLease: async () => (fail ? answer('grantLease') : (calls.push('grantLease'), `${name}-lease`)),
    keepAlive: async () => (fail ? answer('keepAlive') : (calls.push('keepAlive'), 10)),
    leaseTimeToLive: async () => (fail ? answer('leaseTimeToLive') : (calls.push('leaseTimeToLive'), 10)),
    revokeLease: async () => void (fail ? await answer('revokeLease') : calls.push('revokeLease')),
    close: () => void (closed = true),
  } satisfies EtcdClient;
  return { client, calls, closed: () => closed };
}

function logger() {
  const debug: string[] = [];
  return { debug, logger: { debug: (m: string) => debug.push(m), info: () => {}, warn: () => {}, error: () => {} } };
}

const missing = () => new GatewayMissingError('http://127.0.0.1:2379', '/v3/kv/put');

describe('transportClient (auto: the gateway first)', () => {
  it('stays on the gateway while it answers, without loading gRPC', async () => {
    const gateway = standIn('gateway');
    let loads = 0;
    const client = transportClient({ endpoints: gateway.client.endpoints, gateway: gateway.client, loadGrpc: async () => (loads++, standIn('grpc').client), logger: logger().logger });
    expect(await client.put('k', 'v')).toBe(1n);
    expect(await client.grantLease(5)).toBe('gateway-lease');
    expect(gateway.calls).toEqual(['put', 'grantLease']);
    expect(loads).toBe(0);
  });

  it('moves to gRPC once the gateway answers 404, for the failed call and every later one, and says so once at debug level', async () => {
    const gateway = standIn('gateway', missing);
    const grpc = standIn('grpc');
    let loads = 0;
    const log = logger();
    const client = transportClient({ endpoints: gateway.client.endpoints, gateway: gateway.client, loadGrpc: async () => (loads++, grpc.client), logger: log.logger });
    // Concurrent first calls: all of them end up on gRPC, which is loaded once.
    const [a, b] = await Promise.all([client.put('k', 'v'), client.put('k2', 'v')]);
    expect([a, b]).toEqual([2n, 2n]);
    expect(await client.grantLease(5)).toBe('grpc-lease');
    expect(await client.delete('k')).toBe(1);
    expect(loads).toBe(1);
    expect(gateway.calls).toEqual(['put', 'put']);
    expect(grpc.calls).toEqual(['put', 'put', 'grantLease', 'delete']);
    expect(log.debug).toEqual(['http://127.0.0.1:2379: no JSON gateway (HTTP 404 for /v3/kv/put); using gRPC from now on']);
  });

  it('passes other errors on without moving: an outage, or an endpoint error no transport fixes', async () => {
    for (const error of [new EtcdUnavailableError('put: connect ECONNREFUSED'), new EtcdEndpointError('https://x: etcd answered plain HTTP to a TLS connection')]) {
      const gateway = standIn('gateway', () => error);
      let loads = 0;
      const client = transportClient({ endpoints: gateway.client.endpoints, gateway: gateway.client, loadGrpc: async () => (loads++, standIn('grpc').client), logger: logger().logger });
      await expect(client.put('k', 'v')).rejects.toBe(error);
      expect(loads).toBe(0);
    }
  });

  it('closes both clients, gRPC too when it is still loading', async () => {
    const gateway = standIn('gateway', missing);
    const grpc = standIn('grpc');
    let release!: () => void;
    const loading = new Promise<void>((resolve) => (release = resolve));
    const client = transportClient({ endpoints: gateway.client.endpoints, gateway: gateway.client, loadGrpc: async () => (await loading, grpc.client), logger: logger().logger });
    const call = client.put('k', 'v');
    await new Promise((r) => setTimeout(r, 10)); // the gateway answered 404; gRPC is loading
    client.close();
    expect(gateway.closed()).toBe(true);
    release();
    await call.catch(() => {});
    await new Promise((r) => setTimeout(r, 0));
    expect(grpc.closed()).toBe(true);
    await expect(client.put('k', 'v')).rejects.toThrow(EtcdUnavailableError);
  });
});

describe('transportClient (grpc)', () => {
  it('loads gRPC on the first call, not before, and only once', async () => {
    const grpc = standIn('grpc');
    let loads = 0;
    const client = transportClient({ endpoints: grpc.client.endpoints, loadGrpc: async () => (loads++, grpc.client), logger: logger().logger });
    expect(loads).toBe(0);
    expect(await client.range({ key: 'a', prefix: true })).toEqual({ kvs: [], revision: 2n });
    expect(await client.keepAlive('1')).toBe(10);
    expect(loads).toBe(1);
    expect(grpc.calls).toEqual(['range', 'keepAlive']);
  });
});
