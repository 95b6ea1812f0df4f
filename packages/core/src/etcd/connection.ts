import { readFileSync } from 'node:fs';
import type { Etcd3, IKeyValue, IOptions, IWatchResponse, ILeaseKeepAliveResponse } from 'etcd3';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { checkEndpoint } from './endpoint-check.js';
import { CompactedError, EtcdAccessError, EtcdUnavailableError, describeError } from './errors.js';
import { describeTlsFailure, quietIpServerNameWarning } from './tls-failure.js';
import { type KeyRange, rangeEnd } from './key-range.js';

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
  put(key: string, value: string, options?: { lease?: string }): Promise<bigint>;
  /**
   * Puts `key` on `lease` only if the key is absent or already on that lease, in one transaction
   * (SPEC §9): a key held by another lease (or by none) is left alone and its holder returned.
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
 * so the client's gaps are covered in one place:
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

type Etcd3Module = typeof import('etcd3');

/** The largest answer from etcd either client accepts: a page or a watch fragment never comes near it. */
export const MAX_ANSWER_BYTES = 32 * 2 ** 20;

const grpcChannelOptions = {
  // Detect dead connections (a frozen or partitioned member) even when no call is in flight.
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5_000,
  // Reads come in pages (paged-range.ts) and watches in fragments, so no answer needs to be large;
  // this bounds the one page that a guess made too large (small values, then huge ones): it is
  // refused here, at 32 MiB, and asked for again with half the keys, instead of being decoded at
  // hundreds of MB. (gRPC's default of 4 MiB is too small for one etcd value at its largest
  // configured size plus headroom.)
  'grpc.max_receive_message_length': MAX_ANSWER_BYTES,
};

export async function connectEtcd(options: EtcdConnectionOptions): Promise<EtcdConnection> {
  // Loaded lazily: etcd3 pulls in gRPC and parses .proto files, which costs start-up time.
  const etcd3 = (await import('etcd3')) as Etcd3Module;
  return new Etcd3Connection(etcd3, options);
}

/** One etcd3 client per endpoint, so that we choose the member each call goes to. */
interface Endpoint {
  readonly index: number;
  readonly url: string;
  readonly client: Etcd3;
}

class Etcd3Connection implements EtcdConnection {
  readonly endpoints: readonly string[];
  private readonly members: Endpoint[];
  /** The endpoint calls go to until it fails. */
  private current: number;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  /** The user of `auth`, named in permission errors. */
  private readonly username: string | undefined;
  private keepAliveStream: KeepAliveStream | undefined;
  /** TLS on every endpoint (https://, or etcd.tls configured). */
  private readonly secure: boolean;
  private closed = false;

  constructor(
    private readonly etcd3: Etcd3Module,
    options: EtcdConnectionOptions,
  ) {
    if (options.endpoints.length === 0) throw new Error('no etcd endpoints configured');
    this.endpoints = options.endpoints;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.username = options.auth?.username;
    this.logger = options.logger ?? silentLogger;
    // Must return a promise even when fn throws: etcd3 calls `.catch` on the result.
    const noRetry = { execute: async <T>(fn: (context: { signal: AbortSignal }) => T) => fn({ signal: new AbortController().signal }) } as unknown as NonNullable<
      IOptions['faultHandling']
    >['global'];
    const clientOptions: Omit<IOptions, 'hosts'> = {
      grpcOptions: grpcChannelOptions,
      // Retries and failover are ours to decide; etcd3's circuit breaker would fail calls for 5 s
      // after three errors, even once etcd is back.
      faultHandling: { global: noRetry, host: () => noRetry! },
    };
    if (options.auth) clientOptions.auth = { username: options.auth.username, password: options.auth.password };
    this.secure = options.tls !== undefined || options.endpoints.some((e) => e.startsWith('https://'));
    if (this.secure) quietIpServerNameWarning();
    if (options.tls) {
      const read = (path: string | undefined) => (path ? readFileSync(path) : undefined);
      const rootCertificate = read(options.tls.ca);
      const privateKey = read(options.tls.key);
      const certChain = read(options.tls.cert);
      clientOptions.credentials = {
        // No CA given: gRPC falls back to the system's roots.
        rootCertificate: rootCertificate as Buffer,
        ...(privateKey ? { privateKey } : {}),
        ...(certChain ? { certChain } : {}),
      };
    }
    this.members = options.endpoints.map((e, index) => {
      const url = e.replace(/\/+$/, '');
      const client = new etcd3.Etcd3({ ...clientOptions, hosts: url });
      keepChannelsOnCallErrors(client);
      return { index, url, client };
    });
    // Spread clients over the members; each one then stays where it is while that works.
    this.current = Math.floor(Math.random() * this.members.length);
  }

