// What the three demo apps share: the command line and process around an app (args.ts), a
// bounded GET of another app (fetch-json.ts) and the peers in a cluster file (members.ts).
export { COMMON_USAGE, type CommonArgs, DEFAULT_ETCD, UsageError, dataDir, parseCommonArgs, runApp, supervision } from './args.js';
export { FetchError, fetchErrorMessage, getJson, shortMessage } from './fetch-json.js';
export { type Peer, readPeers, toPeer } from './members.js';
