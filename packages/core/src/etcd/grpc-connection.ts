/**
 * Our EtcdConnection over gRPC, on the `etcd3` client: what it covers of etcd3's gaps is listed at
 * EtcdConnection (types.ts); where it changes etcd3's internals, etcd3-patches.ts.
 */
import { readFileSync } from 'node:fs';
import type * as etcd3Module from 'etcd3';
import type { Etcd3, IKeyValue, IOptions, IWatchResponse } from 'etcd3';
import { describeError } from '../util/describe-error.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { checkEndpoint } from './endpoint-check.js';
import { invalidateAuthToken, keepChannelsOnCallErrors, withoutRetries } from './etcd3-patches.js';
import { CompactedError, EtcdAccessError, EtcdUnavailableError } from './errors.js';
import { KeepAliveStream, cancelStream } from './keepalive-stream.js';
import { type KeyRange, rangeEnd } from './key-range.js';
import { describeTlsFailure, quietIpServerNameWarning } from './tls-failure.js';
import {
  type EtcdConnection,
  type EtcdConnectionOptions,
  type KeyValue,
  MAX_ANSWER_BYTES,
  type PutIfFreeResult,
  type RangeOptions,
  type RangeResult,
  type RangeSummary,
  type WatchEvent,
  type WatchHandle,
  type WatchListener,
} from './types.js';

type Etcd3Module = typeof etcd3Module;

const grpcChannelOptions = {
  // Detect dead connections (a frozen or partitioned member) under a watch or keepalive stream.
  // Not while no call is in flight: etcd's policy refuses those pings, and after three it sends
  // GOAWAY "too many pings" (the connection drops; grpc-js prints a line of its own on stderr). A
  // call on an idle connection has its own deadline.
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 0,
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
  const etcd3 = await import('etcd3');
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
  private keepAliveStream: KeepAliveStream<Endpoint> | undefined;
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
    const clientOptions: Omit<IOptions, 'hosts'> = {
      grpcOptions: grpcChannelOptions,
      // Retries and failover are ours to decide.
      faultHandling: withoutRetries(),
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
    for (const { client } of this.members) invalidateAuthToken(client);
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
    return (await this.summarize(range)).newestModRevision;
  }

  async summarize(range: KeyRange, options: { revision?: bigint | undefined } = {}): Promise<RangeSummary> {
    const res = await this.unary('read', (client) =>
      client.kv.range(
        {
          key: Buffer.from(range.key, 'utf8'),
          ...(range.prefix ? { range_end: rangeEnd(range) } : {}),
          ...(options.revision !== undefined ? { revision: options.revision.toString() } : {}),
          sort_target: 'Mod',
          sort_order: 'Descend',
          limit: 1,
          keys_only: true,
          serializable: false,
        },
        this.deadline(),
      ),
    );
    return { count: Number(res.count), newestModRevision: res.kvs[0] ? BigInt(res.kvs[0].mod_revision) : 0n, revision: options.revision ?? BigInt(res.header.revision) };
  }

  async put(key: string, value: string, options: { lease?: string } = {}): Promise<bigint> {
    const res = await this.unary('put', (client) =>
      client.kv.put({ key: Buffer.from(key, 'utf8'), value: Buffer.from(value, 'utf8'), ...(options.lease ? { lease: options.lease } : {}) }, this.deadline()),
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
      const createTimer = setTimeout(() => finish(new EtcdUnavailableError(`watch: etcd did not confirm the watch within ${this.timeoutMs} ms`)), this.timeoutMs);
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
