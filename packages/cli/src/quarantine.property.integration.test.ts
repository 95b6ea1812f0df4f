import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterTarget, silentLogger } from '@cluster-control/core';
import { DEFAULT_ADDRESS_POLICY, DEFAULT_MEMBER_LIMITS, type MemberLimits, Membership, type MembershipEvent } from '@cluster-control/core/model';
import { HostResolver, SafeInstaller } from '@cluster-control/core/sync';
import { builtinHandlers } from '@cluster-control/handlers';

/*
 * A bad member never stops the fleet (README: Hostile or broken members): for random member sets
 * with random bad members, the installed set is exactly the good members and never contains a bad
 * one, for every handler.
 *
 * Core's pipeline is driven directly, as a watcher drives it: key-values → Membership (caps on
 * member data) → SafeInstaller (address policy, host-name resolution, render, `check`, bisection
 * of new or changed members against the last good set, quarantine) → the file. Each case is a
 * sequence of 1-4 states of one cluster (members come, go, change value), applied with `reset`
 * or as watch events, each followed by an install into a real file with a real `check` command.
 *
 * Bad members, of every kind the pipeline quarantines:
 * - limits: a value over `valueBytes`, JSON nested deeper than `metaDepth`, or a name spelt by
 *   more keys than `spellings` allows;
 * - address: an IPv4/IPv6 address in a default-denied network, or a host name resolving to one;
 * - unresolved: a host name that does not resolve;
 * - check: port 6666 (the check refuses any file containing "6666");
 * - render (template only): `weight` 1,000,000 against a template ranging over it, whose
 *   memoryLimit a range that long exceeds.
 * Everything else is good. After every install the file must hold exactly the good members: the
 * result's `installed` list is compared with them, and the file's text is searched for every
 * member's (unique) host.
 *
 * Reproduce a failure with the seed fast-check prints: FC_SEED=<seed> npx vitest run --project integration quarantine.property
 */

const RUNS = Number(process.env.FC_RUNS ?? 30);
const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined;
const PREFIX = '/clusters/web';
const LIMITS: MemberLimits = { ...DEFAULT_MEMBER_LIMITS, valueBytes: 512, metaDepth: 8, metaKeys: 16, spellings: 2 };
/** Handlers whose format has no empty form: with no good member they refuse to render. */
const REFUSES_EMPTY = new Set(['redis']);
const CHECK = ['sh', '-c', '! grep -q 6666 "$1"', 'check', '{src}'];

/** Where a member is, and whether that makes it bad before its value is even looked at. */
type HostKind =
  | 'ipv4' // good
  | 'ipv6' // good
  | 'name' // good: resolves to an allowed address
  | 'ipv4-denied' // address: 169.254.0.0/16 or 224.0.0.0/3
  | 'ipv6-denied' // address: fe80::/10
  | 'name-denied' // address: resolves to 169.254.169.254
  | 'name-unresolved'; // unresolved
const HOST_KINDS: HostKind[] = ['ipv4', 'ipv4', 'ipv4', 'ipv6', 'name', 'ipv4-denied', 'ipv6-denied', 'name-denied', 'name-unresolved'];

/** A member's value in one state. */
type ValueKind =
  | 'empty' // good
  | 'weight' // good: {"weight": 1..5}
  | 'opaque' // good: not JSON
  | 'oversize' // limits: over valueBytes
  | 'deep' // limits: nested deeper than metaDepth
  | 'runaway'; // {"weight": 1000000}: bad for the template only
const VALUE_KINDS: ValueKind[] = ['empty', 'weight', 'weight', 'opaque', 'oversize', 'deep', 'runaway'];

interface MemberSpec {
  host: HostKind;
  /** 6666: refused by the check. */
  port: number;
  /** Per state: absent (null), or its value and how many keys spell its name (3: over the cap of 2). */
  states: ({ value: ValueKind; weight: number; spellings: 1 | 2 | 3 } | null)[];
}

const memberSpec = (states: number): fc.Arbitrary<MemberSpec> =>
  fc.record({
    host: fc.constantFrom(...HOST_KINDS),
    port: fc.constantFrom(80, 443, 8080, 6666),
    states: fc.array(
      fc.option(
        fc.record({
          value: fc.constantFrom(...VALUE_KINDS),
          weight: fc.integer({ min: 1, max: 5 }),
          spellings: fc.constantFrom<1 | 2 | 3>(1, 1, 1, 2, 3),
        }),
        { nil: null, freq: 3 },
      ),
      { minLength: states, maxLength: states },
    ),
  });

