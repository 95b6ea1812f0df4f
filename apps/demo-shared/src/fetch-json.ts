import { request } from 'node:http';

// A GET of another demo app, with a deadline and a size limit: its answer is untrusted data.
// A new connection per request (no keep-alive pool), so nothing lingers when the app stops.
// Asking a peer over HTTP is the demo apps' own business, not cluster-control's (see README.md).

export class FetchError extends Error {
  override name = 'FetchError';
}

const MAX_BYTES = 1 << 20;

/** Resolves with the parsed JSON body of a 200 answer; rejects with a FetchError with a short message. */
export function getJson(url: string, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(new FetchError(message));
    };
    const req = request(url, { method: 'GET', agent: false, headers: { accept: 'application/json', connection: 'close' }, signal }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        fail(`HTTP ${res.statusCode ?? '?'}`);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BYTES) fail('answer too large');
        else chunks.push(chunk);
      });
      res.on('error', (err) => fail(shortMessage(err)));
      res.on('end', () => {
        if (settled) return;
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          fail('answer is not JSON');
          return;
        }
        settled = true;
        clearTimeout(timer);
        resolve(body);
      });
    });
    const timer = setTimeout(() => fail('timeout'), timeoutMs);
    req.on('error', (err) => fail(signal?.aborted ? 'aborted' : shortMessage(err)));
    req.end();
  });
}

const CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timeout',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
};

export function shortMessage(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  if (code && CODES[code]) return CODES[code];
  if (err instanceof Error) return code || err.message.split('\n')[0] || err.name;
  return String(err);
}

/** A FetchError's message, or a short description of anything else. */
export function fetchErrorMessage(err: unknown): string {
  return err instanceof FetchError ? err.message : shortMessage(err);
}
