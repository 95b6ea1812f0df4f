/** What one trial (render, and check when configured) of a member set said. */
export type TrialResult = { ok: true } | { ok: false; reason: string };

export interface SafeSet<T> {
  /** `known` plus every suspect that could join it: the largest set found that passes. */
  accepted: T[];
  /** The suspects that failed on their own, with the failure they caused. */
  rejected: { item: T; reason: string }[];
  /** Trials run (each one a render and perhaps a check). */
  trials: number;
}

/**
 * After a set of members failed to render or to pass the check, finds the suspects (members new
 * or changed since the last good file) that cause it: bisects them against `known` (members
 * unchanged since the last good file). A group that passes joins; a failing group is split in
 * two; a failing single member is rejected. k bad members among n suspects cost about
 * 2k·log2(n) trials.
 *
 * Returns undefined when the failure cannot be blamed on the suspects: `known` fails on its own
 * (the check itself is broken, say), or, with nothing known, every suspect fails alone and so
 * does the empty set. Then nobody is quarantined and the caller keeps the last good file.
 *
 * `trial` gets members in the order of `order` (the candidate list's order), so renders stay
 * deterministic; a rejected member carries the failure of the smallest trial that still failed.
 */
export async function largestSafeSet<T>(
  known: readonly T[],
  suspects: readonly T[],
  trial: (items: T[]) => Promise<TrialResult>,
  order: readonly T[],
  /** Why the whole set (known plus all suspects) failed: not tried again. */
  failure: string,
): Promise<SafeSet<T> | undefined> {
  const included = new Set<T>(known);
  const rejected: { item: T; reason: string }[] = [];
  let trials = 0;
  const attempt = (extra: readonly T[]) => {
    trials++;
    const extraSet = new Set(extra);
    return trial(order.filter((item) => included.has(item) || extraSet.has(item)));
  };

  if (known.length > 0) {
    const base = await attempt([]);
    if (!base.ok) return undefined;
  }
  const add = async (group: readonly T[], lastFailure?: string): Promise<void> => {
    if (group.length === 0) return;
    const result = lastFailure === undefined ? await attempt(group) : { ok: false as const, reason: lastFailure };
    if (result.ok) {
      for (const item of group) included.add(item);
      return;
    }
    if (group.length === 1) {
      rejected.push({ item: group[0]!, reason: result.reason });
      return;
    }
    const half = Math.ceil(group.length / 2);
    await add(group.slice(0, half));
    await add(group.slice(half));
  };
  // The whole set of suspects is known to fail already (that is why we are here).
  await add(suspects, failure);
  if (known.length === 0 && rejected.length === suspects.length) {
    // Nothing known and every member fails alone: they are to blame only if a file without them
    // passes (else the render or check fails whatever the members: blame nobody).
    const empty = await attempt([]);
    if (!empty.ok) return undefined;
  }
  return { accepted: order.filter((item) => included.has(item)), rejected, trials };
}