const scenario = fc.integer({ min: 1, max: 4 }).chain((states) =>
  fc.record({
    members: fc.array(memberSpec(states), { minLength: 0, maxLength: 14 }),
    /** Per state after the first: a full read (reset) or watch events (apply). */
    viaEvents: fc.array(fc.boolean(), { minLength: states, maxLength: states }),
  }),
);

/** A unique host per member index, of the given kind (fixed widths: no host is a prefix of another). */
function hostOf(kind: HostKind, i: number): string {
  const n = 1000 + i;
  switch (kind) {
    case 'ipv4':
      return `10.${1 + (i >> 8)}.${i & 255}.7`;
    case 'ipv6':
      return `fd00::1:${(0x1000 + i).toString(16)}`;
    case 'name':
      return `hn${n}.example`;
    case 'ipv4-denied':
      return i % 2 === 0 ? `169.254.${i >> 8}.${i & 255}` : `224.0.${i >> 8}.${i & 255}`;
    case 'ipv6-denied':
      return `fe80::1:${(0x1000 + i).toString(16)}`;
    case 'name-denied':
      return `md${n}.example`;
    case 'name-unresolved':
      return `un${n}.invalid`;
  }
}

const nameOf = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** Spelling k (0, 1, 2) of a name: itself, then with its first k characters percent-encoded (upper-case hex, then lower-case). */
function spelling(name: string, k: number): string {
  const pct = (c: string) => `%${c.charCodeAt(0).toString(16)}`;
  const encoded = [...name.slice(0, k)].map(pct).join('');
  return (k === 1 ? encoded.toUpperCase() : encoded.toLowerCase()) + name.slice(k);
}

function valueOf(kind: ValueKind, weight: number): string {
  switch (kind) {
    case 'empty':
      return '';
    case 'weight':
      return JSON.stringify({ weight });
    case 'opaque':
      return `up since ${weight}`;
    case 'oversize':
      return JSON.stringify({ weight, pad: 'x'.repeat(LIMITS.valueBytes) });
    case 'deep':
      return '{"a":'.repeat(LIMITS.metaDepth + 2) + '1' + '}'.repeat(LIMITS.metaDepth + 2);
    case 'runaway':
      return JSON.stringify({ weight: 1_000_000 });
  }
}

/** Whether member i, in state s, belongs in the file of `handler`. */
function isGood(m: MemberSpec, s: number, handler: string): boolean {
  const state = m.states[s];
  if (!state) return false;
  if (m.host !== 'ipv4' && m.host !== 'ipv6' && m.host !== 'name') return false;
  if (m.port === 6666) return false;
  if (state.value === 'oversize' || state.value === 'deep') return false;
  if (state.value === 'runaway' && handler === 'template') return false;
  return state.spellings <= LIMITS.spellings;
}

/** The key-values of state s. */
function kvsOf(members: MemberSpec[], s: number): Map<string, string> {
  const kvs = new Map<string, string>();
  members.forEach((m, i) => {
    const state = m.states[s];
    if (!state) return;
    const name = nameOf(hostOf(m.host, i), m.port);
    for (let k = 0; k < state.spellings; k++) kvs.set(`${PREFIX}/${spelling(name, k)}`, valueOf(state.value, state.weight));
  });
  return kvs;
}

/** Watch events that turn `before` into `after` (deletes and puts in a shuffled-but-fixed order). */
function eventsBetween(before: Map<string, string>, after: Map<string, string>): MembershipEvent[] {
  const events: MembershipEvent[] = [];
  for (const key of before.keys()) if (!after.has(key)) events.push({ type: 'delete', key, value: '' });
  for (const [key, value] of after) if (before.get(key) !== value) events.push({ type: 'put', key, value });
  // Interleave: puts and deletes of different keys commute, so any order must give the same state.
  return events.sort((a, b) => (a.key.length % 3) - (b.key.length % 3));
}

