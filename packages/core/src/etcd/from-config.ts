import type { EtcdConfig } from '../config/schema.js';
import type { Logger } from '../util/log.js';
import { transportClient } from './auto-transport.js';
import type { EtcdClient, EtcdConnection } from './types.js';
import { connectEtcd } from './grpc-connection.js';
import { connectEtcdGateway } from './gateway-connection.js';

/** Connects with the `etcd` section of a loaded configuration (gRPC: watches, leases kept alive). */
export function connectFromConfig(etcd: EtcdConfig, logger: Logger): Promise<EtcdConnection> {
  return connectEtcd(optionsFrom(etcd, logger));
}

/**
 * A client for a few unary calls (one-shot commands), by `etcd.transport`: 'gateway', etcd's JSON
 * gateway, which starts in a few milliseconds where loading the gRPC client takes a few hundred on
 * a small machine; 'grpc', gRPC (loaded on the first call); 'auto' (the default), the gateway
 * until an endpoint turns out not to have one (an etcd without it, an `etcd grpc-proxy`), then gRPC.
 */
export function clientFromConfig(etcd: EtcdConfig, logger: Logger): EtcdClient {
  const options = optionsFrom(etcd, logger);
  if (etcd.transport === 'gateway') return connectEtcdGateway(options);
  return transportClient({
    endpoints: etcd.endpoints,
    gateway: etcd.transport === 'grpc' ? undefined : connectEtcdGateway(options),
    loadGrpc: () => connectEtcd(options),
    logger,
  });
}

function optionsFrom(etcd: EtcdConfig, logger: Logger) {
  return { endpoints: etcd.endpoints, auth: etcd.auth, tls: etcd.tls, timeoutMs: etcd.timeoutMs, logger };
}
