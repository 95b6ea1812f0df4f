import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@cluster-control/core';
import { type Peer, fetchErrorMessage, getJson, readPeers } from '@cluster-control/demo-shared';
import type { Observation } from './agreement.js';
import { EventHub, formatEvent } from './events.js';
import { type FleetCluster, type FleetReport, FleetPoller } from './fleet.js';
import { contentSecurityPolicy, renderPage } from './html.js';
import { Poller } from './poller.js';
import { type LbReport, buildReport, observe, reportKey, unreachable } from './report.js';
import { renderText } from './text-report.js';

export const POLL_INTERVAL_MS = 250;
export const WEB_TIMEOUT_MS = 1000;

/** Where the fleet table comes from: a read of every watcher's status record (fleet.ts). */
export interface FleetOptions {
  read: () => Promise<FleetCluster[]>;
  statusPrefix: string;
  intervalMs?: number;
}

/**
 * The load balancer: keeps the web-server list from webservers.json, asks every web server's
 * /report, keeps the latest report, and serves it as HTML, text, JSON and an event stream. With
 * `fleet`, it also reads what every watcher of the demo's clusters published (their status
 * records) and serves that fleet table alongside (/fleet.json, `fleet` events).
 */
export class LbApp {
  private webServers: Peer[] = [];
  private report: LbReport;
  private key: string;
  private readonly events = new EventHub();
  private readonly poller: Poller;
  private readonly fleet: FleetPoller | undefined;

  constructor(
    private readonly name: string,
    private readonly file: string,
    private readonly logger: Logger,
    fleet?: FleetOptions,
  ) {
    this.report = buildReport(name, new Date(), []);
    this.key = reportKey(this.report);
    this.poller = new Poller({
      peers: () => this.webServers,
      ask: (peer) => this.ask(peer),
      onRound: (observations) => this.update(observations),
      intervalMs: POLL_INTERVAL_MS,
    });
    if (fleet) this.fleet = new FleetPoller(fleet.read, fleet.statusPrefix, (report) => this.fleetChanged(report), fleet.intervalMs);
  }

  /** Reads the list and polls once, so the first page already shows every web server. */
  async start(): Promise<void> {
    await this.load();
    await this.poller.start();
    await this.fleet?.start();
  }

  async stop(): Promise<void> {
    await this.poller.stop();
    await this.fleet?.stop();
    this.events.close();
  }

  /** (Re-)reads the cluster file and asks again at once; on a bad read the previous list stays. */
  async load(): Promise<void> {
    try {
      this.webServers = await readPeers(this.file);
      this.logger.info(`web servers: ${this.webServers.map((w) => w.name).join(', ') || '(none)'}`);
    } catch (err) {
      this.logger.warn(`could not read ${this.file}: ${fetchErrorMessage(err)}; keeping ${this.webServers.length} web server(s)`);
    }
    this.poller.wake();
  }

  current(): LbReport {
    return this.report;
  }

  /** The fleet table (empty when the app reads no status). */
  currentFleet(): FleetReport {
    return this.fleet?.current() ?? { statusPrefix: '', clusters: [] };
  }

  private fleetChanged(report: FleetReport): void {
    if (report.error) this.logger.warn(`fleet: could not read the status records: ${report.error}`);
    this.events.broadcast('fleet', JSON.stringify(report));
  }

  private async ask(peer: Peer): Promise<Observation> {
    try {
      return observe(peer.name, await getJson(`${peer.url}/report`, WEB_TIMEOUT_MS));
    } catch (err) {
      return unreachable(peer.name, fetchErrorMessage(err));
    }
  }

  private update(observations: Observation[]): void {
    const report = buildReport(this.name, new Date(), observations);
    const key = reportKey(report);
    const changed = key !== this.key;
    this.report = report;
    this.key = key;
    if (changed) {
      this.logger.info(`report: ${report.webServers.length} web server(s), databases [${report.databases.join(', ')}], ${report.consistent ? 'consistent' : 'inconsistent'}`);
      this.events.broadcast('report', JSON.stringify(report));
    }
  }

  readonly handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    const send = (type: string, body: string, extra: Record<string, string> = {}) =>
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...extra }).end(head ? undefined : body);
    switch (path) {
      case '/': {
        const nonce = randomBytes(16).toString('base64');
        send('text/html; charset=utf-8', renderPage(this.report, nonce, this.currentFleet()), { 'content-security-policy': contentSecurityPolicy(nonce), 'referrer-policy': 'no-referrer' });
        return;
      }
      case '/report.json':
        send('application/json; charset=utf-8', JSON.stringify(this.report) + '\n');
        return;
      case '/fleet.json':
        send('application/json; charset=utf-8', JSON.stringify(this.currentFleet()) + '\n');
        return;
      case '/report.txt':
        send('text/plain; charset=utf-8', renderText(this.report));
        return;
      case '/events':
        if (head) send('text/event-stream; charset=utf-8', '');
        else this.events.add(res, formatEvent('report', JSON.stringify(this.report)) + formatEvent('fleet', JSON.stringify(this.currentFleet())));
        return;
      case '/healthz':
        send('text/plain; charset=utf-8', 'ok\n');
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
  };
}
