export { ConfigError } from './config-error.js';
export { DEFAULT_CONFIG_FILE, ETCD_ENV, endpointsFromEnv, findCluster, loadConfig, parseConfig, resolveConfigPath } from './load-config.js';
export type { LoadConfigOptions } from './load-config.js';
export type { ClusterConfig, ClusterControlConfig, EtcdConfig, EtcdTransport, SelfConfig, StatusConfig } from './schema.js';
export { splitCommandLine } from './split-command-line.js';
export { parseSignalName } from './signal-name.js';
