/**
 * etcd's unary calls over its JSON gateway (the grpc-gateway every etcd >= 3.4 serves on its
 * client URLs: `POST /v3/kv/range`, `/v3/lease/grant`, …), with node:http and node:https only.
 *
 * Why: a one-shot command (`prepare`, `removekey`, `heartbeat --once`) makes a handful of calls
 * and exits, and loading `etcd3` (grpc-js and its .proto parsing) costs it more than the calls
 * themselves. This client loads nothing but Node's own http modules. (Not `fetch`: it loads
 * undici, which costs ~30 ms on its own.)
 *
 * It behaves like `connectEtcd`'s unary calls: the same results (lease ids are the same decimal
 * strings, so either client can use the other's leases), one deadline per call, the same
 * failover (stick to one endpoint, a random one at first; move to the next when it is
 * unreachable or too slow), the same errors (EtcdUnavailableError, EtcdAccessError for
 * certificate and permission failures, CompactedError), and an auth token that etcd rejects is
 * replaced once per call.
 *
 * What it does not do: watches (the gateway streams them, but long-running work keeps the gRPC
 * client), keepalive streams (each keepAlive is one request), retries (callers decide).
 *
 * Answers no retry can fix are EtcdEndpointErrors, not outages: HTTP 404 on a gateway path
 * (GatewayMissingError: no gateway here; transport 'auto' then moves to gRPC), a TLS-vs-plain
 * mismatch (endpoint-check.ts).
 */
import { readFileSync } from 'node:fs';
import { type ClientRequest, Agent as HttpAgent, type IncomingMessage, type RequestOptions, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ErrorCode } from '../util/error-codes.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { type EtcdClient, type EtcdConnectionOptions, type KeyValue, MAX_ANSWER_BYTES, type PutIfFreeResult, type RangeOptions, type RangeResult, type RangeSummary } from './types.js';
import { checkEndpoint } from './endpoint-check.js';
import { CompactedError, EtcdAccessError, EtcdEndpointError, EtcdUnavailableError, GatewayMissingError } from './errors.js';
import { describeError } from '../util/describe-error.js';
import { type KeyRange, rangeEnd } from './key-range.js';
import { describeTlsFailure } from './tls-failure.js';

export function connectEtcdGateway(options: EtcdConnectionOptions): EtcdClient {
  return new GatewayConnection(options);
}

/** gRPC status names, so that errors read exactly as the gRPC client's do ("7 PERMISSION_DENIED: …"). */
const GRPC_STATUS = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];
const PERMISSION_DENIED = 7;
const UNAUTHENTICATED = 16;
const INVALID_ARGUMENT = 3;
const INVALID_TOKEN = /invalid auth token|auth token is expired/i;
/** etcd's answers that mean "these credentials do not get you in" (auth failures come as INVALID_ARGUMENT). */
const ACCESS_DENIED = /authentication failed|user name not found|role is not granted|user name is empty/i;

/** An error etcd answered with: its gRPC status code and message. */
class GatewayError extends Error {
  readonly code = ErrorCode.CC_ETCD_GRPC_STATUS;

  constructor(
    readonly grpcStatus: number,
    detail: string,
  ) {
    super(`${grpcStatus} ${GRPC_STATUS[grpcStatus] ?? 'UNKNOWN'}: ${detail}`);
    this.name = 'GatewayError';
  }
}

interface Endpoint {
  readonly index: number;
  readonly url: string;
  readonly request: RequestOptions;
  readonly agent: HttpAgent;
  /** The auth token for this member (simple tokens are only valid on the member that issued them). */
  token: Promise<string> | undefined;
}

type Json = Record<string, unknown>;

class GatewayConnection implements EtcdClient {
  readonly endpoints: readonly string[];
  private readonly members: Endpoint[];
  /** The endpoint calls go to until it fails. */
  private current: number;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly auth: { username: string; password: string } | undefined;
  /** TLS on every endpoint (https://, or etcd.tls configured). */
  private readonly secure: boolean;
  private closed = false;

