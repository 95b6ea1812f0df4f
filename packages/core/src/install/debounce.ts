export interface DebounceTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

// Looked up at call time, so fake timers installed after construction still apply.
const realTimers: DebounceTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  now: () => Date.now(),
};

/**
 * The `wait: { min, max }` policy: fire after `min` ms without a new trigger, but no later than `max` ms
 * after the first trigger that is still pending. Without `wait`, fire on the next microtask, so
 * triggers from the same synchronous batch (one watch response) fire once.
 * `fire` must not throw: it runs from a timer.
 */
export class Debouncer {
  private scheduled = false;
  private firstAt = 0;
  private timer: unknown;

  constructor(
    private readonly wait: { min: number; max: number } | undefined,
    private readonly fire: () => void,
    private readonly timers: DebounceTimers = realTimers,
  ) {}

  get pending(): boolean {
    return this.scheduled;
  }

  trigger(): void {
    if (!this.wait) {
      if (this.scheduled) return;
      this.scheduled = true;
      queueMicrotask(() => {
        if (this.scheduled) this.flushNow();
      });
      return;
    }
    const now = this.timers.now();
    if (!this.scheduled) {
      this.scheduled = true;
      this.firstAt = now;
    }
    this.clearTimer();
    const due = Math.min(now + this.wait.min, this.firstAt + this.wait.max);
    this.timer = this.timers.setTimeout(() => this.flushNow(), Math.max(0, due - now));
  }

  /** Fires now if a trigger is pending. */
  flushNow(): void {
    if (!this.scheduled) return;
    this.cancel();
    this.fire();
  }

  /** Drops a pending trigger without firing. */
  cancel(): void {
    this.scheduled = false;
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
