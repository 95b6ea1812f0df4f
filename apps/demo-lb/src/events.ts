import type { ServerResponse } from 'node:http';

/** One server-sent event: `event: <name>` and the data, one `data:` line per line. */
export function formatEvent(event: string, data: string): string {
  return `event: ${event}\n${data
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}`)
    .join('\n')}\n\n`;
}

const HEARTBEAT_MS = 15_000;

/** The open /events streams. */
export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private heartbeat: NodeJS.Timeout | undefined;

  /** Starts an event stream on `res` and sends `first` (an already formatted event) at once. */
  add(res: ServerResponse, first: string): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 1000\n\n${first}`);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    this.heartbeat ??= setInterval(() => this.write(': keep-alive\n\n'), HEARTBEAT_MS).unref();
  }

  broadcast(event: string, data: string): void {
    this.write(formatEvent(event, data));
  }

  get size(): number {
    return this.clients.size;
  }

  /** Ends every stream. */
  close(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private write(text: string): void {
    for (const res of this.clients) res.write(text);
  }
}
