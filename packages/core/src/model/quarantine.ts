/** Why a member is left out of every file although its name is valid. */
export type QuarantineKind =
  /** Its data is over a cap (limits.*). */
  | 'limits'
  /** Its address is not allowed by the cluster's `members` policy. */
  | 'address'
  /** Its host name did not resolve. */
  | 'unresolved'
  /** The handler could not render it. */
  | 'render'
  /** The cluster's `check` refused a file with it. */
  | 'check';

/** A member left out of every file, with the reason (one line), until its value changes. */
export interface QuarantinedMember {
  readonly name: string;
  readonly key: string;
  readonly kind: QuarantineKind;
  readonly reason: string;
}
