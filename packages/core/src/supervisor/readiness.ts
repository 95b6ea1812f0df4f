import { connect } from 'node:net';
import { sleep } from '../util/backoff.js';
import type { ReadinessProbe } from './service.js';

const POLL_MS = 100;

/** Ready when host:port accepts a TCP connection. */
export function tcpProbe(host: string, port: number): ReadinessProbe {
  return async (signal) => {
    while (!signal.aborted) {
      const open = await new Promise<boolean>((resolve) => {
        const socket = connect({ host, port });
        socket.setTimeout(1000);
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('timeout', () => (socket.destroy(), resolve(false)));
        socket.once('error', () => resolve(false));
      });
      if (open) return;
      await sleep(POLL_MS, signal);
    }
  };
}

/** Ready when a GET of `url` answers 2xx. */
export function httpProbe(url: string): ReadinessProbe {
  return async (signal) => {
    while (!signal.aborted) {
      try {
        const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(2000)]), redirect: 'manual' });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) return;
      } catch {
        // not listening yet, or too slow: try again
      }
      await sleep(POLL_MS, signal);
    }
  };
}

/** `HOST:PORT` (or `[IPv6]:PORT`) for --ready-tcp; undefined when it is not one. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}
