import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isIPv6, type Socket } from 'node:net';
import type { PrometheusMetrics } from './prometheus-metrics.js';

export interface ListenAddress {
  host: string;
  port: number;
}

const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/**
 * Parses `host:port`, `[v6addr]:port` or `:port` (all interfaces, 0.0.0.0). Strict on purpose:
 * a typo in `--metrics` should fail at startup, not listen somewhere unexpected.
 */
export function parseListenAddress(text: string): ListenAddress {
  const bad = (why: string) => new Error(`invalid listen address ${JSON.stringify(text)}: ${why} (expected host:port, [ipv6]:port or :port)`);
  const colon = text.lastIndexOf(':');
  if (colon < 0) throw bad(/^\d+$/.test(text) ? `no host separator; did you mean ":${text}"?` : 'no port');
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw bad('port must be a number from 0 to 65535');
  if (host === '') {
    host = '0.0.0.0';
  } else if (host.startsWith('[')) {
    if (!host.endsWith(']') || !isIPv6(host.slice(1, -1))) throw bad('brackets must hold an IPv6 address');
    host = host.slice(1, -1);
  } else if (host.includes(':')) {
    throw bad('an IPv6 address needs brackets, e.g. [::1]:9100');
  } else if (!HOSTNAME.test(host)) {
    throw bad('bad host name');
  }
  return { host, port: Number(portText) };
}

export function formatListenAddress({ host, port }: ListenAddress): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export interface ObservabilityOptions {
  /** `host:port`, `[::1]:port` or `:port` (= 0.0.0.0); port 0 picks a free one. */
  address: string;
  metrics: PrometheusMetrics;
  /** Behind /readyz; reasons are shown one per line when not ready. */
  ready: () => { ready: boolean; reasons: string[] };
  /** Behind /healthz; by default the process is healthy as long as it can answer. */
  healthy?: () => { healthy: boolean; reasons: string[] };
  /** Connection limits and timeouts (defaults: METRICS_SERVER_LIMITS). */
  limits?: Partial<ServerLimits>;
}

/**
 * What one `--metrics` listener lets clients cost. Anyone who can reach the port can open
 * connections; without limits, a flood of connections that send nothing (or half a request)
 * holds a file descriptor each until the process runs out, and then installs fail too.
 */
export interface ServerLimits {
  /** Open connections at most. At the limit a new connection closes the oldest one that has no request in progress (an idle or half-sent one); if every one is busy, the new one is closed. */
  maxConnections: number;
  /** Time to receive a request's complete headers (ms). */
  headersTimeoutMs: number;
  /** Time to receive a whole request (ms). */
  requestTimeoutMs: number;
  /** How long a kept-alive connection may wait for its next request (ms). */
  keepAliveTimeoutMs: number;
  /** A connection with no traffic either way for this long is closed (ms). */
  idleTimeoutMs: number;
}

export const METRICS_SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxConnections: 64,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 5_000,
});

export interface ObservabilityServer {
  /** The actual `host:port` (useful with port 0). */
  address: string;
  close(): Promise<void>;
}

const TEXT = 'text/plain; charset=utf-8';

