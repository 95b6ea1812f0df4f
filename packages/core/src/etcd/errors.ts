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

/** etcd refused the call for authentication or permission reasons; retrying will not help. */
export class EtcdAccessError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EtcdAccessError';
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
