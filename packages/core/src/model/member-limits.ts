/**
 * Caps on what one member may cost. Member values come from the network: a registrant can write
 * a 1.4 MB value, JSON nested thousands deep, or 150k meta keys. A member over a cap is
 * quarantined (left out of every file, reported), never fatal to the cluster.
 */
export interface MemberLimits {
  /** Bytes of one member's value. */
  readonly valueBytes: number;
  /** Nesting depth of a value's JSON (the meta object itself is depth 1). */
  readonly metaDepth: number;
  /** Keys of any one object in a value's JSON. */
  readonly metaKeys: number;
  /** Keys that spell one member name (`10.0.0.5:80`, `10.0.0.5%3A80`, `WEB`, `web`, ...). */
  readonly spellings: number;
  /** Value bytes kept for the whole cluster; members past it are quarantined. */
  readonly clusterBytes: number;
}

export const DEFAULT_MEMBER_LIMITS: MemberLimits = Object.freeze({
  valueBytes: 64 * 1024,
  metaDepth: 8,
  metaKeys: 256,
  spellings: 16,
  clusterBytes: 64 * 1024 * 1024,
});