/** Test resolver: `hn*` names resolve to an allowed address, `md*` to the metadata service, `*.invalid` not at all. */
function resolver(): HostResolver {
  return new HostResolver({
    timeoutMs: 500,
    lookup: async (host) => {
      if (host.endsWith('.invalid')) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      if (host.startsWith('md')) return ['169.254.169.254'];
      return ['10.200.0.1'];
    },
  });
}

/** Handler options for each built-in handler (the template ranges over meta.weight, with a small memoryLimit). */
const RAW_OPTIONS: Record<string, Record<string, unknown>> = {
  json: { format: 'objects' },
  apache: {},
  nginx: {},
  haproxy: {},
  redis: {},
  mysql: {},
  template: {
    template: '{% for m in members %}{{ m.name }} {{ m.host }}:{{ m.port }}{% for i in (1..m.meta.weight) %}.{% endfor %}\n{% endfor %}',
    memoryLimit: 65_536,
  },
};

/** The host as a whole token of the file's text (not part of a longer address or name). */
function mentions(text: string, host: string): boolean {
  const escaped = host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![0-9A-Za-z.:-])${escaped}(?![0-9A-Za-z-]|\\.[0-9A-Za-z])`).test(text);
}

describe('quarantine property: the installed set is exactly the good members, for every handler', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cc-quarantine-prop-'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const [handlerName, handler] of Object.entries(builtinHandlers)) {
    it(`${handlerName}`, async () => {
      let caseNo = 0;
      await fc.assert(
        fc.asyncProperty(scenario, async ({ members, viaEvents }) => {
          const target: ClusterTarget = {
            name: 'web',
            path: PREFIX,
            file: join(dir, `${handlerName}-${caseNo++}.out`),
            handler,
            handlerOptions: handler.parseOptions(RAW_OPTIONS[handlerName]!),
            check: CHECK,
            checkTimeoutMs: 10_000,
            minMembers: 0,
            policy: DEFAULT_ADDRESS_POLICY,
            limits: LIMITS,
          };
          const membership = new Membership(PREFIX, LIMITS);
          const installer = new SafeInstaller(target, silentLogger, undefined, undefined, resolver());
          let previous = new Map<string, string>();
          /** The state whose good members the file holds (none: no file yet). */
          let shown: number | undefined;
          const states = viaEvents.length;
          for (let s = 0; s < states; s++) {
            const kvs = kvsOf(members, s);
            if (s > 0 && viaEvents[s]) membership.apply(eventsBetween(previous, kvs));
            else membership.reset([...kvs].map(([key, value]) => ({ key, value })));
            previous = kvs;

            const result = await installer.install(membership.members());
            const good = members.flatMap((m, i) => (isGood(m, s, handlerName) ? [nameOf(hostOf(m.host, i), m.port)] : [])).sort();
            const where = `state ${s} of ${states}; quarantined: ${JSON.stringify(result.quarantined.map((q) => `${q.name} ${q.kind}`))}`;
            if (good.length === 0 && REFUSES_EMPTY.has(handlerName)) {
              // The format has no empty form (nutcracker refuses a pool without servers): nothing
              // is installed, and the file keeps the last good set.
              expect(result.outcome, where).not.toMatch(/^(installed|unchanged)$/);
            } else {
              expect(result.outcome, `${where}; reason: ${result.reason}`).toMatch(/^(installed|unchanged)$/);
              expect(result.installed.map((m) => m.name).sort(), where).toEqual(good);
              shown = s;
            }

            // The file itself: every good member's host is in it, no bad member's.
            if (shown === undefined) {
              await expect(readFile(target.file, 'utf8'), `no file yet (${where})`).rejects.toThrow(/ENOENT/);
              continue;
            }
            const text = await readFile(target.file, 'utf8');
            const inFile = shown;
            members.forEach((m, i) => {
              if (!m.states[inFile]) return;
              const host = hostOf(m.host, i);
              const wanted = isGood(m, inFile, handlerName);
              expect(mentions(text, host), `${nameOf(host, m.port)} ${wanted ? 'missing from' : 'in'} the file of state ${inFile} (${where}):\n${text}`).toBe(wanted);
            });
            expect(text).not.toContain('6666');
          }
        }),
        { numRuns: RUNS, ...(seed !== undefined ? { seed } : {}) },
      );
    });
  }
});
