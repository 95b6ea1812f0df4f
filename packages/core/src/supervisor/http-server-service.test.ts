import { Agent, get } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../util/log.js';
import { HttpServerService, type HttpServerServiceOptions } from './http-server-service.js';

// Real sockets on 127.0.0.1, port 0; no etcd: the service on its own, as the Supervisor drives it.

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => void lines.push(`${level}: ${message}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const services: HttpServerService[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
});

function service(overrides: Partial<HttpServerServiceOptions> = {}) {
  const logger = recorder();
  const s = new HttpServerService({ host: '127.0.0.1', port: 0, handler: (_, res) => void res.end('hello\n'), logger, ...overrides });
  services.push(s);
  return { service: s, logger };
}

const port = (s: HttpServerService) => (s.server.address() as AddressInfo).port;

describe('HttpServerService', () => {
  it('runs onStart, then listens; url() is where it answers', async () => {
    const journal: string[] = [];
    const { service: s } = service({ onStart: () => void journal.push(`onStart (listening: ${s.server.listening})`) });
    expect(() => s.url()).toThrow('the HTTP server is not listening');
    await s.start();
    expect(journal).toEqual(['onStart (listening: false)']);
    expect(s.url()).toBe(`http://127.0.0.1:${port(s)}`);
    const res = await fetch(`${s.url()}/anything`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello\n');
  });

  it('answers 500 when the handler fails, and drops the connection if the answer had begun', async () => {
    const { service: s, logger } = service({
      handler: async (req, res) => {
        if (req.url === '/late') res.writeHead(200, { 'content-type': 'text/plain' }).write('partial');
        throw new Error('boom');
      },
    });
    await s.start();
    const res = await fetch(`${s.url()}/early`);
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('internal error\n');
    await expect(fetch(`${s.url()}/late`).then((late) => late.text())).rejects.toThrow();
    expect(logger.lines).toEqual(['error: GET /early: boom', 'error: GET /late: boom']);
  });

  it('stop() runs onStop, closes keep-alive and event-stream connections at once, and resolves exited with 0', async () => {
    const journal: string[] = [];
    const { service: s } = service({
      handler: (req, res) => {
        if (req.url === '/events') res.writeHead(200, { 'content-type': 'text/event-stream' }).write('event: hello\ndata: {}\n\n');
        else res.end('ok\n');
      },
      onStop: () => void journal.push(`onStop (listening: ${s.server.listening})`),
    });
    await s.start();
    const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
    try {
      // A finished request whose connection the agent keeps open for the next one.
      const idleSocket = await new Promise<Socket>((resolve, reject) => {
        const req = get(`${s.url()}/`, { agent }, (res) => {
          res.resume();
          res.once('end', () => setImmediate(() => resolve(req.socket!)));
        });
        req.once('error', reject);
      });
      expect(idleSocket.destroyed).toBe(false);
      const idleSocketClosed = new Promise<void>((resolve) => idleSocket.once('close', () => resolve()));
      const streamEnded = new Promise<string>((resolve, reject) => {
        get(`${s.url()}/events`, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
            if (body.includes('\n\n')) void s.stop();
          });
          res.once('close', () => resolve(body));
        }).once('error', reject);
      });
      const started = Date.now();
      expect(await streamEnded).toBe('event: hello\ndata: {}\n\n');
      await idleSocketClosed;
      expect(await s.exited).toBe(0);
      expect(await s.stop()).toBe(0);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(journal).toEqual(['onStop (listening: true)']);
      expect(s.server.listening).toBe(false);
    } finally {
      agent.destroy();
    }
  });

  it('rejects start() with a one-line message when the port is taken; stop() is still fine', async () => {
    const { service: first } = service();
    await first.start();
    const { service: second } = service({ port: port(first) });
    await expect(second.start()).rejects.toThrow(`cannot listen on 127.0.0.1:${port(first)}: listen EADDRINUSE: address already in use 127.0.0.1:${port(first)}`);
    expect(await second.stop()).toBe(0);
    expect((await fetch(first.url())).status).toBe(200);
  });

  it('passes reload(cluster) to onReload', async () => {
    const reloads: string[] = [];
    const { service: s } = service({ onReload: (cluster) => void reloads.push(cluster) });
    await s.start();
    await s.reload('dbservers');
    expect(reloads).toEqual(['dbservers']);
    // Without onReload a reload is a no-op.
    expect(service().service.reload('x')).toBeUndefined();
  });

  it('logs a failing onStop and closes anyway', async () => {
    const { service: s, logger } = service({
      onStop: () => {
        throw new Error('poller stuck');
      },
    });
    await s.start();
    expect(await s.stop()).toBe(0);
    expect(logger.lines).toEqual(['warn: stopping: poller stuck']);
    expect(s.server.listening).toBe(false);
  });

  it('resolves exited with 1 when the listening server fails', async () => {
    const { service: s, logger } = service();
    await s.start();
    s.server.emit('error', new Error('EMFILE'));
    expect(await s.exited).toBe(1);
    expect(logger.lines).toEqual(['error: HTTP server failed: EMFILE']);
    expect(await s.stop()).toBe(1);
  });

  it('waits for a start in progress before stopping, so nothing is left listening', async () => {
    let release!: () => void;
    const { service: s } = service({ onStart: () => new Promise<void>((resolve) => (release = resolve)) });
    const starting = s.start();
    const stopping = s.stop();
    release();
    await starting;
    expect(await stopping).toBe(0);
    expect(s.server.listening).toBe(false);
  });

  it('reaches an all-interfaces server over loopback', async () => {
    const { service: s } = service({ host: '0.0.0.0' });
    await s.start();
    expect(s.url()).toBe(`http://127.0.0.1:${port(s)}`);
    expect((await fetch(s.url())).status).toBe(200);
  });

  it('brackets an IPv6 host in url()', async () => {
    const { service: s } = service({ host: '::1' });
    const listening = await s.start().then(
      () => true,
      () => false, // no IPv6 loopback here
    );
    if (!listening) return;
    expect(s.url()).toBe(`http://[::1]:${port(s)}`);
    expect((await fetch(s.url())).status).toBe(200);
  });
});
