import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@cluster-control/core';
import { type Peer, fetchErrorMessage, getJson, readPeers } from '@cluster-control/demo-shared';
import { type DatabaseResult, type WebReport, buildWebReport, databaseResult } from './report.js';

export const DATABASE_TIMEOUT_MS = 1000;

/** The web server: keeps the database list from dbservers.json and asks every database on request. */
export class WebApp {
  private databases: Peer[] = [];

  constructor(
    private readonly name: string,
    private readonly file: string,
    private readonly logger: Logger,
  ) {}

  /** (Re-)reads the cluster file; on a bad read the previous list stays. */
  async load(): Promise<void> {
    try {
      this.databases = await readPeers(this.file);
      this.logger.info(`databases: ${this.databases.map((d) => d.name).join(', ') || '(none)'}`);
    } catch (err) {
      this.logger.warn(`could not read ${this.file}: ${fetchErrorMessage(err)}; keeping ${this.databases.length} database(s)`);
    }
  }

  async report(): Promise<WebReport> {
    const results = await Promise.all(
      this.databases.map(async (db): Promise<DatabaseResult> => {
        try {
          return databaseResult(db.name, await getJson(`${db.url}/`, DATABASE_TIMEOUT_MS));
        } catch (err) {
          return { name: db.name, error: fetchErrorMessage(err) };
        }
      }),
    );
    return buildWebReport(this.name, results);
  }

  readonly handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    } else if (path === '/' || path === '/report') {
      const body = JSON.stringify(await this.report()) + '\n';
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
  };
}
