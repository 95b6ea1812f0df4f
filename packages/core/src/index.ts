// @cluster-control/core: the pipeline etcd → membership → render → install → reload, as an API.
// This root entry is what an application embedding cluster-control needs; the building blocks
// under it are subpaths (`@cluster-control/core/etcd`, `/sync`, …: each folder's index.ts).
// Whatever is exported here is kept until a major release, so it stays small.

// Configuration
export { ConfigError } from './config/config-error.js';
export { findCluster, loadConfig, parseConfig, type LoadConfigOptions } from './config/load-config.js';
export type { ClusterConfig, ClusterControlConfig, EtcdConfig, EtcdTransport, SelfConfig, StatusConfig } from './config/schema.js';

// The handler contract (the built-ins live in @cluster-control/handlers)
export type { Member } from './model/member.js';
export type { Handler, RenderContext, AnyHandler, OptionsContext, ListLayout } from './handler/handler.js';
export { HandlerOptionsError, isHandler } from './handler/handler.js';

// etcd, as the configuration describes it
export { clientFromConfig, connectFromConfig } from './etcd/from-config.js';
export type { EtcdClient, EtcdConnection, EtcdConnectionOptions } from './etcd/types.js';

// The pipeline
export { ClusterSync, type ClusterSyncOptions, type FileState } from './sync/cluster-sync.js';
export type { ClusterTarget, InstallOutcome } from './sync/cluster-target.js';
export { prepareCluster } from './sync/prepare.js';
export { resolveClusterTarget } from './sync/resolve-target.js';
export type { QuarantineKind, QuarantinedMember } from './model/quarantine.js';

// Registration
export { Registration, RegistrationTimeoutError, registerKey, type RegisterKeyOptions, type RegistrationOptions, type RegistrationEnd, type DrainOptions } from './registration/registration.js';

// Supervisor: `cluster-control run` as an API
export { Supervisor, SupervisorError, type SupervisorOptions, type SupervisedCluster, type SupervisorEnd, type SupervisorResult } from './supervisor/supervisor.js';
export { runSupervisor, type RunSupervisorOptions } from './supervisor/run-supervisor.js';
export { superviseHttpServer, type SuperviseHttpServerOptions } from './supervisor/supervise-http-server.js';
export type { HttpRequestHandler, HttpServerServiceOptions } from './supervisor/http-server-service.js';
export { ServiceStartError, type SupervisedService, type ReadinessProbe } from './supervisor/service.js';

// Errors: every class carries a stable `code` from ErrorCode
export { CompactedError, EtcdAccessError, EtcdEndpointError, EtcdUnavailableError, GatewayMissingError } from './etcd/errors.js';
export { UnsafeTargetError } from './install/atomic-write.js';
export { ErrorCode, hasErrorCode } from './util/error-codes.js';

// Logging and metrics
export { createLogger, silentLogger, type Logger, type LoggerOptions, type LogFormat, type LogLevel } from './util/log.js';
export type { Metrics } from './util/metrics.js';
