import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './etcd-server.js';
import { type ServerProcess, haveServer, startServer } from './server-process.js';

export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';
export const NUTCRACKER_BIN = process.env.NUTCRACKER_BIN ?? '/usr/sbin/nutcracker';

/** Whether integration tests that need redis-server and nutcracker should run (see haveServer). */
export const haveRedis = haveServer(REDIS_SERVER_BIN) && haveServer(NUTCRACKER_BIN);

export interface RedisServer {
  /** The member name to register: `host:port`, IPv6 in brackets. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly server: ServerProcess;
  /** One command on a fresh connection straight to this server (not through a proxy). */
  command(...args: (string | number)[]): Promise<RespValue>;
  stop(): Promise<void>;
}

/** A redis-server in the foreground on host and a free port, without persistence, in a temp dir. */
export async function startRedis(host = '127.0.0.1'): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'cc-redis-'));
  const port = await freePort(host);
  let server: ServerProcess;
  try {
    server = await startServer(REDIS_SERVER_BIN, ['--bind', host, '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], { host, port }, { name: 'redis-server' });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    name: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    server,
    command: (...args) => redisCommand(host, port, ...args),
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---- A tiny RESP client over node:net: enough to send commands and read their replies ----

export class RespError extends Error {
  override readonly name = 'RespError';
}

export type RespValue = string | number | null | RespValue[];

export interface RedisClient {
  /** Sends one command; resolves with its reply, rejects with RespError for an error reply. */
  command(...args: (string | number)[]): Promise<RespValue>;
  close(): void;
}

export function encodeCommand(args: readonly (string | number)[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) {
    const text = String(arg);
    parts.push(`$${Buffer.byteLength(text)}\r\n${text}\r\n`);
  }
  return Buffer.from(parts.join(''));
}

/** One reply from `buf` at `at`, or undefined when it is not complete yet. */
export function parseReply(buf: Buffer, at = 0): { value: RespValue | RespError; next: number } | undefined {
  const lineEnd = buf.indexOf('\r\n', at);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[at]!);
  const line = buf.toString('utf8', at + 1, lineEnd);
  const after = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new RespError(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: after };
      if (buf.length < after + length + 2) return undefined;
      return { value: buf.toString('utf8', after, after + length), next: after + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: RespValue[] = [];
      let next = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, next);
        if (!item) return undefined;
        if (item.value instanceof RespError) throw item.value;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`not a RESP reply: ${JSON.stringify(buf.toString('utf8', at, Math.min(buf.length, at + 40)))}`);
  }
}

/** A connection that answers commands in order (RESP replies come back in request order). */
export function connectRedis(host: string, port: number, timeoutMs = 10_000): Promise<RedisClient> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buffer = Buffer.alloc(0);
    const pending: { resolve: (v: RespValue) => void; reject: (e: Error) => void }[] = [];
    const failAll = (err: Error) => {
      for (const p of pending.splice(0)) p.reject(err);
    };
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`redis ${host}:${port}: no reply within ${timeoutMs} ms`)));
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        for (let reply = parseReply(buffer); reply; reply = parseReply(buffer)) {
          buffer = buffer.subarray(reply.next);
          const waiter = pending.shift();
          if (reply.value instanceof RespError) waiter?.reject(reply.value);
          else waiter?.resolve(reply.value);
        }
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    socket.once('error', (err) => {
      failAll(err);
      reject(err);
    });
    socket.once('close', () => failAll(new Error(`redis ${host}:${port}: connection closed`)));
    socket.once('connect', () =>
      resolve({
        command: (...args) =>
          new Promise((res, rej) => {
            pending.push({ resolve: res, reject: rej });
            socket.write(encodeCommand(args));
          }),
        close: () => void socket.end(),
      }),
    );
  });
}

export async function redisCommand(host: string, port: number, ...args: (string | number)[]): Promise<RespValue> {
  const client = await connectRedis(host, port);
  try {
    return await client.command(...args);
  } finally {
    client.close();
  }
}

// ---- Daemons started by a reload script: stopped through their pid file ----

function running(pid: number): boolean {
  try {
    // A zombie still answers kill -0 until it is reaped; it holds no sockets any more.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** SIGTERM to the pid in `pidFile`, SIGKILL after 5 s; resolves when it is gone. No file: nothing to do. */
export async function stopPidFile(pidFile: string): Promise<void> {
  const text = await readFile(pidFile, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 1 || !running(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (running(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The pid in `pidFile` when that process is running, else undefined. */
export async function runningPid(pidFile: string): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 1 && running(pid) ? pid : undefined;
}
