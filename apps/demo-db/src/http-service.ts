import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Logger, SupervisedService } from '@cluster-control/core';

// The app's own HTTP server as the Supervisor's service: start = listen, stop = close (every
// connection, keep-alive and event streams included), reload = the app's callback.
// (Each app carries its own copy; see args.ts.)

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpServiceOptions {
  host: string;
  port: number;
  handler: RequestHandler;
  logger: Logger;
  /** Before listening (e.g. read the cluster file the Supervisor prepared). */
  onStart?: () => void | Promise<void>;
  /** Before closing the server (e.g. stop polling, end event streams). */
  onStop?: () => void | Promise<void>;
  /** A cluster's file was replaced. */
  onReload?: (cluster: string) => void | Promise<void>;
}

export class HttpService implements SupervisedService {
  readonly exited: Promise<number>;
  private resolveExited!: (code: number) => void;
  private readonly server: Server;
  private listening = false;
  private stopping: Promise<number> | undefined;

  constructor(private readonly options: HttpServiceOptions) {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    this.server = createServer((req, res) => {
      Promise.resolve()
        .then(() => options.handler(req, res))
        .catch((err: unknown) => {
          options.logger.error(`${req.method ?? '?'} ${req.url ?? '?'}: ${err instanceof Error ? err.message : String(err)}`);
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('internal error\n');
        });
    });
  }

  async start(): Promise<void> {
    await this.options.onStart?.();
    const { host, port, logger } = this.options;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`));
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

  stop(): Promise<number> {
    this.stopping ??= (async () => {
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
