/** The one long-lived LeaseKeepAlive stream of a gRPC connection (grpc-connection.ts). */
import type { Etcd3, ILeaseKeepAliveResponse } from 'etcd3';

type WatchStream = Awaited<ReturnType<Etcd3['watchClient']['watch']>>;
type LeaseKeepAliveStream = Awaited<ReturnType<Etcd3['leaseClient']['leaseKeepAlive']>>;

/** Ends a watch or keepalive stream (the watch streams of grpc-connection.ts too) without an unhandled error. */
export function cancelStream(stream: WatchStream | LeaseKeepAliveStream): void {
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
 * One long-lived LeaseKeepAlive stream; requests are answered in order.
 * An answer finds its request by lease ID in O(1): with many leases on one connection, a slow
 * etcd leaves thousands of keepalives in flight, and a linear search per answer would burn CPU
 * quadratically exactly when etcd is struggling.
 */
export class KeepAliveStream<Member = unknown> {
  broken = false;
  /** What broke the stream while no keepalive was waiting for an answer. */
  idleError: Error | undefined;
  /** Keepalives sent and not answered yet, by lease ID, oldest first. */
  private readonly waiting = new Map<string, KeepAliveWaiter[]>();

  constructor(
    private readonly stream: LeaseKeepAliveStream,
    /** The endpoint the stream runs to. */
    readonly member: Member,
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