  private pick(): Endpoint {
    return this.members[this.current]!;
  }

  /** `member` failed: unless another call already moved on, the next call goes to the next endpoint. */
  private failover(member: Endpoint, err: Error): void {
    if (this.members.length < 2 || this.current !== member.index || this.closed) return;
    this.current = (member.index + 1) % this.members.length;
    this.logger.info(`etcd ${member.url} failed (${describeError(err)}); using ${this.members[this.current]!.url}`);
  }

  private deadline() {
    return { deadline: Date.now() + this.timeoutMs };
  }

  /** Runs a unary call on the current endpoint, mapping etcd3's errors to ours; fails over on unavailability. */
  private async unary<T>(what: string, call: (client: Etcd3) => Promise<T>, member = this.pick()): Promise<T> {
    if (this.closed) throw new EtcdUnavailableError(`${what}: connection closed`);
    try {
      return await call(member.client);
    } catch (err) {
      const mapped = this.translate(what, err);
      if (mapped instanceof EtcdUnavailableError && !this.closed) {
        // gRPC reports TLS spoken to a plain etcd (and the reverse, and a server without gRPC) as
        // UNAVAILABLE, like an outage: one probe tells them apart.
        const misconfigured = await checkEndpoint(member.url, describeError(err), { secure: this.secure });
        if (misconfigured) throw misconfigured;
      }
      throw this.failed(member, mapped);
    }
  }

  /** Moves off `member` when `err` says it is unreachable; returns `err`. */
  private failed(member: Endpoint, err: Error): Error {
    if (err instanceof EtcdUnavailableError) this.failover(member, err);
    return err;
  }

  private translate(what: string, err: unknown): Error {
    const e = this.etcd3;
    const text = describeError(err);
    if (/required revision has been compacted/.test(text)) return new CompactedError(0n);
    // gRPC calls a failed TLS handshake UNAVAILABLE; a certificate verdict does not heal by retrying.
    const tls = describeTlsFailure(text);
    if (tls) return new EtcdAccessError(`${what} (${this.endpoints.join(', ')}): ${tls}`, { cause: err });
    if (
      err instanceof e.EtcdPermissionDeniedError ||
      err instanceof e.EtcdAuthenticationFailedError ||
      err instanceof e.GRPCUnauthenticatedError ||
      err instanceof e.EtcdUserNotFoundError ||
      err instanceof e.EtcdRoleNotGrantedError
    ) {
      // Whose permissions fell short is the first thing an operator needs to know.
      return new EtcdAccessError(`${what}: ${text}${this.username ? ' (as the configured etcd.auth user)' : ''}`, { cause: err });
    }
    if (err instanceof e.EtcdError || err instanceof e.GRPCInvalidArgumentError || err instanceof e.EtcdLeaseInvalidError) {
      return err instanceof Error ? err : new Error(text);
    }
    return new EtcdUnavailableError(`${what} (${this.endpoints.join(', ')}): ${text}`, { cause: err });
  }

  /** Forget a cached auth token so the next call or stream authenticates again. */
  private invalidateAuthToken(): void {
    for (const { client } of this.members) {
      const pool = (client as unknown as { pool?: { authenticator?: { invalidateMetadata?: () => void } } }).pool;
      pool?.authenticator?.invalidateMetadata?.();
    }
  }

  private isAuthTokenError(err: unknown): boolean {
    return err instanceof this.etcd3.EtcdInvalidAuthTokenError || /invalid auth token|auth token is expired/i.test(describeError(err));
  }

  async range(range: KeyRange, options: RangeOptions = {}): Promise<RangeResult> {
    const res = await this.unary('read', (client) =>
      client.kv.range(
        {
          key: typeof options.from === 'object' ? options.from : Buffer.from(options.from ?? range.key, 'utf8'),
          ...(range.prefix ? { range_end: rangeEnd(range) } : {}),
          ...(options.revision !== undefined ? { revision: options.revision.toString() } : {}),
          ...(options.limit ? { limit: options.limit } : {}),
          serializable: false,
        },
        this.deadline(),
      ),
    );
    return { kvs: res.kvs.map(toKeyValue), revision: BigInt(res.header.revision), more: Boolean(res.more), lastKey: res.kvs[res.kvs.length - 1]?.key };
  }

