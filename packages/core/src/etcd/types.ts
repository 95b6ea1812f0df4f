/** The shapes of our etcd interface, shared by the gRPC client (grpc-connection.ts) and the JSON gateway client (gateway-connection.ts). */
import type { Logger } from '../util/log.js';
import type { KeyRange } from './key-range.js';

export interface EtcdConnectionOptions {
  /** `http://host:port` or `https://host:port`; several for a cluster. */
  endpoints: readonly string[];
  auth?: { username: string; password: string } | undefined;
  /** PEM file paths. `ca` alone: server verification; with `cert`+`key`: client-certificate auth. */
  tls?: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined } | undefined;
  /** Deadline of every unary call and of watch creation. */
  timeoutMs?: number;
  logger?: Logger;
}

export interface KeyValue {
  key: string;
  value: string;
  modRevision: bigint;
  lease: string;
}

/** Who holds a key that putIfFree did not put: its lease ('0': none) and since when. */
export interface KeyHolder {
  lease: string;
  createRevision: bigint;
  modRevision: bigint;
}

/** putIfFree's answer: put (at `revision`), or left alone because `holder` has it. */
export type PutIfFreeResult = { ok: true; revision: bigint } | { ok: false; holder: KeyHolder };

export interface RangeResult {
  kvs: KeyValue[];
  /** The store revision the read was served at. */
  revision: bigint;
  /**
   * With `limit`: true when the range holds more keys than were returned (read on after
   * `lastKey`). Both clients always set it; optional so that a stand-in which ignores `limit`
   * (and returns everything) stays valid.
   */
  more?: boolean;
  /** The bytes of the last key returned (keys need not be valid UTF-8, so `kvs`' strings may not round-trip). */
  lastKey?: Buffer | undefined;
}

export interface RangeSummary {
  /** Keys in the range. */
  count: number;
  /** The highest mod revision of any of them (0 when the range is empty). */
  newestModRevision: bigint;
  /** The store revision the summary describes (the one asked for, else etcd's when it answered). */
  revision: bigint;
}

export interface RangeOptions {
  /** Read at this revision (CompactedError when it was compacted). */
  revision?: bigint;
  /** At most this many keys (0 or absent: all); `more` says whether there are more. */
  limit?: number;
  /** Start at this key instead of `range.key` (the range's end stays): for the next page of a prefix. */
  from?: string | Buffer;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  value: string;
  modRevision: bigint;
}

export interface WatchListener {
  /** One watch response's events, in order; apply them together. */
  onEvents(events: WatchEvent[], headerRevision: bigint): void;
  /** A response without events (progress notification): proof the stream is alive. */
  onProgress(headerRevision: bigint): void;
  /** The stream is broken (disconnect, cancel, compaction); it will not deliver anything more. */
  onBroken(err: Error): void;
}

export interface WatchHandle {
  /** Ask etcd for a progress notification (etcd >= 3.4). */
  requestProgress(): void;
  /**
   * Ends the watch. `stalled`: the caller gave up on it because its member stopped answering
   * (a frozen or partitioned member sends no error); the connection moves to another endpoint.
   */
  close(stalled?: Error): void;
}

/**
 * The unary calls: all a one-shot command needs. Implemented over gRPC by `connectEtcd` and over
 * etcd's JSON gateway by `connectEtcdGateway` (no gRPC to load: fast start-up).
 */
export interface EtcdClient {
  readonly endpoints: readonly string[];
  range(range: KeyRange, options?: RangeOptions): Promise<RangeResult>;
  /**
   * The highest mod revision of any key in `range` (0 when it is empty): a key newer than what a
   * watch delivered proves that the watch is behind. One key, no values: cheap at any size.
   */
  newestModRevision(range: KeyRange): Promise<bigint>;
  /**
   * How many keys `range` holds and the newest mod revision among them, at `revision` (default:
   * now; CompactedError when it was compacted). One key, no values. Two summaries tell whether
   * anything changed in between (README: Is the fleet in step?).
   */
  summarize(range: KeyRange, options?: { revision?: bigint | undefined }): Promise<RangeSummary>;
  put(key: string, value: string, options?: { lease?: string }): Promise<bigint>;
  /**
   * Puts `key` on `lease` only if the key is absent or already on that lease, in one transaction
   * (README: Owning a key): a key held by another lease (or by none) is left alone and its holder
   * returned.
   */
  putIfFree(key: string, value: string, lease: string): Promise<PutIfFreeResult>;
  /** Deletes one key; resolves to the number deleted (0 or 1). */
  delete(key: string): Promise<number>;
  /**
   * Deletes one key and tells at which revision: the delete's own when it deleted the key, else
   * the store's revision then. With `lease`: only if the key is on that lease (one transaction), so
   * a key someone else holds is left alone.
   */
  deleteAt(key: string, options?: { lease?: string | undefined }): Promise<{ deleted: number; revision: bigint }>;
  grantLease(ttlSeconds: number): Promise<string>;
  /** One keepalive; resolves to the remaining TTL in seconds, 0 when the lease no longer exists. */
  keepAlive(leaseId: string): Promise<number>;
  /** Remaining TTL in seconds, or -1 when the lease does not exist. */
  leaseTimeToLive(leaseId: string): Promise<number>;
  revokeLease(leaseId: string): Promise<void>;
  close(): void;
}

/**
 * Our small interface to etcd. Everything else in core talks to this, never to `etcd3` directly,
 * so the client's gaps are covered in one place, grpc-connection.ts (with etcd3-patches.ts, every
 * change to etcd3's internals):
 * - every unary call carries a deadline (etcd3's `dialTimeout` does nothing);
 * - watch creation has a deadline too (etcd3's `create()` hangs while etcd is down);
 * - compaction surfaces as a CompactedError instead of an `error` event that can crash the process;
 * - a certificate that fails TLS verification (either side's) is an EtcdAccessError with a clear
 *   message, not an "unavailable" to retry (gRPC reports both as UNAVAILABLE); so is an endpoint
 *   that speaks TLS where plain was configured (or the reverse), or no gRPC at all
 *   (EtcdEndpointError, endpoint-check.ts);
 * - watch and keepalive streams drop a cached auth token that etcd rejects, so the next stream
 *   authenticates again (etcd3 refreshes tokens for unary calls only);
 * - no hidden retries or circuit breakers: callers decide (and re-read after any reconnect);
 * - failover: calls and streams stick to one endpoint (a random one at first); when it fails
 *   (unreachable, deadline exceeded, a stream silent or broken) the next call goes to the next
 *   endpoint, never back to the failed one by chance (etcd3 picks a random host per call, so a
 *   frozen member would keep eating a third of all calls until their deadlines).
 */
export interface EtcdConnection extends EtcdClient {
  /** Opens a watch from `startRevision`; resolves once etcd confirmed it. */
  watch(range: KeyRange, startRevision: bigint, listener: WatchListener): Promise<WatchHandle>;
}

/** The largest answer from etcd either client accepts: a page or a watch fragment never comes near it. */
export const MAX_ANSWER_BYTES = 32 * 2 ** 20;
