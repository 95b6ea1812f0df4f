import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseListenAddress, serveObservability } from './http-endpoints.js';
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
});
