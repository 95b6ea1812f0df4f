import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from './log.js';

const NOW = new Date('2026-12-04T23:19:38.123Z');

function capture(options: Parameters<typeof createLogger>[0] = {}) {
  const lines: string[] = [];
  return { lines, logger: createLogger({ clock: () => NOW, write: (line) => lines.push(line), ...options }) };
}

describe('createLogger: text', () => {
  it('starts each line with an ISO-8601 UTC time, then the prefix and level', () => {
    const { lines, logger } = capture();
    logger.info('watching web');
    logger.warn('etcd unavailable; retrying');
    logger.error('boom');
    expect(lines).toEqual([
      '2026-12-04T23:19:38.123Z cluster-control info: watching web',
      '2026-12-04T23:19:38.123Z cluster-control warn: etcd unavailable; retrying',
      '2026-12-04T23:19:38.123Z cluster-control error: boom',
    ]);
  });

  it('drops messages below the level, and takes a prefix', () => {
    const { lines, logger } = capture({ level: 'warn', prefix: 'demo-web[w1]' });
    logger.debug('no');
    logger.info('no');
    logger.warn('yes');
    expect(lines).toEqual(['2026-12-04T23:19:38.123Z demo-web[w1] warn: yes']);
  });

  it('reads the clock for every line, and defaults to now', () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const { lines, logger } = capture({ clock: () => new Date((t += 1500)) });
    logger.info('a');
    logger.info('b');
    expect(lines).toEqual(['2026-01-01T00:00:01.500Z cluster-control info: a', '2026-01-01T00:00:03.000Z cluster-control info: b']);

    const own: string[] = [];
    const before = Date.now();
    createLogger({ write: (line) => own.push(line) }).info('now');
    const stamp = Date.parse(own[0]!.split(' ')[0]!);
    expect(stamp).toBeGreaterThanOrEqual(before);
    expect(stamp).toBeLessThanOrEqual(Date.now());
    expect(own[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z cluster-control info: now$/);
  });
});

describe('createLogger: json', () => {
  it('writes one object per line: time, level, name, msg', () => {
    const { lines, logger } = capture({ format: 'json', level: 'debug' });
    logger.debug('d');
    logger.info('watching web');
    expect(lines).toEqual([
      '{"time":"2026-12-04T23:19:38.123Z","level":"debug","name":"cluster-control","msg":"d"}',
      '{"time":"2026-12-04T23:19:38.123Z","level":"info","name":"cluster-control","msg":"watching web"}',
    ]);
  });

  it('keeps any message on one line and readable back', () => {
    const { lines, logger } = capture({ format: 'json', prefix: 'x"y' });
    const message = 'check failed:\nline 2\r\n"quoted" \\ \u2028 \u2029 \u0000 done';
    logger.error(message);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/[\n\r\u2028\u2029]/);
    expect(JSON.parse(lines[0]!)).toEqual({ time: '2026-12-04T23:19:38.123Z', level: 'error', name: 'x"y', msg: message });
  });
});

describe('createLogger: default output', () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes to stderr, one line each', () => {
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    createLogger({ clock: () => NOW }).warn('w');
    expect(spy).toHaveBeenCalledWith('2026-12-04T23:19:38.123Z cluster-control warn: w\n');
  });
});