/** Serves GET /metrics, /healthz and /readyz. Resolves once listening; rejects with a one-line message if it cannot. */
export async function serveObservability(options: ObservabilityOptions): Promise<ObservabilityServer> {
  const wanted = parseListenAddress(options.address);
  const limits: ServerLimits = { ...METRICS_SERVER_LIMITS, ...options.limits };
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often headersTimeout/requestTimeout are checked (Node's default is 30 s).
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, limits.headersTimeoutMs / 2)),
    },
    (req, res) => {
      handle(options, req, res).catch((err: unknown) => {
        if (!res.headersSent) reply(req, res, 500, TEXT, `internal error: ${err instanceof Error ? err.message : String(err)}\n`);
        else res.destroy();
      });
    },
  );
  limitConnections(server, limits);

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      const why = code === 'EADDRINUSE' ? 'address already in use' : (err.message.split('\n')[0] ?? code);
      const suffix = code && !why.includes(code) ? ` (${code})` : '';
      reject(new Error(`cannot listen on ${formatListenAddress(wanted)} for metrics: ${why}${suffix}`));
    };
    server.once('error', onError);
    server.listen(wanted.port, wanted.host, () => {
      server.off('error', onError);
      resolve();
    });
  });

  const bound = server.address();
  const address = bound && typeof bound === 'object' ? formatListenAddress({ host: bound.address, port: bound.port }) : formatListenAddress(wanted);
  let closing: Promise<void> | undefined;
  return {
    address,
    close() {
      closing ??= closeServer(server);
      return closing;
    },
  };
}

/**
 * Keeps at most `maxConnections` open, closing idle ones first, so a flood of connections that
 * send nothing costs a bounded number of descriptors and a prober still gets in: its new
 * connection takes the place of the oldest one with no request in progress. Node's own
 * `maxConnections` (twice ours) is the backstop while closed sockets are being released.
 */
function limitConnections(server: Server, limits: ServerLimits): void {
  /** Open connections, oldest first, with how many requests each has in progress. */
  const open = new Map<Socket, { busy: number }>();
  server.maxConnections = limits.maxConnections * 2;
  // No traffic at all for idleTimeoutMs: Node destroys the socket (there is no 'timeout' listener).
  server.timeout = limits.idleTimeoutMs;
  server.on('connection', (socket: Socket) => {
    if (open.size >= limits.maxConnections) {
      let idle: Socket | undefined;
      for (const [s, state] of open) {
        if (state.busy === 0) {
          idle = s;
          break;
        }
      }
      if (!idle) {
        socket.destroy();
        return;
      }
      open.delete(idle);
      idle.destroy();
    }
    open.set(socket, { busy: 0 });
    socket.once('close', () => open.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const state = open.get(req.socket);
    if (!state) return;
    state.busy += 1;
    res.once('close', () => {
      state.busy -= 1;
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Scrapers keep connections alive; without this, close() would wait for them to time out.
    server.closeAllConnections();
  });
}

async function handle(options: ObservabilityOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') {
    reply(req, res, 404, TEXT, 'not found; try /metrics, /healthz or /readyz\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    reply(req, res, 405, TEXT, 'method not allowed\n');
    return;
  }
  if (path === '/metrics') {
    reply(req, res, 200, options.metrics.contentType, await options.metrics.render());
  } else if (path === '/healthz') {
    const { ok, reasons } = probe('health', () => {
      const h = options.healthy?.() ?? { healthy: true, reasons: [] };
      return { ok: h.healthy, reasons: h.reasons };
    });
    reply(req, res, ok ? 200 : 503, TEXT, ok ? 'ok\n' : lines(reasons, 'unhealthy'));
  } else {
    const { ok, reasons } = probe('readiness', () => {
      const r = options.ready();
      return { ok: r.ready, reasons: r.reasons };
    });
    reply(req, res, ok ? 200 : 503, TEXT, ok ? 'ready\n' : lines(reasons, 'not ready'));
  }
}

/** A throwing probe counts as a failing one, with the error as its reason. */
function probe(what: string, run: () => { ok: boolean; reasons: string[] }): { ok: boolean; reasons: string[] } {
  try {
    return run();
  } catch (err) {
    return { ok: false, reasons: [`${what} check failed: ${err instanceof Error ? err.message : String(err)}`] };
  }
}

function lines(reasons: string[], fallback: string): string {
  return `${(reasons.length ? reasons : [fallback]).join('\n')}\n`;
}

function reply(req: IncomingMessage, res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  // Probes and scrapes must always see the current state.
  res.setHeader('Cache-Control', 'no-store');
  res.end(req.method === 'HEAD' ? undefined : body);
}
