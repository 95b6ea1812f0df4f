import type { IncomingMessage, ServerResponse } from 'node:http';

/** The database's answer: who it is. */
export function identity(id: string, name: string): { id: string; name: string } {
  return { id, name };
}

/** GET / → {"id", "name"}; GET /healthz → ok; anything else 404 (405 for other methods). */
export function dbHandler(id: string, name: string) {
  const body = JSON.stringify(identity(id, name)) + '\n';
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
  };
}
