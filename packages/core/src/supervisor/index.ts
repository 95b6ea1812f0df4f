// `@cluster-control/core/supervisor`: the services and probes a Supervisor (root entry) runs, and
// the signal handling `cluster-control run` and the long-running commands share.
export { ChildService, type ChildServiceOptions } from './child-service.js';
export { HttpServerService, type HttpServerServiceOptions, type HttpRequestHandler } from './http-server-service.js';
export { tcpProbe, httpProbe, parseHostPort } from './readiness.js';
export { FORWARDED_SIGNALS, SUPERVISOR_STOP_SIGNALS, handleSignals, type HandleSignalsOptions, type SignalHandling } from '../util/signals.js';
export { parseSignalName } from '../config/signal-name.js';
