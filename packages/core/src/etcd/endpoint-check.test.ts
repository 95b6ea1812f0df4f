import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkEndpoint, endpointErrorFromText, hostPort, worthProbing } from './endpoint-check.js';
import { EtcdAccessError, EtcdEndpointError, EtcdUnavailableError } from './errors.js';

const OPENSSL_PLAIN_ANSWER = 'write EPROTO 80FCA1F9F17F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:';
const TLS_CUT = 'Client network socket disconnected before secure TLS connection was established';

describe('endpointErrorFromText', () => {
  it("knows OpenSSL's verdict on a plain answer to TLS, and Go's answer to plain HTTP on a TLS port", () => {
    const plain = endpointErrorFromText('https://127.0.0.1:2379', OPENSSL_PLAIN_ANSWER, true);
    expect(plain?.message).toBe('https://127.0.0.1:2379: etcd answered plain HTTP to a TLS connection (use http:// without etcd.tls, or configure etcd for TLS)');
    expect(endpointErrorFromText('https://h:2379', '14 UNAVAILABLE: No connection established. Last error: Error: 1:error:0A0000C6:SSL routines::packet length too long', true)).toBeInstanceOf(
      EtcdEndpointError,
    );
    const tls = endpointErrorFromText('http://h:2379', 'unexpected answer: HTTP 400 Client sent an HTTP request to an HTTPS server.', false);
    expect(tls?.message).toBe('http://h:2379: etcd expects TLS and was spoken to in plain HTTP (use https:// with etcd.tls.ca, or configure etcd without TLS)');
  });

  it('leaves outages and ambiguous cuts alone', () => {
    for (const text of ['connect ECONNREFUSED 127.0.0.1:2379', 'no answer within 5000 ms (deadline exceeded)', TLS_CUT, 'socket hang up']) {
      expect(endpointErrorFromText('https://h:2379', text, true)).toBeUndefined();
      expect(endpointErrorFromText('http://h:2379', text, false)).toBeUndefined();
    }
  });
});

describe('worthProbing', () => {
  it('probes cut connections only, never a refused or silent one', () => {
    expect(worthProbing(TLS_CUT, true)).toBe(true);
    expect(worthProbing('socket hang up', false)).toBe(true);
    expect(worthProbing('14 UNAVAILABLE: No connection established. Last error: Protocol error (2026-01-01T00:00:00.000Z).', false)).toBe(true);
    expect(worthProbing('14 UNAVAILABLE: No connection established. Last error: Failed to connect (2026-01-01T00:00:00.000Z).', false)).toBe(true);
    expect(worthProbing('connect ECONNREFUSED 127.0.0.1:2379', false)).toBe(false);
    expect(worthProbing('connect ECONNREFUSED 127.0.0.1:2379', true)).toBe(false);
    expect(worthProbing('no answer within 5000 ms (deadline exceeded)', true)).toBe(false);
  });
});

describe('hostPort', () => {
  it('reads endpoints as both clients do', () => {
    expect(hostPort('http://127.0.0.1:2379')).toEqual({ host: '127.0.0.1', port: 2379 });
    expect(hostPort('https://etcd.example')).toEqual({ host: 'etcd.example', port: 2379 });
    expect(hostPort('[::1]:23790')).toEqual({ host: '::1', port: 23790 });
  });
});

describe('EtcdEndpointError', () => {
  it('is permanent: an access error (every retry loop stops on those), never an outage', () => {
    const err = new EtcdEndpointError('x');
    expect(err).toBeInstanceOf(EtcdAccessError);
    expect(err).not.toBeInstanceOf(EtcdUnavailableError);
    expect(err.name).toBe('EtcdEndpointError');
  });
});

describe('checkEndpoint (probes real local servers)', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  const listen = async (server: { listen: (port: number, host: string, cb: () => void) => void; address: () => unknown; close: () => void }) => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => server.close());
    return (server.address() as AddressInfo).port;
  };

  it('a TLS connection cut by a server that answers plain HTTP: a mismatch', async () => {
    const port = await listen(createHttpServer((_, res) => res.end('{"etcdserver":"3.4.23"}')));
    const err = await checkEndpoint(`https://127.0.0.1:${port}`, TLS_CUT, { secure: true });
    expect(err?.message).toBe(`https://127.0.0.1:${port}: etcd answered plain HTTP to a TLS connection (use http:// without etcd.tls, or configure etcd for TLS)`);
  });

  it('a TLS connection cut where nothing answers (etcd restarting): an outage', async () => {
    // A port that accepts and closes at once: neither TLS nor HTTP.
    const port = await listen(createTcpServer((socket) => socket.destroy()));
    expect(await checkEndpoint(`https://127.0.0.1:${port}`, TLS_CUT, { secure: true })).toBeUndefined();
  });

  it('gRPC refused by a server that speaks only HTTP/1: not an etcd client URL', async () => {
    const port = await listen(createHttpServer((_, res) => ((res.statusCode = 404), res.end('nope'))));
    const err = await checkEndpoint(`http://127.0.0.1:${port}`, '14 UNAVAILABLE: No connection established. Last error: Protocol error (2026-01-01T00:00:00.000Z).', { secure: false });
    expect(err?.message).toBe(`http://127.0.0.1:${port}: not an etcd client URL: it answers HTTP (404 to GET /version) but not etcd's gRPC; check etcd.endpoints`);
  });

  it('a plain connection reset by a server that does not speak TLS: an outage', async () => {
    const port = await listen(createTcpServer((socket) => socket.destroy()));
    expect(await checkEndpoint(`http://127.0.0.1:${port}`, 'socket hang up', { secure: false })).toBeUndefined();
  });
});
