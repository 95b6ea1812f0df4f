export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * `text`: `2026-12-04T23:19:38.123Z cluster-control info: message`;
 * `json`: `{"time":"2026-12-04T23:19:38.123Z","level":"info","name":"cluster-control","msg":"message"}`.
 */
export type LogFormat = 'text' | 'json';

/** Logs go to stderr (stdout is reserved for results); one line per message. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface LoggerOptions {
  /** Messages below this level are dropped. Default `info`. */
  level?: LogLevel;
  /** Who logs: starts a text line, `name` in JSON. Default `cluster-control`. */
  prefix?: string;
  /** Takes one line without its newline. Default: stderr. */
  write?: (line: string) => void;
  /** Default `text`. */
  format?: LogFormat;
  /** The time stamped on each line, in UTC. Default: now. */
  clock?: () => Date;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(options: LoggerOptions = {}): Logger {
  const min = order[options.level ?? 'info'];
  const name = options.prefix ?? 'cluster-control';
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const clock = options.clock ?? (() => new Date());
  const format = options.format ?? 'text';
  const line =
    format === 'json'
      ? (time: string, level: LogLevel, msg: string) => escapeSeparators(JSON.stringify({ time, level, name, msg }))
      : (time: string, level: LogLevel, msg: string) => `${time} ${name} ${level}: ${msg}`;
  const at = (level: LogLevel) => (message: string) => {
    if (order[level] >= min) write(line(clock().toISOString(), level, message));
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** One object per line whatever the message holds: JSON.stringify escapes \n and \r, but not U+2028/U+2029, where some readers split lines. */
function escapeSeparators(json: string): string {
  return json.replace(/[\u2028\u2029]/g, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
