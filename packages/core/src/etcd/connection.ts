import { readFileSync } from 'node:fs';
import type { Etcd3, IKeyValue, IOptions, IWatchResponse, ILeaseKeepAliveResponse } from 'etcd3';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { CompactedError, EtcdAccessError, EtcdUnavailableError, describeError } from './errors.js';
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

export interface RangeResult {
  kvs: KeyValue[];
  /** The store revision the read was served at. */
  revision: bigint;
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
  close(): void;
}

/**
 * Our small interface to etcd. Everything else in core talks to this, never to `etcd3` directly,
 * so the client's gaps are covered in one place:
 * - every unary call carries a deadline (etcd3's `dialTimeout` does nothing);
 * - watch creation has a deadline too (etcd3's `create()` hangs while etcd is down);
 * - compaction surfaces as a CompactedError instead of an `error` event that can crash the process;
 * - watch and keepalive streams drop a cached auth token that etcd rejects, so the next stream
 *   authenticates again (etcd3 refreshes tokens for unary calls only);
 * - no hidden retries or circuit breakers: callers decide (and re-read after any reconnect).
 */
export interface EtcdConnection {
  readonly endpoints: readonly string[];
  range(range: KeyRange, options?: { revision?: bigint }): Promise<RangeResult>;
  put(key: string, value: string, options?: { lease?: string }): Promise<bigint>;
  /** Deletes one key; resolves to the number deleted (0 or 1). */
  delete(key: string): Promise<number>;
  grantLease(ttlSeconds: number): Promise<string>;
  /** One keepalive; resolves to the remaining TTL in seconds, 0 when the lease no longer exists. */
  keepAlive(leaseId: string): Promise<number>;
  /** Remaining TTL in seconds, or -1 when the lease does not exist. */
  leaseTimeToLive(leaseId: string): Promise<number>;
  revokeLease(leaseId: string): Promise<void>;
  /** Opens a watch from `startRevision`; resolves once etcd confirmed it. */
  watch(range: KeyRange, startRevision: bigint, listener: WatchListener): Promise<WatchHandle>;
  close(): void;
}

type Etcd3Module = typeof import('etcd3');

const grpcChannelOptions = {
  // Detect dead connections (a frozen or partitioned member) even when no call is in flight.
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5_000,
};

export async function connectEtcd(options: EtcdConnectionOptions): Promise<EtcdConnection> {
  // Loaded lazily: etcd3 pulls in gRPC and parses .proto files, which costs start-up time.
  const etcd3 = (await import('etcd3')) as Etcd3Module;
  return new Etcd3Connection(etcd3, options);
}

class Etcd3Connection implements EtcdConnection {
  readonly endpoints: readonly string[];
  private readonly client: Etcd3;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private keepAliveStream: KeepAliveStream | undefined;
  private closed = false;

  constructor(
    private readonly etcd3: Etcd3Module,
    options: EtcdConnectionOptions,
  ) {
    if (options.endpoints.length === 0) throw new Error('no etcd endpoints configured');
    this.endpoints = options.endpoints;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.logger = options.logger ?? silentLogger;
    // Must return a promise even when fn throws: etcd3 calls `.catch` on the result.
    const noRetry = { execute: async <T>(fn: (context: { signal: AbortSignal }) => T) => fn({ signal: new AbortController().signal }) } as unknown as NonNullable<
      IOptions['faultHandling']
    >['global'];
    const clientOptions: IOptions = {
      hosts: options.endpoints.map((e) => e.replace(/\/+$/, '')),
      grpcOptions: grpcChannelOptions,
      // Retries and failover are ours to decide; etcd3's circuit breaker would fail calls for 5 s
      // after three errors, even once etcd is back.
      faultHandling: { global: noRetry, host: () => noRetry! },
    };
    if (options.auth) clientOptions.auth = { username: options.auth.username, password: options.auth.password };
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
    this.client = new etcd3.Etcd3(clientOptions);
  }

  private deadline() {
    return { deadline: Date.now() + this.timeoutMs };
  }

  /** Runs a unary call with a deadline, mapping etcd3's errors to ours. */
  private async unary<T>(what: string, call: () => Promise<T>): Promise<T> {
    if (this.closed) throw new EtcdUnavailableError(`${what}: connection closed`);
    try {
      return await call();
    } catch (err) {
      throw this.translate(what, err);
    }
  }

  private translate(what: string, err: unknown): Error {
    const e = this.etcd3;
    const text = describeError(err);
    if (/required revision has been compacted/.test(text)) return new CompactedError(0n);
    if (
      err instanceof e.EtcdPermissionDeniedError ||
      err instanceof e.EtcdAuthenticationFailedError ||
      err instanceof e.GRPCUnauthenticatedError ||
      err instanceof e.EtcdUserNotFoundError ||
      err instanceof e.EtcdRoleNotGrantedError
    ) {
      return new EtcdAccessError(`${what}: ${text}`, { cause: err });
    }
    if (err instanceof e.EtcdError || err instanceof e.GRPCInvalidArgumentError || err instanceof e.EtcdLeaseInvalidError) {
      return err instanceof Error ? err : new Error(text);
    }
    return new EtcdUnavailableError(`${what} (${this.endpoints.join(', ')}): ${text}`, { cause: err });
  }

