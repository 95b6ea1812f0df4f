import { type Server, createServer } from 'node:http';
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
