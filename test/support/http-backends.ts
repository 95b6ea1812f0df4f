import { type Server, createServer, get } from 'node:http';
import { freePort } from './etcd-server.js';

export interface HttpBackend {
  /** The member name to register: `host:port`. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Requests this backend has answered. */
  hits: number;
  close(): Promise<void>;
}

/**
 * Small HTTP servers that answer `backend <name>`, each on its own loopback address
 * (127.0.0.<first + i>), standing in for the members a proxy balances over.
 */
export async function startHttpBackends(count: number, firstOctet = 101): Promise<HttpBackend[]> {
  const backends: HttpBackend[] = [];
  for (let i = 0; i < count; i++) {
    const host = `127.0.0.${firstOctet + i}`;
    const port = await freePort(host);
    const backend: HttpBackend & { server?: Server } = {
      name: `${host}:${port}`,
      host,
      port,
      hits: 0,
      close: () => new Promise((resolve) => (backend.server ? backend.server.close(() => resolve()) : resolve())),
    };
    backend.server = createServer((req, res) => {
      backend.hits++;
      res.setHeader('content-type', 'text/plain');
      res.end(`backend ${backend.name}\n`);
    });
    await new Promise<void>((resolve) => backend.server!.listen(port, host, resolve));
    backends.push(backend);
  }
  return backends;
}

/** Answers to `count` requests, each on a new connection (a kept-alive one could outlive a reload). */
export async function bodies(url: string, count: number): Promise<{ status: number; body: string }[]> {
  const out = [];
  for (let i = 0; i < count; i++) {
    out.push(
      await new Promise<{ status: number; body: string }>((resolve, reject) => {
        get(url, { agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
        }).on('error', reject);
      }),
    );
  }
  return out;
}

/** True once a round of requests through a proxy at `url` is answered by exactly `backends`, each at least once. */
export async function servedBy(url: string, backends: HttpBackend[]): Promise<boolean> {
  const seen = new Set((await bodies(url, backends.length * 4)).map((r) => (r.status === 200 ? r.body : `status ${r.status}`)));
  return seen.size === backends.length && backends.every((b) => seen.has(`backend ${b.name}`));
}
