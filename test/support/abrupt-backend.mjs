// @ts-check
// A backend that stops at once: an HTTP server on HOST:PORT answering `backend HOST:PORT` after
// DELAY_MS (default 100; requests are in flight that long), which exits on SIGTERM without
// finishing anything, as many servers do. Whether a rolling restart of it loses requests is then
// up to what stops traffic reaching it first: cluster-control run's drain.
import { createServer } from 'node:http';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT);
const delay = Number(process.env.DELAY_MS ?? 100);
const name = `${host}:${port}`;

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () =>
    setTimeout(() => {
      res.setHeader('content-type', 'text/plain');
      res.end(`backend ${name}\n`);
    }, delay),
  );
});
server.listen(port, host);
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
