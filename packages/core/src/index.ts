// @cluster-control/core: the pipeline etcd → membership → render → install → reload, as an API.

// Key model (pure)
export type { Member } from './model/member.js';
export * from './model/index.js';

// Configuration
export * from './config/index.js';

// Handlers: the interface and the resolver (built-ins live in @cluster-control/handlers)
export type { Handler, RenderContext, AnyHandler, OptionsContext } from './handler/handler.js';
export { HandlerOptionsError, isHandler } from './handler/handler.js';
export { resolveHandler, builtinNameFor, type ResolveHandlerOptions } from './handler/resolve-handler.js';

// etcd
export { connectEtcd } from './etcd/grpc-connection.js';
export { connectEtcdGateway } from './etcd/gateway-connection.js';
export type { EtcdClient, EtcdConnection, EtcdConnectionOptions, KeyHolder, KeyValue as EtcdKeyValue, PutIfFreeResult, RangeResult, WatchEvent, WatchHandle, WatchListener } from './etcd/types.js';
export { CompactedError, EtcdAccessError, EtcdEndpointError, EtcdUnavailableError, GatewayMissingError } from './etcd/errors.js';
export { describeError } from './util/describe-error.js';
export { prefixRange, singleKey, type KeyRange } from './etcd/key-range.js';
export { clientFromConfig, connectFromConfig } from './etcd/from-config.js';

// Watching
export { ResilientWatch, type ResilientWatchOptions, type WatchSink, type SnapshotReason } from './watch/resilient-watch.js';

// Install → reload
export * from './install/index.js';

// The pipeline
export { ClusterSync, type ClusterSyncOptions, type FileState } from './sync/cluster-sync.js';
export { renderAndInstall, type ClusterTarget, type InstallOutcome } from './sync/cluster-target.js';
export { prepareCluster, previewCluster, readCluster, renderCluster, logDiagnostics, type ClusterRead, type RenderedCluster } from './sync/prepare.js';
export { reportQuarantine } from './sync/quarantine-report.js';
export { SafeInstaller, type SafeInstallResult } from './sync/safe-install.js';
export { HostResolver, type HostResolverOptions, type Resolution } from './sync/host-resolver.js';
export { filterByAddress, type FilteredMembers } from './sync/member-filter.js';
export { largestSafeSet, type SafeSet, type TrialResult } from './sync/largest-safe-set.js';
export { resolveClusterTarget } from './sync/resolve-target.js';
export { parseMembersJson, readMembersFile, type ListedMember } from './sync/members-file.js';

// The fleet view: what every watcher applied (SPEC §10)
export * from './status/index.js';

// Registration
export { Registration, RegistrationTimeoutError, registerKey, type RegisterKeyOptions, type RegistrationOptions, type RegistrationEnd, type DrainOptions } from './registration/registration.js';
export { waitForKeyDeletion, type WatchKeyOptions } from './registration/watch-key.js';

// Supervisor: `cluster-control run` as an API
export { Supervisor, SupervisorError, type SupervisorOptions, type SupervisedCluster, type SupervisorEnd, type SupervisorResult } from './supervisor/supervisor.js';
export { ChildService, type ChildServiceOptions } from './supervisor/child-service.js';
export { HttpServerService, type HttpServerServiceOptions, type HttpRequestHandler } from './supervisor/http-server-service.js';
export { runSupervisor, type RunSupervisorOptions } from './supervisor/run-supervisor.js';
export { superviseHttpServer, type SuperviseHttpServerOptions } from './supervisor/supervise-http-server.js';
export type { SupervisedService, ReadinessProbe } from './supervisor/service.js';
export { ServiceStartError } from './supervisor/service.js';
export { tcpProbe, httpProbe, parseHostPort } from './supervisor/readiness.js';

// Observability: Prometheus metrics, /healthz, /readyz
export type { KnownMetricName, MetricSpec, MetricType, PrometheusMetrics, PrometheusMetricsOptions, ListenAddress, ObservabilityOptions, ObservabilityServer } from './observe/index.js';
export { KNOWN_METRICS, createPrometheusMetrics, formatListenAddress, parseListenAddress, serveObservability } from './observe/index.js';

// Utilities
export type { Logger, LoggerOptions, LogFormat, LogLevel } from './util/log.js';
export { createLogger, silentLogger } from './util/log.js';
export type { Metrics } from './util/metrics.js';
export { createMetrics } from './util/metrics.js';
export { Backoff, aborted, sleep, type BackoffOptions } from './util/backoff.js';
export { FORWARDED_SIGNALS, STOP_SIGNALS, SUPERVISOR_STOP_SIGNALS, handleSignals, type HandleSignalsOptions, type SignalHandling } from './util/signals.js';
export { retryUntil } from './etcd/retry.js';
export { ErrorCode, hasErrorCode } from './util/error-codes.js';
