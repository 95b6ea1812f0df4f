import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Debouncer, type DebounceTimers } from './debounce.js';

describe('Debouncer without wait', () => {
  it('fires once on the next microtask for a synchronous batch of triggers', async () => {
    const fire = vi.fn();
    const d = new Debouncer(undefined, fire);
    d.trigger();
    d.trigger();
    d.trigger();
    expect(fire).not.toHaveBeenCalled();
    await Promise.resolve();
    expect(fire).toHaveBeenCalledTimes(1);
    d.trigger();
    await Promise.resolve();
    expect(fire).toHaveBeenCalledTimes(2);
  });

  it('can be cancelled or flushed before the microtask runs', async () => {
    const fire = vi.fn();
    const d = new Debouncer(undefined, fire);
    d.trigger();
    d.cancel();
    await Promise.resolve();
    expect(fire).not.toHaveBeenCalled();
    d.trigger();
    d.flushNow();
    expect(fire).toHaveBeenCalledTimes(1);
    await Promise.resolve();
    expect(fire).toHaveBeenCalledTimes(1);
  });
});

describe('Debouncer with wait', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires after min ms of quiet', () => {
    const fire = vi.fn();
    const d = new Debouncer({ min: 100, max: 1000 }, fire);
    d.trigger();
    expect(d.pending).toBe(true);
    vi.advanceTimersByTime(99);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(1);
    expect(d.pending).toBe(false);
  });

  it('restarts the quiet period on each trigger', () => {
    const fire = vi.fn();
    const d = new Debouncer({ min: 100, max: 1000 }, fire);
    d.trigger();
    vi.advanceTimersByTime(50);
    d.trigger();
    vi.advanceTimersByTime(99);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('never waits longer than max after the first pending trigger', () => {
    const fire = vi.fn();
    const d = new Debouncer({ min: 100, max: 300 }, fire);
    d.trigger();
    for (let t = 0; t < 250; t += 50) {
      vi.advanceTimersByTime(50);
      d.trigger();
    }
    // Triggers at 0, 50, ..., 250: quiet would end at 350, the cap is 300.
    vi.advanceTimersByTime(49);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(1);
    // The next trigger opens a new window.
    d.trigger();
    vi.advanceTimersByTime(100);
    expect(fire).toHaveBeenCalledTimes(2);
  });

  it('cancel drops a pending trigger; flushNow fires it at once, and only if pending', () => {
    const fire = vi.fn();
    const d = new Debouncer({ min: 100, max: 300 }, fire);
    d.trigger();
    d.cancel();
    vi.advanceTimersByTime(1000);
    expect(fire).not.toHaveBeenCalled();
    d.flushNow();
    expect(fire).not.toHaveBeenCalled();
    d.trigger();
    d.flushNow();
    expect(fire).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1000);
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('a trigger from inside fire starts a new window', () => {
    const d: Debouncer = new Debouncer({ min: 100, max: 300 }, () => {
      calls += 1;
      if (calls === 1) d.trigger();
    });
    let calls = 0;
    d.trigger();
    vi.advanceTimersByTime(100);
    expect(calls).toBe(1);
    vi.advanceTimersByTime(100);
    expect(calls).toBe(2);
  });
});

describe('Debouncer with injected timers', () => {
  it('uses the given clock and timer functions', () => {
    let now = 1000;
    const queue: { fn: () => void; at: number }[] = [];
    const timers: DebounceTimers = {
      now: () => now,
      setTimeout: (fn, ms) => {
        const entry = { fn, at: now + ms };
        queue.push(entry);
        return entry;
      },
      clearTimeout: (handle) => {
        const i = queue.indexOf(handle as (typeof queue)[number]);
        if (i >= 0) queue.splice(i, 1);
      },
    };
    const fire = vi.fn();
    const d = new Debouncer({ min: 10, max: 25 }, fire, timers);
    d.trigger();
    now = 1008;
    d.trigger();
    now = 1016;
    d.trigger();
    expect(queue).toHaveLength(1);
    expect(queue[0]?.at).toBe(1025);
    now = 1025;
    queue.shift()?.fn();
    expect(fire).toHaveBeenCalledTimes(1);
  });
});

describe('Debouncer with wait and a settled check', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A check whose answers the test gives, one per call. */
  function controlledCheck() {
    const calls: Array<(settled: boolean) => void> = [];
    const check = vi.fn(() => new Promise<boolean>((resolve) => calls.push(resolve)));
    return { check, answer: (settled: boolean) => calls.shift()!(settled) };
  }

  it('fires after min ms of quiet once the check says the source is settled', async () => {
    const fire = vi.fn();
    const { check, answer } = controlledCheck();
    const d = new Debouncer({ min: 50, max: 1000 }, fire, undefined, check);
    d.trigger();
    vi.advanceTimersByTime(50);
    expect(check).toHaveBeenCalledTimes(1);
    expect(fire).not.toHaveBeenCalled();
    answer(true);
    await Promise.resolve();
    expect(fire).toHaveBeenCalledTimes(1);
    expect(d.pending).toBe(false);
  });

  it('keeps waiting while the source has undelivered changes, asking again after each min', async () => {
    const fire = vi.fn();
    const { check, answer } = controlledCheck();
    const d = new Debouncer({ min: 50, max: 1000 }, fire, undefined, check);
    d.trigger();
    vi.advanceTimersByTime(50);
    answer(false);
    await Promise.resolve();
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(49);
    expect(check).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(check).toHaveBeenCalledTimes(2);
    answer(true);
    await Promise.resolve();
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('ignores an answer that arrives after a newer trigger', async () => {
    const fire = vi.fn();
    const { check, answer } = controlledCheck();
    const d = new Debouncer({ min: 50, max: 1000 }, fire, undefined, check);
    d.trigger();
    vi.advanceTimersByTime(50);
    d.trigger(); // the events the check was about arrived
    answer(true);
    await Promise.resolve();
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(50);
    expect(check).toHaveBeenCalledTimes(2);
    answer(true);
    await Promise.resolve();
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('still fires at max while the source keeps saying not yet, or while a check hangs', async () => {
    const fire = vi.fn();
    const { check, answer } = controlledCheck();
    const d = new Debouncer({ min: 50, max: 200 }, fire, undefined, check);
    d.trigger();
    vi.advanceTimersByTime(50);
    answer(false);
    await Promise.resolve();
    vi.advanceTimersByTime(50);
    answer(false);
    await Promise.resolve();
    vi.advanceTimersByTime(50); // a third check, never answered
    expect(check).toHaveBeenCalledTimes(3);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(50);
    expect(fire).toHaveBeenCalledTimes(1);
    answer(true); // too late: already fired
    await Promise.resolve();
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('fires when the check fails (etcd unreachable is no reason to hold a render back)', async () => {
    const fire = vi.fn();
    const d = new Debouncer({ min: 50, max: 1000 }, fire, undefined, () => Promise.reject(new Error('unavailable')));
    d.trigger();
    vi.advanceTimersByTime(50);
    await Promise.resolve();
    await Promise.resolve();
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('does not fire after cancel, whatever the check answers', async () => {
    const fire = vi.fn();
    const { answer, check } = controlledCheck();
    const d = new Debouncer({ min: 50, max: 1000 }, fire, undefined, check);
    d.trigger();
    vi.advanceTimersByTime(50);
    d.cancel();
    answer(true);
    await Promise.resolve();
    vi.advanceTimersByTime(2000);
    expect(fire).not.toHaveBeenCalled();
  });
});
