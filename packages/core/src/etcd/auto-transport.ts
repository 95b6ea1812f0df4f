/**
 * The unary client of `etcd.transport` 'auto' and 'grpc'. 'auto' starts on etcd's JSON gateway
 * (fast start-up: no gRPC to load) and, the first time the gateway answers 404 (an etcd started
 * with --enable-grpc-gateway=false, an `etcd grpc-proxy`), moves to gRPC for the rest of the
 * process, the failed call included. 'grpc' is the same without the gateway: gRPC loaded on the
 * first call, so that creating the client stays cheap.
 */
import type { Logger } from '../util/log.js';
import type { EtcdClient, PutIfFreeResult, RangeOptions, RangeResult, RangeSummary } from './types.js';
import { EtcdUnavailableError, GatewayMissingError } from './errors.js';
import type { KeyRange } from './key-range.js';

export interface TransportClientOptions {
  endpoints: readonly string[];
  /** The gateway client to start on; without it every call goes over gRPC. */
  gateway?: EtcdClient | undefined;
  /** Loads the gRPC client; called at most once, when it is first needed. */
  loadGrpc: () => Promise<EtcdClient>;
  logger: Logger;
}

export function transportClient(options: TransportClientOptions): EtcdClient {
  return new TransportClient(options);
}

class TransportClient implements EtcdClient {
  readonly endpoints: readonly string[];
  private readonly gateway: EtcdClient | undefined;
  private grpc: Promise<EtcdClient> | undefined;
  private closed = false;

  constructor(private readonly options: TransportClientOptions) {
    this.endpoints = options.endpoints;
    this.gateway = options.gateway;
  }

  /** Runs `call` on the gateway until it turns out to be missing, then on gRPC. */
  private async via<T>(call: (client: EtcdClient) => Promise<T>): Promise<T> {
    if (this.gateway && !this.grpc) {
      try {
        return await call(this.gateway);
      } catch (err) {
        if (!(err instanceof GatewayMissingError) || this.closed) throw err;
        if (!this.grpc) this.options.logger.debug(`${err.endpoint}: no JSON gateway (HTTP 404 for ${err.path}); using gRPC from now on`);
      }
    }
    return call(await this.grpcClient());
  }

  private grpcClient(): Promise<EtcdClient> {
    if (this.closed) return Promise.reject(new EtcdUnavailableError('connection closed'));
    this.grpc ??= this.options.loadGrpc();
    return this.grpc;
  }

  range(range: KeyRange, options?: RangeOptions): Promise<RangeResult> {
    return this.via((c) => c.range(range, options));
  }

  newestModRevision(range: KeyRange): Promise<bigint> {
    return this.via((c) => c.newestModRevision(range));
  }
  summarize(range: KeyRange, options?: { revision?: bigint | undefined }): Promise<RangeSummary> {
    return this.via((c) => c.summarize(range, options));
  }

  put(key: string, value: string, options?: { lease?: string }): Promise<bigint> {
    return this.via((c) => c.put(key, value, options));
  }

  putIfFree(key: string, value: string, lease: string): Promise<PutIfFreeResult> {
    return this.via((c) => c.putIfFree(key, value, lease));
  }

  delete(key: string): Promise<number> {
    return this.via((c) => c.delete(key));
  }

  deleteAt(key: string, options?: { lease?: string | undefined }): Promise<{ deleted: number; revision: bigint }> {
    return this.via((c) => c.deleteAt(key, options));
  }

  grantLease(ttlSeconds: number): Promise<string> {
    return this.via((c) => c.grantLease(ttlSeconds));
  }

  keepAlive(leaseId: string): Promise<number> {
    return this.via((c) => c.keepAlive(leaseId));
  }

  leaseTimeToLive(leaseId: string): Promise<number> {
    return this.via((c) => c.leaseTimeToLive(leaseId));
  }

  revokeLease(leaseId: string): Promise<void> {
    return this.via((c) => c.revokeLease(leaseId));
  }

  close(): void {
    this.closed = true;
    this.gateway?.close();
    // Loaded meanwhile or later: closed as soon as it is there.
    this.grpc?.then(
      (client) => client.close(),
      () => {},
    );
  }
}