  /** Forget a cached auth token so the next call or stream authenticates again. */
  private invalidateAuthToken(): void {
    const pool = (this.client as unknown as { pool?: { authenticator?: { invalidateMetadata?: () => void } } }).pool;
    pool?.authenticator?.invalidateMetadata?.();
  }

  private isAuthTokenError(err: unknown): boolean {
    return err instanceof this.etcd3.EtcdInvalidAuthTokenError || /invalid auth token|auth token is expired/i.test(describeError(err));
  }

  async range(range: KeyRange, options: { revision?: bigint } = {}): Promise<RangeResult> {
    const res = await this.unary('read', () =>
      this.client.kv.range(
        {
          key: Buffer.from(range.key, 'utf8'),
          ...(range.prefix ? { range_end: rangeEnd(range) } : {}),
          ...(options.revision !== undefined ? { revision: options.revision.toString() } : {}),
          serializable: false,
        },
        this.deadline(),
      ),
    );
    return { kvs: res.kvs.map(toKeyValue), revision: BigInt(res.header.revision) };
  }

  async put(key: string, value: string, options: { lease?: string } = {}): Promise<bigint> {
    const res = await this.unary('put', () =>
      this.client.kv.put(
        { key: Buffer.from(key, 'utf8'), value: Buffer.from(value, 'utf8'), ...(options.lease ? { lease: options.lease } : {}) },
        this.deadline(),
      ),
    );
    return BigInt(res.header.revision);
  }

  async delete(key: string): Promise<number> {
    const res = await this.unary('delete', () => this.client.kv.deleteRange({ key: Buffer.from(key, 'utf8') }, this.deadline()));
    return Number(res.deleted);
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    const res = await this.unary('lease grant', () => this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }, this.deadline()));
    if (res.error) throw new Error(`lease grant: ${res.error}`);
    return String(res.ID);
  }

  async leaseTimeToLive(leaseId: string): Promise<number> {
    const res = await this.unary('lease lookup', () => this.client.leaseClient.leaseTimeToLive({ ID: leaseId, keys: false }, this.deadline()));
    return Number(res.TTL);
  }

  async revokeLease(leaseId: string): Promise<void> {
    try {
      await this.unary('lease revoke', () => this.client.leaseClient.leaseRevoke({ ID: leaseId }, this.deadline()));
    } catch (err) {
      if (/requested lease not found/.test(describeError(err))) return; // already gone: the goal is met
      throw err;
    }
  }

  async keepAlive(leaseId: string): Promise<number> {
    if (this.closed) throw new EtcdUnavailableError('keepalive: connection closed');
    if (!this.keepAliveStream || this.keepAliveStream.broken) {
      this.keepAliveStream = await this.unary('keepalive', async () => new KeepAliveStream(await this.client.leaseClient.leaseKeepAlive()));
    }
    const stream = this.keepAliveStream;
    try {
      return await stream.send(leaseId, this.timeoutMs);
    } catch (err) {
      stream.destroy();
      if (this.isAuthTokenError(err)) this.invalidateAuthToken();
      throw this.translate('keepalive', err);
    }
  }

  async watch(range: KeyRange, startRevision: bigint, listener: WatchListener): Promise<WatchHandle> {
    if (this.closed) throw new EtcdUnavailableError('watch: connection closed');
    const stream = await this.unary('watch', () => this.client.watchClient.watch());
    // A gRPC stream with no 'error' listener crashes the process on error; there is always one.
    let created = false;
    let finished = false;
    return new Promise<WatchHandle>((resolve, reject) => {
      const finish = (err: Error) => {
        if (finished) return;
        finished = true;
        clearTimeout(createTimer);
        cancelStream(stream);
        if (this.isAuthTokenError(err)) this.invalidateAuthToken();
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
            close: () => {
              finished = true;
              cancelStream(stream);
            },
          });
        }
        if (res.events.length > 0) listener.onEvents(res.events.map(toWatchEvent), headerRevision);
        else if (!res.created) listener.onProgress(headerRevision);
      });
      stream.write({
        create_request: {
          key: Buffer.from(range.key, 'utf8'),
          ...(range.prefix ? { range_end: rangeEnd(range) } : {}),
          start_revision: startRevision.toString(),
          progress_notify: true,
        },
      });
    });
  }

  close(): void {
    this.closed = true;
    this.keepAliveStream?.destroy();
    this.client.close();
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

/** One long-lived LeaseKeepAlive stream; requests are answered in order. */
class KeepAliveStream {
  broken = false;
  private readonly waiting: { id: string; resolve: (ttl: number) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }[] = [];

  constructor(private readonly stream: Awaited<ReturnType<Etcd3['leaseClient']['leaseKeepAlive']>>) {
    stream.on('data', (res: ILeaseKeepAliveResponse) => {
      const index = this.waiting.findIndex((w) => w.id === String(res.ID));
      if (index < 0) return;
      const [w] = this.waiting.splice(index, 1);
      clearTimeout(w!.timer);
      w!.resolve(Number(res.TTL));
    });
    stream.on('error', (err: Error) => this.fail(err));
    stream.on('end', () => this.fail(new Error('keepalive stream ended by etcd')));
  }

  send(id: string, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`keepalive not answered within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push({ id, resolve, reject, timer });
      this.stream.write({ ID: id });
    });
  }

  private fail(err: Error): void {
    this.broken = true;
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
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