  async newestModRevision(range: KeyRange): Promise<bigint> {
    const res = await this.unary('read', (client) =>
      client.kv.range(
        {
          key: Buffer.from(range.key, 'utf8'),
          ...(range.prefix ? { range_end: rangeEnd(range) } : {}),
          sort_target: 'Mod',
          sort_order: 'Descend',
          limit: 1,
          keys_only: true,
          serializable: false,
        },
        this.deadline(),
      ),
    );
    return res.kvs[0] ? BigInt(res.kvs[0].mod_revision) : 0n;
  }

  async put(key: string, value: string, options: { lease?: string } = {}): Promise<bigint> {
    const res = await this.unary('put', (client) =>
      client.kv.put(
        { key: Buffer.from(key, 'utf8'), value: Buffer.from(value, 'utf8'), ...(options.lease ? { lease: options.lease } : {}) },
        this.deadline(),
      ),
    );
    return BigInt(res.header.revision);
  }

  async putIfFree(key: string, value: string, lease: string): Promise<PutIfFreeResult> {
    const k = Buffer.from(key, 'utf8');
    const put = { request_put: { key: k, value: Buffer.from(value, 'utf8'), lease } };
    // One atomic transaction (nested, etcd >= 3.3): absent → put; else on our lease → put; else read the holder.
    const res = await this.unary('put', (client) =>
      client.kv.txn(
        {
          compare: [{ key: k, result: 'Equal', target: 'Create', create_revision: '0' }],
          success: [put],
          failure: [{ request_txn: { compare: [{ key: k, result: 'Equal', target: 'Lease', lease }], success: [put], failure: [{ request_range: { key: k } }] } }],
        },
        this.deadline(),
      ),
    );
    const inner = res.succeeded ? undefined : res.responses[0]?.response_txn;
    if (res.succeeded || inner?.succeeded) return { ok: true, revision: BigInt(res.header.revision) };
    const kv = inner?.responses[0]?.response_range?.kvs[0];
    // The range ran in the same transaction as the compares that found the key present.
    if (!kv) throw new Error(`put ${key}: etcd answered the transaction without the key's holder`);
    return { ok: false, holder: { lease: String(kv.lease), createRevision: BigInt(kv.create_revision), modRevision: BigInt(kv.mod_revision) } };
  }

  async delete(key: string): Promise<number> {
    const res = await this.unary('delete', (client) => client.kv.deleteRange({ key: Buffer.from(key, 'utf8') }, this.deadline()));
    return Number(res.deleted);
  }

