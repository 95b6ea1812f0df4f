/** One member of a cluster: a key directly under the cluster's path whose name passed validation. */
export interface Member {
  /** The validated member name, e.g. `10.0.0.5:80` or `[fd00::5]:80` (percent-encoding decoded). */
  readonly name: string;
  /** Host part: IPv4 address, IPv6 address without brackets, or an RFC 1123 host name. */
  readonly host: string;
  /** Port, when the name has one. */
  readonly port: number | undefined;
  /** The full etcd key. */
  readonly key: string;
  /** Fields of the value when it parses as a JSON object; otherwise empty. */
  readonly meta: Readonly<Record<string, unknown>>;
  /** The raw value, opaque. */
  readonly value: string;
}
