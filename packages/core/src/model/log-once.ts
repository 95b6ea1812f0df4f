/**
 * Remembers which keys were already logged, so a bad key is logged once, not on every re-read.
 * Bounded: past `limit` keys the oldest is forgotten (and may be logged again), so a flood of
 * garbage keys can't grow memory without end.
 */
export class LogOnce {
  private readonly seen = new Set<string>();

  constructor(private readonly limit = 10_000) {}

  /** True the first time `key` is seen (or the first time since it was forgotten). */
  first(key: string): boolean {
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.limit) {
      const oldest = this.seen.values().next();
      if (!oldest.done) this.seen.delete(oldest.value);
    }
    this.seen.add(key);
    return true;
  }

  /** Forget `key`, e.g. once it was deleted, so that it is logged again if it comes back. */
  forget(key: string): void {
    this.seen.delete(key);
  }
}
