import { describe, expect, it } from 'vitest';
import type { Logger } from './log.js';
import { FORWARDED_SIGNALS, STOP_SIGNALS, handleSignals } from './signals.js';

// Signals are delivered by calling the installed listener, never by signalling the test process.

/** Delivers `signal` to the newest listener (the one handleSignals added). */
function deliver(signal: NodeJS.Signals): void {
  const listener = process.listeners(signal).at(-1);
  if (!listener) throw new Error(`no ${signal} listener`);
  listener(signal);
}

const counts = (signals: readonly NodeJS.Signals[]) => signals.map((s) => process.listenerCount(s));

describe('handleSignals', () => {
  it('aborts on the first stop signal, tells every one, and removes its handlers on dispose', () => {
    const before = counts([...STOP_SIGNALS, 'SIGHUP']);
    const told: NodeJS.Signals[] = [];
    const handling = handleSignals({ onStop: (signal) => told.push(signal) });
    expect(counts([...STOP_SIGNALS, 'SIGHUP'])).toEqual([...before.slice(0, -1).map((n) => n + 1), before.at(-1)]);
    expect(handling.signal.aborted).toBe(false);
    deliver('SIGQUIT');
    deliver('SIGTERM');
    expect(handling.signal.aborted).toBe(true);
    expect(handling.received()).toBe('SIGQUIT');
    expect(told).toEqual(['SIGQUIT', 'SIGTERM']);
    handling.dispose();
    handling.dispose();
    expect(counts([...STOP_SIGNALS, 'SIGHUP'])).toEqual(before);
  });

  it('calls the SIGHUP callback, or logs and ignores SIGHUP', () => {
    let hangups = 0;
    const called = handleSignals({ stop: [], hangup: () => void hangups++ });
    deliver('SIGHUP');
    called.dispose();
    expect(hangups).toBe(1);

    const lines: string[] = [];
    const logger = { debug() {}, info: (m: string) => void lines.push(m), warn() {}, error() {} } as Logger;
    const ignored = handleSignals({ logger, hangup: 'ignore' });
    deliver('SIGHUP');
    ignored.dispose();
    expect(lines).toEqual(['SIGHUP ignored']);
    expect(ignored.signal.aborted).toBe(false);
  });

  it('forwards signals as they are, without stopping', () => {
    const forwarded: NodeJS.Signals[] = [];
    const handling = handleSignals({ stop: ['SIGTERM', 'SIGINT'], forward: { signals: FORWARDED_SIGNALS, to: (signal) => forwarded.push(signal) } });
    deliver('SIGHUP');
    deliver('SIGQUIT');
    handling.dispose();
    expect(forwarded).toEqual(['SIGHUP', 'SIGQUIT']);
    expect(handling.signal.aborted).toBe(false);
  });

  it('refuses one signal with two meanings, installing nothing', () => {
    const before = process.listenerCount('SIGQUIT');
    expect(() => handleSignals({ forward: { signals: ['SIGQUIT'], to: () => {} } })).toThrow(/SIGQUIT given two meanings/);
    expect(process.listenerCount('SIGQUIT')).toBe(before);
  });
});
