// `@cluster-control/core/registration`: watching one key until it is deleted (`watchkey`).
// Registration and registerKey themselves are in the root entry.
export { waitForKeyDeletion, type WatchKeyOptions } from './watch-key.js';
