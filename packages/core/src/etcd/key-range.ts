/** What a read or a watch covers: one key, or every key that starts with `key`. */
export interface KeyRange {
  readonly key: string;
  readonly prefix: boolean;
}

export const prefixRange = (prefix: string): KeyRange => ({ key: prefix, prefix: true });
export const singleKey = (key: string): KeyRange => ({ key, prefix: false });

/** etcd's `range_end` for a prefix: the prefix with its last byte below 0xff incremented. */
export function rangeEnd(range: KeyRange): Buffer | undefined {
  if (!range.prefix) return undefined;
  const bytes = Buffer.from(range.key, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = end[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]); // all 0xff: to the end of the keyspace
}
