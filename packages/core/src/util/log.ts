export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Logs go to stderr (stdout is reserved for results); one line per message. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(options: { level?: LogLevel; prefix?: string; write?: (line: string) => void } = {}): Logger {
  const min = order[options.level ?? 'info'];
  const prefix = options.prefix ?? 'cluster-control';
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const at = (level: LogLevel) => (message: string) => {
    if (order[level] >= min) write(`${prefix} ${level}: ${message}`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