  constructor(options: EtcdConnectionOptions) {
    if (options.endpoints.length === 0) throw new Error('no etcd endpoints configured');
    this.endpoints = options.endpoints;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.logger = options.logger ?? silentLogger;
    this.auth = options.auth;
    // As with the gRPC client: TLS when configured or when any endpoint says https.
    const secure = options.tls !== undefined || options.endpoints.some((e) => e.startsWith('https://'));
    this.secure = secure;
    const read = (path: string | undefined) => (path ? readFileSync(path) : undefined);
    // No CA given: Node's bundled roots.
    const tls = { ca: read(options.tls?.ca), cert: read(options.tls?.cert), key: read(options.tls?.key) };
    this.members = options.endpoints.map((e, index) => {
      const url = e.replace(/\/+$/, '');
      const parsed = new URL(/^[a-z]+:\/\//i.test(url) ? url : `http://${url}`);
      const agent = secure ? new HttpsAgent({ keepAlive: true, ...tls }) : new HttpAgent({ keepAlive: true });
      const request = { hostname: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: parsed.port || 2379, agent, method: 'POST' };
      return { index, url, request, agent, token: undefined };
    });
    // Spread clients over the members; each one then stays where it is while that works.
    this.current = Math.floor(Math.random() * this.members.length);
  }

  async range(range: KeyRange, options: RangeOptions = {}): Promise<RangeResult> {
    const res = await this.call('read', '/v3/kv/range', {
      key: typeof options.from === 'object' ? options.from.toString('base64') : base64(options.from ?? range.key),
      ...(range.prefix ? { range_end: rangeEnd(range)!.toString('base64') } : {}),
      ...(options.revision !== undefined ? { revision: options.revision.toString() } : {}),
      // int64 fields are strings in the gateway's JSON.
      ...(options.limit ? { limit: String(options.limit) } : {}),
    });
    const kvs = (res.kvs ?? []) as Json[];
    const last = kvs[kvs.length - 1]?.key;
    return { kvs: kvs.map(toKeyValue), revision: revisionOf(res), more: res.more === true, lastKey: typeof last === 'string' ? Buffer.from(last, 'base64') : undefined };
  }

  async newestModRevision(range: KeyRange): Promise<bigint> {
    return (await this.summarize(range)).newestModRevision;
  }

  async summarize(range: KeyRange, options: { revision?: bigint | undefined } = {}): Promise<RangeSummary> {
    const res = await this.call('read', '/v3/kv/range', {
      key: base64(range.key),
      ...(range.prefix ? { range_end: rangeEnd(range)!.toString('base64') } : {}),
      ...(options.revision !== undefined ? { revision: options.revision.toString() } : {}),
      sort_order: 'DESCEND',
      sort_target: 'MOD',
      limit: '1',
      keys_only: true,
    });
    const kv = ((res.kvs ?? []) as Json[])[0];
    // int64s are strings in the gateway's JSON, and zero fields are left out.
    return { count: Number(fieldText(res.count, '0')), newestModRevision: kv ? BigInt((kv.mod_revision as string | undefined) ?? '0') : 0n, revision: options.revision ?? revisionOf(res) };
  }

  async put(key: string, value: string, options: { lease?: string } = {}): Promise<bigint> {
    const res = await this.call('put', '/v3/kv/put', { key: base64(key), value: base64(value), ...(options.lease ? { lease: options.lease } : {}) });
    return revisionOf(res);
  }

  async putIfFree(key: string, value: string, lease: string): Promise<PutIfFreeResult> {
    const k = base64(key);
    const put = { request_put: { key: k, value: base64(value), lease } };
    // As connectEtcd's: one nested transaction. The gateway omits false and zero fields.
    const res = await this.call('put', '/v3/kv/txn', {
      compare: [{ key: k, result: 'EQUAL', target: 'CREATE', create_revision: '0' }],
      success: [put],
      failure: [{ request_txn: { compare: [{ key: k, result: 'EQUAL', target: 'LEASE', lease }], success: [put], failure: [{ request_range: { key: k } }] } }],
    });
    const inner = res.succeeded ? undefined : ((res.responses as Json[] | undefined)?.[0]?.response_txn as Json | undefined);
    if (res.succeeded || inner?.succeeded) return { ok: true, revision: revisionOf(res) };
    const kv = (((inner?.responses as Json[] | undefined)?.[0]?.response_range as Json | undefined)?.kvs as Json[] | undefined)?.[0];
    if (!kv) throw new Error(`put ${key}: etcd answered the transaction without the key's holder`);
    const revision = (field: unknown) => BigInt((field as string | undefined) ?? '0');
    return { ok: false, holder: { lease: fieldText(kv.lease, '0'), createRevision: revision(kv.create_revision), modRevision: revision(kv.mod_revision) } };
  }

  async delete(key: string): Promise<number> {
    const res = await this.call('delete', '/v3/kv/deleterange', { key: base64(key) });
    return Number(res.deleted ?? 0);
  }

  async deleteAt(key: string, options: { lease?: string | undefined } = {}): Promise<{ deleted: number; revision: bigint }> {
    if (options.lease === undefined) {
      const res = await this.call('delete', '/v3/kv/deleterange', { key: base64(key) });
      return { deleted: Number(res.deleted ?? 0), revision: revisionOf(res) };
    }
    const k = base64(key);
    // The gateway omits false and zero fields.
    const res = await this.call('delete', '/v3/kv/txn', {
      compare: [{ key: k, result: 'EQUAL', target: 'LEASE', lease: options.lease }],
      success: [{ request_delete_range: { key: k } }],
    });
    const done = (res.responses as Json[] | undefined)?.[0]?.response_delete_range as Json | undefined;
    return { deleted: res.succeeded ? Number(done?.deleted ?? 0) : 0, revision: revisionOf(res) };
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    const res = await this.call('lease grant', '/v3/lease/grant', { TTL: ttlSeconds, ID: 0 });
    if (res.error) throw new Error(`lease grant: ${fieldText(res.error)}`);
    return String(res.ID);
  }

  async keepAlive(leaseId: string): Promise<number> {
    // A stream on the gateway: one request in, one `{"result": …}` line out. No TTL: the lease is gone.
    const res = await this.call('keepalive', '/v3/lease/keepalive', { ID: leaseId });
    return Number(res.TTL ?? 0);
  }

  async leaseTimeToLive(leaseId: string): Promise<number> {
    const res = await this.call('lease lookup', '/v3/lease/timetolive', { ID: leaseId, keys: false });
    return Number(res.TTL ?? 0);
  }

  async revokeLease(leaseId: string): Promise<void> {
    try {
      await this.call('lease revoke', '/v3/lease/revoke', { ID: leaseId });
    } catch (err) {
      if (/requested lease not found/.test(describeError(err))) return; // already gone: the goal is met
      throw err;
    }
  }

  close(): void {
    this.closed = true;
    for (const { agent } of this.members) agent.destroy();
  }

  /** One call on the current endpoint, within one deadline; errors mapped to ours; fails over on unavailability. */
  private async call(what: string, path: string, body: Json): Promise<Json> {
    if (this.closed) throw new EtcdUnavailableError(`${what}: connection closed`);
    const member = this.members[this.current]!;
    const deadline = Date.now() + this.timeoutMs;
    try {
      try {
        return await this.post(member, path, body, deadline, await this.token(member, deadline));
      } catch (err) {
        // An expired token (or one a restarted etcd forgot): authenticate again, once.
        if (!this.auth || !INVALID_TOKEN.test(describeError(err))) throw err;
        member.token = undefined;
        return await this.post(member, path, body, deadline, await this.token(member, deadline));
      }
    } catch (err) {
      const mapped = this.translate(what, err);
      if (mapped instanceof EtcdUnavailableError) {
        // A connection cut short may be TLS spoken to a plain etcd (or the reverse): one probe tells.
        const misconfigured = this.closed ? undefined : await checkEndpoint(member.url, describeError(err), { secure: this.secure });
        if (misconfigured) throw misconfigured;
        this.failover(member, mapped);
      }
      throw mapped;
    }
  }

  /** The member's auth token, authenticating first if there is none (undefined without `auth`). */
  private async token(member: Endpoint, deadline: number): Promise<string | undefined> {
    if (!this.auth) return undefined;
    if (!member.token) {
      const token = this.post(member, '/v3/auth/authenticate', { name: this.auth.username, password: this.auth.password }, deadline).then((res) => String(res.token));
      member.token = token;
      token.catch(() => {
        if (member.token === token) member.token = undefined;
      });
    }
    return member.token;
  }

  /** POSTs `body` as JSON; resolves to etcd's answer, rejects with a GatewayError when etcd answered an error. */
  private post(member: Endpoint, path: string, body: Json, deadline: number, token?: string, reused = false): Promise<Json> {
    const payload = Buffer.from(JSON.stringify(body));
    const headers = { 'content-type': 'application/json', 'content-length': payload.length, ...(token ? { authorization: token } : {}) };
    // By the flag, not `instanceof HttpsAgent`: that would load node:https (and TLS and crypto)
    // for every plain-HTTP command too, a few ms of each start.
    const send = this.secure ? httpsRequest : httpRequest;
    return new Promise<Json>((resolve, reject) => {
      let req: ClientRequest | undefined;
      const timer = setTimeout(
        () => {
          const err = new Error(`no answer within ${this.timeoutMs} ms (deadline exceeded)`);
          reject(err);
          req?.destroy(err);
        },
        Math.max(0, deadline - Date.now()),
      );
      // Throws at once for TLS material node cannot use (then there is no request to time out).
      const start = (): ClientRequest =>
        send({ ...member.request, path, headers }, (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES) {
              // Like gRPC's limit: a page too large is asked for again smaller (paged-range.ts).
              clearTimeout(timer);
              reject(new Error(`answer larger than max (${MAX_ANSWER_BYTES} bytes): message too large`));
              req?.destroy();
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', (err) => (clearTimeout(timer), reject(err)));
          res.on('end', () => {
            clearTimeout(timer);
            try {
              resolve(parseAnswer(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), member.url, path));
            } catch (err) {
              reject(err);
            }
          });
        });
      try {
        req = start();
      } catch (err) {
        clearTimeout(timer);
        reject(err);
        return;
      }
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        // A kept-alive socket etcd had closed meanwhile: that is no answer from etcd; try a new one once.
        if (req?.reusedSocket && err.code === 'ECONNRESET' && !reused && !this.closed) {
          resolve(this.post(member, path, body, deadline, token, true));
        } else reject(err);
      });
      req.end(payload);
    });
  }

  private translate(what: string, err: unknown): Error {
    const text = this.closed ? 'connection closed' : describeError(err);
    if (err instanceof EtcdEndpointError && !this.closed) return err;
    if (/required revision has been compacted/.test(text)) return new CompactedError(0n);
    // A certificate verdict does not heal by retrying.
    const tls = describeTlsFailure(text);
    if (tls) return new EtcdAccessError(`${what} (${this.endpoints.join(', ')}): ${tls}`, { cause: err });
    if (err instanceof GatewayError && !INVALID_TOKEN.test(text)) {
      if (err.grpcStatus === PERMISSION_DENIED || err.grpcStatus === UNAUTHENTICATED || ACCESS_DENIED.test(text)) {
        // Whose permissions fell short is the first thing an operator needs to know.
        return new EtcdAccessError(`${what}: ${text}${this.auth ? ' (as the configured etcd.auth user)' : ''}`, { cause: err });
      }
      // A request etcd cannot serve as asked (a bad argument, an unknown lease): not an outage.
      if (err.grpcStatus === INVALID_ARGUMENT || /requested lease not found/.test(text)) return new Error(`${what}: ${text}`, { cause: err });
    }
    return new EtcdUnavailableError(`${what} (${this.endpoints.join(', ')}): ${text}`, { cause: err });
  }

  /** `member` failed: unless another call already moved on, the next call goes to the next endpoint. */
  private failover(member: Endpoint, err: Error): void {
    if (this.members.length < 2 || this.current !== member.index || this.closed) return;
    this.current = (member.index + 1) % this.members.length;
    this.logger.info(`etcd ${member.url} failed (${describeError(err)}); using ${this.members[this.current]!.url}`);
  }
}

