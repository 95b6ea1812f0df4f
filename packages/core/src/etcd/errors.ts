import { ErrorCode } from '../util/error-codes.js';

/** The revision asked for has been compacted away; `compactRevision` is the oldest one still kept. */
export class CompactedError extends Error {
  readonly code = ErrorCode.CC_ETCD_COMPACTED;

  constructor(readonly compactRevision: bigint) {
    super(`revision compacted (oldest available: ${compactRevision})`);
    this.name = 'CompactedError';
  }
}

/** etcd could not be reached (or answered too late) within the deadline. */
export class EtcdUnavailableError extends Error {
  readonly code = ErrorCode.CC_ETCD_UNAVAILABLE;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EtcdUnavailableError';
  }
}

/**
 * etcd refused the call for authentication or permission reasons; retrying will not help. Every
 * loop that retries etcd calls stops on it (and on its subclass EtcdEndpointError).
 */
export class EtcdAccessError extends Error {
  /** Widened to ErrorCode: the subclasses carry codes of their own. */
  readonly code: ErrorCode = ErrorCode.CC_ETCD_ACCESS;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EtcdAccessError';
  }
}

/**
 * The endpoint is not what the configuration says it is: TLS against a plain etcd (or the
 * reverse), a server that is not etcd, an etcd without the JSON gateway while the gateway was
 * required. Permanent, like an access error (a subclass, so every retry loop stops on it), and
 * never an EtcdUnavailableError. The message names the endpoint, what is wrong and what to do.
 */
export class EtcdEndpointError extends EtcdAccessError {
  override readonly code: ErrorCode = ErrorCode.CC_ETCD_ENDPOINT;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EtcdEndpointError';
  }
}

/**
 * The endpoint answered HTTP 404 on a path of etcd's JSON gateway: an etcd without the gateway
 * (`--enable-grpc-gateway=false`), an `etcd grpc-proxy`, or not etcd at all. With transport
 * 'auto' the client moves to gRPC; with 'gateway' this is the error the command ends with.
 */
export class GatewayMissingError extends EtcdEndpointError {
  override readonly code: ErrorCode = ErrorCode.CC_ETCD_NO_GATEWAY;

  constructor(
    readonly endpoint: string,
    readonly path: string,
  ) {
    super(
      `${endpoint}: no etcd JSON gateway here (HTTP 404 for ${path}); for an etcd behind "etcd grpc-proxy" or started with --enable-grpc-gateway=false set etcd.transport to "auto" or "grpc", otherwise check etcd.endpoints`,
    );
    this.name = 'GatewayMissingError';
  }
}
