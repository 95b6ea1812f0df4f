import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { isIPv6 } from 'node:net';
import { formatListenAddress } from '../observe/http-endpoints.js';
import type { Logger } from '../util/log.js';
import type { SupervisedService } from './service.js';

export type HttpRequestHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpServerServiceOptions {
  /** The address to listen on, e.g. `127.0.0.2` or `::1` (no brackets). */
  host: string;
  /** 0 picks a free port (see url()). */
  port: number;
  /** Answers every request. A throw or rejection is logged and answered with 500 (the connection is dropped if the answer had begun). */
  handler: HttpRequestHandler;
  logger: Logger;
  /** Runs before listening, e.g. to read the cluster files the Supervisor has just written. */
  onStart?: () => void | Promise<void>;
  /** Runs before the server closes, e.g. to stop background work and end event streams. A failure is logged. */
  onStop?: () => void | Promise<void>;
  /** A cluster's file was replaced (the Supervisor's reload(cluster)), e.g. to read it again. */
  onReload?: (cluster: string) => void | Promise<void>;
}

/**
 * A node:http server in this process as the Supervisor's service, for a Node application that
 * is itself the server cluster-control registers: start() runs onStart and listens; stop() runs
 * onStop and closes the server and every connection, keep-alive and long-lived responses (event
 * streams) included, so it never waits for a client to let go; reload(cluster) calls onReload.
 * `exited` resolves with 0 after stop(), or with 1 if the listening server fails.
 */
export class HttpServerService implements SupervisedService {
  readonly exited: Promise<number>;
  /** The underlying server (e.g. for `upgrade` listeners); listen and close it through start() and stop(). */
  readonly server: Server;
  private resolveExited!: (code: number) => void;
  private starting: Promise<void> | undefined;
  private listening = false;
  private stopping: Promise<number> | undefined;

  constructor(private readonly options: HttpServerServiceOptions) {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    this.server = createServer((req, res) => {
      Promise.resolve()
        .then(() => options.handler(req, res))
        .catch((err: unknown) => {
          options.logger.error(`${req.method ?? '?'} ${req.url ?? '?'}: ${err instanceof Error ? err.message : String(err)}`);
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('internal error\n');
          else res.destroy();
        });
    });
  }

  /** Runs onStart, then listens; rejects with `cannot listen on HOST:PORT: ...` when it cannot. */
  start(): Promise<void> {
    this.starting ??= this.listen();
    return this.starting;
  }

  private async listen(): Promise<void> {
    await this.options.onStart?.();
    const { host, port, logger } = this.options;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new Error(`cannot listen on ${formatListenAddress({ host, port })}: ${err.message}`));
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.listening = true;
    this.server.on('error', (err) => {
      logger.error(`HTTP server failed: ${err.message}`);
      this.resolveExited(1);
    });
  }

  /**
   * The base URL this process reaches the server at, without a trailing slash: the configured
   * host (IPv6 in brackets; 0.0.0.0 and :: as loopback) and the actual port. Only while listening.
   */
  url(): string {
    const bound = this.server.address();
    if (!this.listening || bound === null || typeof bound !== 'object') throw new Error('the HTTP server is not listening');
    const host = this.options.host === '0.0.0.0' ? '127.0.0.1' : isIPv6(this.options.host) && /^[0:]+$/.test(this.options.host) ? '::1' : this.options.host;
    return `http://${formatListenAddress({ host, port: bound.port })}`;
  }

  /** Runs onStop, then closes the server and all its connections; resolves with the exit code. Idempotent. */
  stop(): Promise<number> {
    this.stopping ??= (async () => {
      await this.starting?.catch(() => {});
      try {
        await this.options.onStop?.();
      } catch (err) {
        this.options.logger.warn(`stopping: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (this.listening) {
        this.listening = false;
        const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
        this.server.closeAllConnections();
        await closed;
      }
      this.resolveExited(0);
      return this.exited;
    })();
    return this.stopping;
  }

  reload(cluster: string): void | Promise<void> {
    return this.options.onReload?.(cluster);
  }
}