/**
 * etcd's answer: a JSON object, or `{"error": {…}, "code": n, "message": "…"}` with a non-2xx
 * status; streams (keepalive) wrap each message as `{"result": …}` or `{"error": {…}}`.
 */
function parseAnswer(status: number, text: string, endpoint: string, path: string): Json {
  let json: Json | undefined;
  try {
    json = JSON.parse(text.split('\n', 1)[0]!) as Json;
  } catch {
    json = undefined;
  }
  if (status === 200 && json && typeof json.error !== 'object') return (json.result as Json | undefined) ?? json;
  const error = json && typeof json.error === 'object' && json.error ? (json.error as Json) : json;
  const code = error?.grpc_code ?? error?.code;
  if (typeof code === 'number') throw new GatewayError(code, fieldText(error?.message ?? error?.error));
  // No such path: an etcd without the gateway, a grpc-proxy, or not etcd; retrying will not add it.
  if (status === 404) throw new GatewayMissingError(endpoint, path);
  // Go's answer to plain HTTP on a TLS port (endpoint-check.ts makes it an EtcdEndpointError).
  // Anything else not etcd's JSON (a proxy in between, a server starting): treat as unreachable.
  throw new Error(`unexpected answer: HTTP ${status} ${text.trim().slice(0, 200)}`);
}

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const utf8 = (field: unknown) => (typeof field === 'string' ? Buffer.from(field, 'base64').toString('utf8') : '');
/**
 * A JSON field as text: a string as it is (int64s, lease ids among them, are strings in the
 * gateway's JSON), a missing one as `absent`, anything else as JSON (never "[object Object]").
 */
const fieldText = (field: unknown, absent = ''): string => (field === undefined || field === null ? absent : typeof field === 'string' ? field : JSON.stringify(field));
const revisionOf = (res: Json) => BigInt(((res.header as Json | undefined)?.revision as string | undefined) ?? '0');

/** The gateway omits zero values: no `lease` is lease 0, no `value` an empty value. */
function toKeyValue(kv: Json): KeyValue {
  return { key: utf8(kv.key), value: utf8(kv.value), modRevision: BigInt((kv.mod_revision as string | undefined) ?? '0'), lease: fieldText(kv.lease, '0') };
}
