import type { EtcdConfig } from '../config/schema.js';
import type { Logger } from '../util/log.js';
import { type EtcdConnection, connectEtcd } from './connection.js';

/** Connects with the `etcd` section of a loaded configuration. */
export function connectFromConfig(etcd: EtcdConfig, logger: Logger): Promise<EtcdConnection> {
  return connectEtcd({ endpoints: etcd.endpoints, auth: etcd.auth, tls: etcd.tls, timeoutMs: etcd.timeoutMs, logger });
}
