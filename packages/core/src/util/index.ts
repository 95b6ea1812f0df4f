// `@cluster-control/core/util`: small helpers the other cluster-control packages share.
export { Backoff, aborted, sleep, type BackoffOptions } from './backoff.js';
export { createMetrics } from './metrics.js';
export { describeError } from './describe-error.js';
