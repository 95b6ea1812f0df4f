// `@cluster-control/core/etcd`: the etcd clients (gRPC and the JSON gateway), key ranges, retrying
// calls until a deadline, and the errors they throw. Building from the configuration file is the
// root entry's connectFromConfig / clientFromConfig.
export { connectEtcd } from './grpc-connection.js';
export { connectEtcdGateway } from './gateway-connection.js';
export type {
  EtcdClient,
  EtcdConnection,
  EtcdConnectionOptions,
  KeyHolder,
  KeyValue as EtcdKeyValue,
  PutIfFreeResult,
  RangeOptions,
  RangeResult,
  RangeSummary,
  WatchEvent,
  WatchHandle,
  WatchListener,
} from './types.js';
export { CompactedError, EtcdAccessError, EtcdEndpointError, EtcdUnavailableError, GatewayMissingError } from './errors.js';
export { prefixRange, singleKey, type KeyRange } from './key-range.js';
export { retryUntil } from './retry.js';
