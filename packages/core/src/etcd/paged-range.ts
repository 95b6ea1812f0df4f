import type { EtcdClient, KeyValue } from './types.js';
import { describeError } from '../util/describe-error.js';
import type { KeyRange } from './key-range.js';

export interface PagedRangeOptions {
  /** Read at this revision (CompactedError when it was compacted); default: the current one. */
  revision?: bigint | undefined;
  /** Each page's key-values, in key order; awaited before the next page is asked for. */
  onPage(kvs: KeyValue[]): void | Promise<void>;
  /** Bytes (keys + values) to aim at per page. Default 4 MiB. */
  pageBytes?: number;
  /** Keys in the first page, before any size is known. Default 64. */
  firstLimit?: number;
  /** Bounds of the keys per page that the size aim may choose. Default 16 and 10,000. */
  minLimit?: number;
  maxLimit?: number;
}

export interface PagedRangeResult {
  /** The revision every page was read at: the state of the range at it was delivered. */
  revision: bigint;
  /** The store's revision when the first page was served (newer than `revision` when one was given). */
  headerRevision: bigint;
  keys: number;
  pages: number;
}

export const PAGE_DEFAULTS = { pageBytes: 4 * 2 ** 20, firstLimit: 64, minLimit: 16, maxLimit: 10_000 } as const;

/**
 * Reads a key range in pages, all at one revision, so no response is ever larger than a page
 * (both clients refuse answers over MAX_ANSWER_BYTES, 32 MiB, and one huge JSON answer costs the
 * gateway client several times its size in memory), and the pages still add up to one
 * consistent snapshot: the first page is read at the current revision (or the given one), the
 * following ones at that same revision, each starting just after the last key received, until
 * etcd says there are no more.
 *
 * Page sizes adapt: the first page is small; then each aims at `pageBytes` from the bytes per
 * key of the page before (within `minLimit`..`maxLimit` keys, growing at most fourfold per page).
 * Keys are all etcd counts, so a page's bytes are a guess: a run of small values followed by huge
 * ones can make one page of up to `limit` huge values. A page that etcd or gRPC refuses as too
 * large (RESOURCE_EXHAUSTED, message larger than max) is asked for again with half the keys,
 * down to one, and later pages stay at or below that.
 *
 * Compaction of the read's revision between two pages fails the read with a CompactedError
 * (pages already delivered are then to be dropped): read again.
 */
export async function pagedRange(etcd: Pick<EtcdClient, 'range'>, range: KeyRange, options: PagedRangeOptions): Promise<PagedRangeResult> {
  const pageBytes = options.pageBytes ?? PAGE_DEFAULTS.pageBytes;
  const minLimit = Math.max(1, options.minLimit ?? PAGE_DEFAULTS.minLimit);
  let maxLimit = Math.max(minLimit, options.maxLimit ?? PAGE_DEFAULTS.maxLimit);
  let limit = Math.max(1, options.firstLimit ?? PAGE_DEFAULTS.firstLimit);
  let revision = options.revision;
  let headerRevision: bigint | undefined;
  let from: Buffer | undefined;
  let keys = 0;
  let pages = 0;
  for (;;) {
    let res;
    try {
      res = await etcd.range(range, { limit, ...(revision !== undefined ? { revision } : {}), ...(from ? { from } : {}) });
    } catch (err) {
      if (limit > 1 && isTooLarge(err)) {
        limit = Math.max(1, limit >> 1);
        maxLimit = limit; // the size that failed is not tried again in this read
        continue;
      }
      throw err;
    }
    headerRevision ??= res.revision;
    // A read at a given revision is answered with the store's current revision in its header.
    revision ??= res.revision;
    pages++;
    keys += res.kvs.length;
    let bytes = 0;
    for (const kv of res.kvs) bytes += kv.key.length + kv.value.length;
    const got = res.kvs.length;
    await options.onPage(res.kvs);
    if (!res.more || got === 0 || !res.lastKey) break;
    // The smallest key after the last one: the same bytes and a zero byte.
    from = Buffer.concat([res.lastKey, ZERO]);
    // Sized from the last page (what is near tends to be alike); shrinks at once, grows at most
    // fourfold per page, so a run of small values followed by huge ones costs one page of limited size.
    const aim = Math.floor(pageBytes / Math.max(1, bytes / got));
    limit = Math.min(maxLimit, 4 * limit, Math.max(minLimit, aim));
  }
  return { revision, headerRevision, keys, pages };
}

const ZERO = Buffer.from([0]);

/** gRPC's and etcd's ways of saying a message is over a size limit. */
export function isTooLarge(err: unknown): boolean {
  return /RESOURCE_EXHAUSTED|larger than max|message too large|exceeds maximum|too large/i.test(describeError(err));
}
