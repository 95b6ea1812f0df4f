import type { EtcdConfig } from '../config/schema.js';
import type { Logger } from '../util/log.js';
import { type EtcdClient, type EtcdConnection, connectEtcd } from './connection.js';
import { connectEtcdGateway } from './gateway-connection.js';

/** Connects with the `etcd` section of a loaded configuration (gRPC: watches, leases kept alive). */
export function connectFromConfig(etcd: EtcdConfig, logger: Logger): Promise<EtcdConnection> {
  return connectEtcd(optionsFrom(etcd, logger));
}

/**
 * A client for a few unary calls (one-shot commands), over etcd's JSON gateway: it starts in a
 * few milliseconds, where loading the gRPC client takes a few hundred on a small machine.
 */
export function clientFromConfig(etcd: EtcdConfig, logger: Logger): EtcdClient {
  return connectEtcdGateway(optionsFrom(etcd, logger));
}

function optionsFrom(etcd: EtcdConfig, logger: Logger) {
  return { endpoints: etcd.endpoints, auth: etcd.auth, tls: etcd.tls, timeoutMs: etcd.timeoutMs, logger };
}
