/**
 * Edit distance between `a` and `b` (insertions, deletions, substitutions and swaps of two
 * neighbouring characters, each costing 1), or `limit + 1` when it is more than `limit`.
 * Strings whose lengths differ by more than `limit` are not compared at all, so a hostile
 * 100 kB word costs nothing against short names.
 */
export function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let before = new Array<number>(b.length + 1).fill(0); // row i - 2
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j); // row i - 1
  for (let i = 1; i <= a.length; i++) {
    const current = new Array<number>(b.length + 1).fill(0);
    current[0] = i;
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      current[j] = d;
      rowMin = Math.min(rowMin, d);
    }
    if (rowMin > limit) return limit + 1;
    before = previous;
    previous = current;
  }
  return Math.min(previous[b.length]!, limit + 1);
}

/**
 * The name in `names` closest to `word` (ignoring case), if it is close enough to be a likely
 * typo: at most a third of the name's length away, and at most 3 (at least 1 for short names).
 * Ties go to the name listed first.
 */
export function closestName(word: string, names: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const limit = Math.max(1, Math.min(3, Math.floor(name.length / 3)));
    const distance = editDistance(lower, name.toLowerCase(), limit);
    if (distance <= limit && distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}
