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
 * Asked when `min` ms have passed without a trigger: has the source really gone quiet? Resolves
 * false while it still holds changes not delivered yet. etcd delivers a watch that fell behind in
 * batches with pauses of 50-150 ms between them (a burst of registrations does that), and each
 * pause would otherwise look like quiet and cost a render and a reload.
 */
export type SettledCheck = () => Promise<boolean>;

/**
 * The `wait: { min, max }` policy: fire after `min` ms without a new trigger, but no later than `max` ms
 * after the first trigger that is still pending. Without `wait`, fire on the next microtask, so
 * triggers from the same synchronous batch (one watch response) fire once.
 * With `settled`, `min` ms without a trigger fire only once the check agrees (or fails: then as if
 * it had); `max` is kept either way.
 * `fire` must not throw: it runs from a timer.
 */
export class Debouncer {
  private scheduled = false;
  private firstAt = 0;
  private timer: unknown;
  /** Counts triggers, so that a settled check answered after a newer trigger is ignored. */
  private epoch = 0;

  constructor(
    private readonly wait: { min: number; max: number } | undefined,
    private readonly fire: () => void,
    private readonly timers: DebounceTimers = realTimers,
    private readonly settled?: SettledCheck,
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
    this.epoch++;
    this.arm(this.wait, now);
  }

  /** Wakes up after `min` ms of quiet or at the `max` deadline, whichever comes first. */
  private arm(wait: { min: number; max: number }, now: number): void {
    this.clearTimer();
    const due = Math.min(now + wait.min, this.firstAt + wait.max);
    this.timer = this.timers.setTimeout(() => this.quiet(wait), Math.max(0, due - now));
  }

  private quiet(wait: { min: number; max: number }): void {
    this.timer = undefined;
    const now = this.timers.now();
    if (!this.settled || now >= this.firstAt + wait.max) {
      this.flushNow();
      return;
    }
    // However long the check takes, `max` still holds.
    this.timer = this.timers.setTimeout(() => this.flushNow(), this.firstAt + wait.max - now);
    const epoch = this.epoch;
    const answer = (settled: boolean) => {
      if (!this.scheduled || epoch !== this.epoch) return; // fired, cancelled, or re-armed by a trigger meanwhile
      if (settled) this.flushNow();
      else this.arm(wait, this.timers.now());
    };
    this.settled().then(answer, () => answer(true));
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
    this.epoch++;
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
