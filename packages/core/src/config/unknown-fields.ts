import type { MemberLimits } from '../model/member-limits.js';
import { closestName } from '../util/edit-distance.js';
import type { ClusterEntry, ConfigFile, EtcdEntry, SelfEntry } from './schema.js';

// Finds the keys a configuration file has but its fixed shape does not (a typo such as "relaod",
// or a field of a newer version), for warnings: validate.ts drops them silently.
//
// Each list is a Record over the schema's own keys, so the compiler keeps it complete. Only the
// fixed shape is walked (not handlerConfig, whose options each handler checks itself, nor
// self.value, which is the operator's data), each object once: linear in the size of the file.

type Fields<T> = Record<keyof T, true>;
const TOP: Fields<ConfigFile> = { etcd: true, self: true, clusters: true, status: true };
const ETCD: Fields<EtcdEntry> = { server: true, host: true, port: true, endpoints: true, auth: true, tls: true, timeoutMs: true, transport: true };
const AUTH: Fields<NonNullable<EtcdEntry['auth']>> = { username: true, password: true };
const TLS: Fields<NonNullable<EtcdEntry['tls']>> = { ca: true, cert: true, key: true };
const SELF: Fields<SelfEntry> = { key: true, ttl: true, heartbeat: true, value: true };
const CLUSTER: Fields<ClusterEntry> = {
  name: true,
  path: true,
  handler: true,
  handlerConfig: true,
  file: true,
  reload: true,
  check: true,
  reloadSignal: true,
  reloadTimeoutMs: true,
  checkTimeoutMs: true,
  wait: true,
  minMembers: true,
  mode: true,
  members: true,
  limits: true,
  reloadMinIntervalMs: true,
};
const WAIT: Fields<NonNullable<ClusterEntry['wait']>> = { min: true, max: true };
const MEMBERS: Fields<NonNullable<ClusterEntry['members']>> = { allow: true, deny: true, hostnames: true, resolve: true };
const LIMITS: Fields<MemberLimits> = { valueBytes: true, metaDepth: true, metaKeys: true, spellings: true, clusterBytes: true };
const STATUS: Fields<{ prefix: string; ttl: number }> = { prefix: true, ttl: true };

/** Warnings listed one by one; the rest are counted in one more line. */
export const MAX_UNKNOWN_FIELD_WARNINGS = 20;
/** Longer keys are cut in a warning, so a hostile key cannot make a huge log line. */
const SHOWN_KEY_LENGTH = 64;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * One line per unknown field of a file that passed validation, like
 * `cluster-control.conf: clusters[0].relaod: unknown field, ignored (did you mean "reload"?)`;
 * past MAX_UNKNOWN_FIELD_WARNINGS, one more line with how many else. Only key names are shown,
 * never values; a key that is not a plain name is JSON-quoted, so a newline in it cannot break
 * the one-line rule.
 */
export function unknownFieldWarnings(data: unknown, sourceName: string): string[] {
  const warnings: string[] = [];
  let more = 0;
  const check = (value: unknown, at: string, fields: Record<string, true>): void => {
    if (!isObject(value)) return;
    let names: string[] | undefined;
    for (const key of Object.keys(value)) {
      if (Object.hasOwn(fields, key)) continue;
      if (warnings.length >= MAX_UNKNOWN_FIELD_WARNINGS) {
        more++;
        continue;
      }
      names ??= Object.keys(fields);
      const suggestion = key.length <= SHOWN_KEY_LENGTH ? closestName(key, names) : undefined;
      const hint = suggestion === undefined ? '' : ` (did you mean ${JSON.stringify(suggestion)}?)`;
      warnings.push(`${sourceName}: ${fieldPath(at, key)}: unknown field, ignored${hint}`);
    }
  };
  const field = (o: unknown, key: string): unknown => (isObject(o) && Object.hasOwn(o, key) ? o[key] : undefined);

  check(data, '', TOP);
  const etcd = field(data, 'etcd');
  check(etcd, 'etcd', ETCD);
  check(field(etcd, 'auth'), 'etcd.auth', AUTH);
  check(field(etcd, 'tls'), 'etcd.tls', TLS);
  check(field(data, 'self'), 'self', SELF);
  const clusters = field(data, 'clusters');
  if (Array.isArray(clusters)) {
    clusters.forEach((cluster: unknown, i) => {
      const at = `clusters[${i}]`;
      check(cluster, at, CLUSTER);
      check(field(cluster, 'wait'), `${at}.wait`, WAIT);
      check(field(cluster, 'members'), `${at}.members`, MEMBERS);
      check(field(cluster, 'limits'), `${at}.limits`, LIMITS);
    });
  }
  check(field(data, 'status'), 'status', STATUS);

  if (more > 0) warnings.push(`${sourceName}: and ${more} more unknown field(s), ignored`);
  return warnings;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fieldPath(at: string, key: string): string {
  if (IDENTIFIER.test(key) && key.length <= SHOWN_KEY_LENGTH) return at === '' ? key : `${at}.${key}`;
  const shown = key.length > SHOWN_KEY_LENGTH ? `${key.slice(0, SHOWN_KEY_LENGTH)}…` : key;
  // JSON.stringify leaves these line separators as they are.
  const quoted = JSON.stringify(shown).replace(/[\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `${at}[${quoted}]`;
}