  async deleteAt(key: string, options: { lease?: string | undefined } = {}): Promise<{ deleted: number; revision: bigint }> {
    const k = Buffer.from(key, 'utf8');
    if (options.lease === undefined) {
      const res = await this.unary('delete', (client) => client.kv.deleteRange({ key: k }, this.deadline()));
      return { deleted: Number(res.deleted), revision: BigInt(res.header.revision) };
    }
    const lease = options.lease;
    const res = await this.unary('delete', (client) =>
      client.kv.txn({ compare: [{ key: k, result: 'Equal', target: 'Lease', lease }], success: [{ request_delete_range: { key: k } }], failure: [] }, this.deadline()),
    );
    const deleted = res.succeeded ? Number(res.responses[0]?.response_delete_range?.deleted ?? 0) : 0;
    return { deleted, revision: BigInt(res.header.revision) };
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    const res = await this.unary('lease grant', (client) => client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }, this.deadline()));
    if (res.error) throw new Error(`lease grant: ${res.error}`);
    return String(res.ID);
  }

  async leaseTimeToLive(leaseId: string): Promise<number> {
    const res = await this.unary('lease lookup', (client) => client.leaseClient.leaseTimeToLive({ ID: leaseId, keys: false }, this.deadline()));
    return Number(res.TTL);
  }

  async revokeLease(leaseId: string): Promise<void> {
    try {
      await this.unary('lease revoke', (client) => client.leaseClient.leaseRevoke({ ID: leaseId }, this.deadline()));
    } catch (err) {
      if (/requested lease not found/.test(describeError(err))) return; // already gone: the goal is met
      throw err;
    }
  }

  async keepAlive(leaseId: string): Promise<number> {
    if (this.closed) throw new EtcdUnavailableError('keepalive: connection closed');
    if (!this.keepAliveStream || this.keepAliveStream.broken) {
      const idleError = this.keepAliveStream?.idleError;
      if (idleError) this.failed(this.keepAliveStream!.member, this.translate('keepalive', this.etcd3.castGrpcError(idleError)));
      const member = this.pick();
      this.keepAliveStream = await this.unary('keepalive', async (client) => new KeepAliveStream(await client.leaseClient.leaseKeepAlive(), member), member);
    }
    const stream = this.keepAliveStream;
    try {
      return await stream.send(leaseId, this.timeoutMs);
    } catch (err) {
      stream.destroy();
      if (this.isAuthTokenError(err)) this.invalidateAuthToken();
      throw this.failed(stream.member, this.translate('keepalive', err));
    }
  }

  async watch(range: KeyRange, startRevision: bigint, listener: WatchListener): Promise<WatchHandle> {
    if (this.closed) throw new EtcdUnavailableError('watch: connection closed');
    const member = this.pick();
    const stream = await this.unary('watch', (client) => client.watchClient.watch(), member);
    // A gRPC stream with no 'error' listener crashes the process on error; there is always one.
    let created = false;
    let finished = false;
    /** Events of the fragments of a response received so far. */
    let pending: WatchEvent[] | undefined;
    return new Promise<WatchHandle>((resolve, reject) => {
      const finish = (err: Error) => {
        if (finished) return;
        finished = true;
        clearTimeout(createTimer);
        cancelStream(stream);
        if (this.isAuthTokenError(err)) this.invalidateAuthToken();
        this.failed(member, err);
        if (created) listener.onBroken(err);
        else reject(err);
      };
      const createTimer = setTimeout(
        () => finish(new EtcdUnavailableError(`watch: etcd did not confirm the watch within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      stream.on('error', (err: unknown) => finish(this.translate('watch', this.etcd3.castGrpcError(err as Error))));
      stream.on('end', () => finish(new EtcdUnavailableError('watch: stream ended by etcd')));
      stream.on('data', (res: IWatchResponse) => {
        if (finished) return;
        if (res.canceled) {
          const compact = BigInt(res.compact_revision || '0');
          finish(compact > 0n ? new CompactedError(compact) : new EtcdAccessError(`watch cancelled by etcd: ${res.cancel_reason || 'no reason given'}`));
          return;
        }
        if (res.compact_revision && res.compact_revision !== '0') {
          finish(new CompactedError(BigInt(res.compact_revision)));
          return;
        }
        const headerRevision = BigInt(res.header?.revision ?? '0');
        if (res.created && !created) {
          created = true;
          clearTimeout(createTimer);
          resolve({
            requestProgress: () => {
              if (!finished) stream.write({ progress_request: {} });
            },
            close: (stalled?: Error) => {
              if (finished) return;
              finished = true;
              cancelStream(stream);
              if (stalled) this.failover(member, stalled);
            },
          });
        }
        // A response etcd split into fragments (see `fragment` below): their events are one
        // response's, delivered together once the last fragment (fragment: false) arrives.
        if ((res as { fragment?: boolean }).fragment) {
          pending ??= [];
          for (const ev of res.events) pending.push(toWatchEvent(ev));
          return;
        }
        let events = res.events.map(toWatchEvent);
        if (pending) {
          for (const ev of events) pending.push(ev);
          events = pending;
          pending = undefined;
        }
        if (events.length > 0) listener.onEvents(events, headerRevision);
        else if (!res.created) listener.onProgress(headerRevision);
      });
      const createRequest = {
        key: Buffer.from(range.key, 'utf8'),
        ...(range.prefix ? { range_end: rangeEnd(range) } : {}),
        start_revision: startRevision.toString(),
        progress_notify: true,
        // A response over etcd's request size limit (a catch-up or a mass expiry with large
        // values) comes in fragments rather than one message that could exceed gRPC's
        // receive limit and break the watch on every retry. In etcd3 1.1.2's rpc.proto, not in its typings.
        fragment: true,
      };
      stream.write({ create_request: createRequest });
    });
  }

  close(): void {
    this.closed = true;
    this.keepAliveStream?.destroy();
    for (const { client } of this.members) client.close();
  }
}

type Duplex = Awaited<ReturnType<Etcd3['watchClient']['watch']>>;

function cancelStream(stream: Duplex | Awaited<ReturnType<Etcd3['leaseClient']['leaseKeepAlive']>>): void {
  const s = stream as unknown as { cancel?: () => void; end: () => void; on: (e: string, f: () => void) => void };
  s.on('error', () => {}); // cancelling emits a CANCELLED error; swallow it
  try {
    s.cancel?.();
    s.end();
  } catch {
    // already closed
  }
}

interface KeepAliveWaiter {
  resolve: (ttl: number) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One long-lived LeaseKeepAlive stream; requests are answered in order. Exported for its tests.
 * An answer finds its request by lease ID in O(1): with many leases on one connection, a slow
 * etcd leaves thousands of keepalives in flight, and a linear search per answer would burn CPU
 * quadratically exactly when etcd is struggling.
 */
export class KeepAliveStream {
  broken = false;
  /** What broke the stream while no keepalive was waiting for an answer. */
  idleError: Error | undefined;
  /** Keepalives sent and not answered yet, by lease ID, oldest first. */
  private readonly waiting = new Map<string, KeepAliveWaiter[]>();

  constructor(
    private readonly stream: Awaited<ReturnType<Etcd3['leaseClient']['leaseKeepAlive']>>,
    /** The endpoint the stream runs to. */
    readonly member: Endpoint,
  ) {
    stream.on('data', (res: ILeaseKeepAliveResponse) => {
      const id = String(res.ID);
      const queue = this.waiting.get(id);
      const w = queue?.shift();
      if (!w) return;
      if (queue!.length === 0) this.waiting.delete(id);
      clearTimeout(w.timer);
      w.resolve(Number(res.TTL));
    });
    stream.on('error', (err: Error) => this.fail(err, true));
    stream.on('end', () => this.fail(new Error('keepalive stream ended by etcd'), true));
  }

  send(id: string, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`keepalive not answered within ${timeoutMs} ms`)), timeoutMs);
      const waiter = { resolve, reject, timer };
      const queue = this.waiting.get(id);
      if (queue) queue.push(waiter);
      else this.waiting.set(id, [waiter]);
      this.stream.write({ ID: id });
    });
  }

  private fail(err: Error, fromStream = false): void {
    if (fromStream && !this.broken && this.waiting.size === 0) this.idleError = err;
    this.broken = true;
    const queues = [...this.waiting.values()];
    this.waiting.clear();
    for (const queue of queues) {
      for (const w of queue) {
        clearTimeout(w.timer);
        w.reject(err);
      }
    }
  }

  destroy(): void {
    this.fail(new Error('keepalive stream closed'));
    cancelStream(this.stream);
  }
}

function toKeyValue(kv: IKeyValue): KeyValue {
  return { key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), modRevision: BigInt(kv.mod_revision), lease: String(kv.lease) };
}

function toWatchEvent(ev: IWatchResponse['events'][number]): WatchEvent {
  return {
    type: ev.type === 'Delete' ? 'delete' : 'put',
    key: ev.kv.key.toString('utf8'),
    value: ev.kv.value?.toString('utf8') ?? '',
    modRevision: BigInt(ev.kv.mod_revision),
  };
}

/**
 * etcd3 closes every gRPC channel to a host, with every watch and keepalive stream on them,
 * whenever one call fails with an error it deems recoverable: a missed deadline, etcd's "too many
 * requests". One slow read then broke every watch of the process, whose re-reads were slow again:
 * 10k registrations in one process kept dropping their streams (bench/, scale suite). So the
 * channels are only closed when their connection is gone anyway (fresh channels then reconnect at
 * once, where grpc's own backoff may wait seconds), never while it is up; close() still closes
 * them. This reaches into etcd3's connection pool, whose Host class this matches in 1.1.2, the
 * pinned version (connection.integration.test.ts fails if that changes).
 */
function keepChannelsOnCallErrors(client: Etcd3): void {
  type Channel = { getConnectivityState(connect: boolean): number };
  type Host = { resetAllServices(): void; close(): void; closed: boolean; cachedServices: Record<string, { getChannel(): Channel } | undefined> };
  const READY = 2; // grpc.connectivityState.READY
  const hosts = (client as unknown as { pool?: { hosts?: Host[] } }).pool?.hosts;
  for (const host of hosts ?? []) {
    const closeChannels = host.resetAllServices.bind(host);
    host.resetAllServices = () => {
      const connected = Object.values(host.cachedServices).some((service) => service?.getChannel().getConnectivityState(false) === READY);
      if (!connected) closeChannels();
    };
    host.close = () => {
      closeChannels();
      host.closed = true;
    };
  }
}
