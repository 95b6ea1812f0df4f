/**
 * Tells a misconfigured endpoint from an unreachable etcd, after a call failed. Both clients see
 * a TLS-vs-plain mismatch as a connection cut short, exactly as while etcd restarts: an https://
 * endpoint against a plain etcd ends in "socket disconnected before secure TLS connection was
 * established", an http:// endpoint against a TLS etcd in a reset ("socket hang up", gRPC's
 * "Failed to connect"). Retrying those for the command's whole timeout only hides the cause.
 *
 * Some answers say it outright (OpenSSL's "wrong version number": a plain server answered the
 * TLS hello). For the ambiguous ones one probe decides, and only after such a failure: a plain
 * HTTP request where TLS failed, a TLS hello where plain failed. An etcd that is down or
 * restarting answers neither, so the failure stays an outage to retry.
 */
import { request as httpRequest } from 'node:http';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { EtcdEndpointError } from './errors.js';

/** OpenSSL's verdicts on a non-TLS answer to a TLS hello. */
const PLAIN_ANSWER_TO_TLS = /wrong version number|packet length too long|unknown protocol|record layer failure/i;
/** Go's answer to plain HTTP on a TLS port (net/http servers; etcd 3.4's own listener just resets). */
const TLS_REQUIRED_ANSWER = /Client sent an HTTP request to an HTTPS server/i;
/** A TLS connection cut before the handshake completed. */
const TLS_CUT = /socket disconnected before secure TLS connection was established|ECONNRESET|socket hang up/i;
/** A plain connection cut or refused at the protocol level (gRPC's texts and node's). */
const PLAIN_CUT = /socket hang up|ECONNRESET|Failed to connect|Connection dropped|Protocol error/i;
/** grpc-js: the server does not speak HTTP/2 (an HTTP/1-only server on the port). */
const NOT_HTTP2 = /Protocol error/i;

export interface EndpointCheckOptions {
  /** Whether the client spoke TLS to this endpoint (https://, or etcd.tls configured). */
  secure: boolean;
  /** Bound of each probe; default 1 s. */
  timeoutMs?: number;
}

/** An answer that no retry can fix, as a pure function of the error's text; undefined when the text alone does not tell. */
export function endpointErrorFromText(endpoint: string, text: string, secure: boolean): EtcdEndpointError | undefined {
  if (secure && PLAIN_ANSWER_TO_TLS.test(text)) return plainAnswerToTls(endpoint);
  if (TLS_REQUIRED_ANSWER.test(text)) return tlsRequired(endpoint);
  return undefined;
}

/** Whether a failure's text is one that a probe can tell apart (and so worth one). */
export function worthProbing(text: string, secure: boolean): boolean {
  return secure ? TLS_CUT.test(text) : PLAIN_CUT.test(text);
}

/**
 * The endpoint error behind a failed call's `text`, or undefined when the failure may be an
 * outage. Probes the endpoint at most once (plain HTTP or a TLS hello), only for failures that
 * look like a cut connection.
 */
export async function checkEndpoint(endpoint: string, text: string, options: EndpointCheckOptions): Promise<EtcdEndpointError | undefined> {
  const { secure } = options;
  const direct = endpointErrorFromText(endpoint, text, secure);
  if (direct || !worthProbing(text, secure)) return direct;
  const timeoutMs = options.timeoutMs ?? 1_000;
  const { host, port } = hostPort(endpoint);
  if (secure) {
    const plain = await probePlainHttp(host, port, timeoutMs);
    return plain && !plain.tlsRequired ? plainAnswerToTls(endpoint) : undefined;
  }
  if (await probeTls(host, port, timeoutMs)) return tlsRequired(endpoint);
  if (NOT_HTTP2.test(text)) {
    const plain = await probePlainHttp(host, port, timeoutMs);
    if (plain && !plain.tlsRequired) {
      return new EtcdEndpointError(`${endpoint}: not an etcd client URL: it answers HTTP (${plain.status} to GET /version) but not etcd's gRPC; check etcd.endpoints`);
    }
  }
  return undefined;
}

const plainAnswerToTls = (endpoint: string) => new EtcdEndpointError(`${endpoint}: etcd answered plain HTTP to a TLS connection (use http:// without etcd.tls, or configure etcd for TLS)`);
const tlsRequired = (endpoint: string) => new EtcdEndpointError(`${endpoint}: etcd expects TLS and was spoken to in plain HTTP (use https:// with etcd.tls.ca, or configure etcd without TLS)`);

/** Host and port of an endpoint as both clients read it (no scheme: http; no port: 2379). */
export function hostPort(endpoint: string): { host: string; port: number } {
  const url = new URL(/^[a-z]+:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 2379) };
}

/** Does a plain HTTP request get an HTTP answer? `tlsRequired`: the answer was Go's "use HTTPS". */
function probePlainHttp(host: string, port: number, timeoutMs: number): Promise<{ status: number; tlsRequired: boolean } | undefined> {
  return new Promise((resolve) => {
    const req = httpRequest({ host, port, path: '/version', method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      const done = () => resolve({ status: res.statusCode ?? 0, tlsRequired: TLS_REQUIRED_ANSWER.test(body) });
      res.on('end', done);
      res.on('error', done);
    });
    req.on('timeout', () => req.destroy(new Error('probe timed out')));
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** Does the server complete (or at least take part in) a TLS handshake? Certificates are not checked: only the protocol. */
function probeTls(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host, port, rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) });
    const finish = (speaksTls: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(speaksTls);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('secureConnect', () => finish(true));
    // A TLS alert (a client certificate required, no shared cipher) is still a TLS server;
    // a non-TLS answer or a reset is not.
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      finish(code.startsWith('ERR_SSL_') && !PLAIN_ANSWER_TO_TLS.test(`${err.message} ${code.replace(/_/g, ' ')}`));
    });
  });
}
