import { readdirSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { METRICS_SERVER_LIMITS, parseListenAddress, serveObservability } from './http-endpoints.js';
import type { ObservabilityOptions, ObservabilityServer } from './http-endpoints.js';
import { createPrometheusMetrics } from './prometheus-metrics.js';

describe('parseListenAddress', () => {
  it.each([
    ['127.0.0.1:9100', { host: '127.0.0.1', port: 9100 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    [':9100', { host: '0.0.0.0', port: 9100 }],
    ['[::1]:9100', { host: '::1', port: 9100 }],
    ['[::]:65535', { host: '::', port: 65535 }],
    ['metrics.example.com:80', { host: 'metrics.example.com', port: 80 }],
  ])('parses %s', (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it.each([
    ['9100', /did you mean ":9100"/],
    ['', /no port/],
    ['localhost', /no port/],
    ['localhost:', /port must be a number/],
    ['localhost:http', /port must be a number/],
    ['localhost:65536', /port must be a number/],
    ['localhost:-1', /port must be a number/],
    ['localhost:123456', /port must be a number/],
    ['::1:9100', /needs brackets/],
    ['[::1:9100', /brackets must hold an IPv6/],
    ['[localhost]:9100', /brackets must hold an IPv6/],
    ['bad host:9100', /bad host name/],
    ['-x:9100', /bad host name/],
  ])('rejects %j', (text, message) => {
    expect(() => parseListenAddress(text)).toThrow(message);
    expect(() => parseListenAddress(text)).toThrow(`invalid listen address ${JSON.stringify(text)}`);
  });
});

describe('serveObservability', () => {
  const open: ObservabilityServer[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  async function start(overrides: Partial<ObservabilityOptions> = {}) {
    const metrics = createPrometheusMetrics({ defaultMetrics: false });
    const server = await serveObservability({ address: '127.0.0.1:0', metrics, ready: () => ({ ready: true, reasons: [] }), ...overrides });
    open.push(server);
    const get = (path: string, init?: RequestInit) => fetch(`http://${server.address}${path}`, init);
    return { server, metrics, get };
  }

  it('reports the actual address when given port 0', async () => {
    const { server } = await start();
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.address).not.toBe('127.0.0.1:0');
  });

  it('serves /metrics in the Prometheus text format', async () => {
    const { metrics, get } = await start();
    metrics.set('cluster_control_members', 3, { cluster: 'web' });
    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(metrics.contentType);
    const body = await res.text();
    expect(body).toContain('# TYPE cluster_control_members gauge');
    expect(body).toContain('cluster_control_members{cluster="web"} 3');
  });

  it('answers /healthz with ok by default, 503 with reasons when unhealthy', async () => {
    let healthy = true;
    const { get } = await start({ healthy: () => ({ healthy, reasons: healthy ? [] : ['watch stuck', 'child gone'] }) });
    let res = await get('/healthz');
    expect([res.status, await res.text()]).toEqual([200, 'ok\n']);
    healthy = false;
    res = await get('/healthz');
    expect([res.status, await res.text()]).toEqual([503, 'watch stuck\nchild gone\n']);

    const plain = await start();
    res = await plain.get('/healthz');
    expect([res.status, await res.text()]).toEqual([200, 'ok\n']);
  });

  it('flips /readyz from 503 with reasons to 200', async () => {
    let state = { ready: false, reasons: ['not registered', 'cluster web not in sync'] };
    const { get } = await start({ ready: () => state });
    let res = await get('/readyz');
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('not registered\ncluster web not in sync\n');
    state = { ready: true, reasons: [] };
    res = await get('/readyz');
    expect([res.status, await res.text()]).toEqual([200, 'ready\n']);
  });

  it('treats a throwing readiness probe as not ready', async () => {
    const { get } = await start({
      ready: () => {
        throw new Error('boom');
      },
    });
    const res = await get('/readyz');
    expect([res.status, await res.text()]).toEqual([503, 'readiness check failed: boom\n']);
  });

  it('answers HEAD without a body, ignores query strings', async () => {
    const { get } = await start();
    const head = await get('/readyz', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await get('/metrics?debug=1')).status).toBe(200);
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const { get } = await start();
    expect((await get('/')).status).toBe(404);
    expect((await get('/metrics/extra')).status).toBe(404);
    const post = await get('/metrics', { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('rejects with a one-line message naming the address when the port is taken', async () => {
    const { server } = await start();
    const error = await serveObservability({ address: server.address, metrics: createPrometheusMetrics({ defaultMetrics: false }), ready: () => ({ ready: true, reasons: [] }) }).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(error?.message).toBe(`cannot listen on ${server.address} for metrics: address already in use (EADDRINUSE)`);
  });

  it('names the address when it is not local (EADDRNOTAVAIL)', async () => {
    // 192.0.2.0/24 is TEST-NET-1: never assigned to a local interface.
    const error = await serveObservability({ address: '192.0.2.1:0', metrics: createPrometheusMetrics({ defaultMetrics: false }), ready: () => ({ ready: true, reasons: [] }) }).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(error?.message).toMatch(/^cannot listen on 192\.0\.2\.1:0 for metrics: .*EADDRNOTAVAIL/);
    expect(error?.message).not.toContain('\n');
  });

  it('formats an IPv6 address with brackets', async (ctx) => {
    const server = await serveObservability({ address: '[::1]:0', metrics: createPrometheusMetrics({ defaultMetrics: false }), ready: () => ({ ready: true, reasons: [] }) }).catch(() => undefined);
    if (!server) return ctx.skip(); // no IPv6 loopback here
    open.push(server);
    expect(server.address).toMatch(/^\[::1\]:\d+$/);
    expect((await fetch(`http://${server.address}/healthz`)).status).toBe(200);
  });

  it('rejects a malformed address before listening', async () => {
    await expect(serveObservability({ address: 'nonsense', metrics: createPrometheusMetrics({ defaultMetrics: false }), ready: () => ({ ready: true, reasons: [] }) })).rejects.toThrow(
      /invalid listen address "nonsense"/,
    );
  });

  it('frees the port on close, even with a kept-alive scrape connection', async () => {
    const { server, get } = await start();
    await (await get('/metrics')).text(); // leaves a keep-alive connection open
    await server.close();
    await server.close(); // idempotent
    const [host, port] = [server.address.slice(0, server.address.lastIndexOf(':')), Number(server.address.slice(server.address.lastIndexOf(':') + 1))];
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(port, host, () => probe.close(() => resolve()));
    });
  });

  describe('connection limits', () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const split = (address: string) => ({ host: address.slice(0, address.lastIndexOf(':')), port: Number(address.slice(address.lastIndexOf(':') + 1)) });
    /** GET on a connection of its own (no keep-alive pool), resolving to status and body. */
    const getOnce = (address: string, path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const { host, port } = split(address);
        const req = httpGet({ host, port, path, agent: false, timeout: 5_000 }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.on('error', reject);
      });
    /** Opens `count` raw connections; every other one sends half a request, the rest nothing. */
    async function flood(address: string, count: number): Promise<{ sockets: Socket[]; closed: () => number }> {
      const { host, port } = split(address);
      let closed = 0;
      const sockets = await Promise.all(
        Array.from(
          { length: count },
          (_, i) =>
            new Promise<Socket>((resolve) => {
              const socket = connect(port, host, () => {
                if (i % 2 === 1) socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
                resolve(socket);
              });
              socket.on('error', () => {});
              socket.on('close', () => void (closed += 1));
            }),
        ),
      );
      return { sockets, closed: () => closed };
    }

    it('has documented defaults', () => {
      expect(METRICS_SERVER_LIMITS).toEqual({ maxConnections: 64, headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000, idleTimeoutMs: 5_000 });
    });

    it('500 connections that send nothing or half a request: /healthz still answers, and they are all closed within the timeouts', async () => {
      const { server } = await start({ limits: { headersTimeoutMs: 1_000, idleTimeoutMs: 1_000 } });
      const before = fds();
      const started = Date.now();
      const { sockets, closed } = await flood(server.address, 500);
      // The server keeps at most 64 of them open and closes the rest at once: both ends of 64
      // connections in this process (client and server), not 2 x 500.
      await vi.waitFor(() => expect(closed()).toBeGreaterThanOrEqual(500 - 64));
      expect(fds() - before).toBeLessThanOrEqual(2 * 64 + 8);
      expect(await getOnce(server.address, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
      expect((await getOnce(server.address, '/metrics')).status).toBe(200);
      // Then the rest time out: every descriptor is given back.
      await vi.waitFor(() => expect(closed()).toBe(500), { timeout: 5_000, interval: 50 });
      expect(Date.now() - started).toBeLessThan(4_000);
      for (const s of sockets) s.destroy();
      await vi.waitFor(() => expect(fds() - before).toBeLessThanOrEqual(4));
    });

    it('a client trickling its headers is closed after headersTimeoutMs, however often it sends', async () => {
      const limited = await start({ limits: { headersTimeoutMs: 1_000, idleTimeoutMs: 10_000 } });
      const { host, port } = split(limited.server.address);
      const socket = connect(port, host);
      socket.on('error', () => {});
      const started = Date.now();
      socket.write('GET /metrics HTTP/1.1\r\n');
      const trickle = setInterval(() => socket.write('X-A: b\r\n'), 200);
      await new Promise((resolve) => socket.once('close', resolve));
      clearInterval(trickle);
      // Closed between headersTimeout and headersTimeout plus one check interval.
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(Date.now() - started).toBeLessThan(3_000);
    });

    it('at the limit, a connection with a request in progress is never the one closed', async () => {
      let release: (() => void) | undefined;
      const slow = new Promise<void>((resolve) => (release = resolve));
      const { server } = await start({
        limits: { maxConnections: 4 },
        ready: () => ({ ready: true, reasons: [] }),
        metrics: {
          ...createPrometheusMetrics({ defaultMetrics: false }),
          contentType: 'text/plain',
          render: async () => {
            await slow;
            return 'slow\n';
          },
        },
      });
      const scrape = getOnce(server.address, '/metrics');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const { closed } = await flood(server.address, 20);
      // 3 idle slots next to the busy scrape: at least 17 of the flood are closed at once.
      await vi.waitFor(() => expect(closed()).toBeGreaterThanOrEqual(17));
      release?.();
      expect(await scrape).toEqual({ status: 200, body: 'slow\n' });
    });
  });
});
