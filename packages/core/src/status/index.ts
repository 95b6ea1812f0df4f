export type { RunOutcome, WatcherState, WatcherStatus } from './status-record.js';
export { DEFAULT_STATUS_PREFIX, DEFAULT_STATUS_TTL, hashMismatches, parseWatcherStatus, statusClusterPrefix, statusKey, watcherState } from './status-record.js';
