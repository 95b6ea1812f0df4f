/** The revision asked for has been compacted away; `compactRevision` is the oldest one still kept. */
export class CompactedError extends Error {
  constructor(readonly compactRevision: bigint) {
    super(`revision compacted (oldest available: ${compactRevision})`);
    this.name = 'CompactedError';
  }
}

/** etcd could not be reached (or answered too late) within the deadline. */
export class EtcdUnavailableError extends Error {
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
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EtcdEndpointError';
  }
}

/** One-line description of any error, for logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    // gRPC ends "No connection established" with "Resolution note:" even when the note is empty.
    const msg = err.message.replace(/\s+/g, ' ').trim().replace(/\s*Resolution note:$/, '');
    return msg || err.name;
  }
  return String(err);
}

/**
 * The endpoint answered HTTP 404 on a path of etcd's JSON gateway: an etcd without the gateway
 * (`--enable-grpc-gateway=false`), an `etcd grpc-proxy`, or not etcd at all. With transport
 * 'auto' the client moves to gRPC; with 'gateway' this is the error the command ends with.
 */
export class GatewayMissingError extends EtcdEndpointError {
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
