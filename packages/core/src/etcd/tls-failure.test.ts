import { describe, expect, it } from 'vitest';
import { describeTlsFailure } from './tls-failure.js';

// The texts are what the CLI saw from gRPC against a real etcd with --client-cert-auth.
describe('describeTlsFailure', () => {
  it('names a server certificate the configured CA does not vouch for', () => {
    const text = '14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate.';
    expect(describeTlsFailure(text)).toBe("TLS: etcd's certificate is not trusted (unable to verify the first certificate); etcd.tls.ca must be the CA that signed it");
    expect(describeTlsFailure('Last error: Error: self-signed certificate in certificate chain.')).toMatch(/not trusted \(self-signed certificate in certificate chain\)/);
    expect(describeTlsFailure('Last error: Error: certificate has expired.')).toMatch(/not trusted \(certificate has expired\)/);
  });

  it('names a host missing from the certificate', () => {
    const text =
      "14 UNAVAILABLE: No connection established. Last error: Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: IP: 127.0.0.2 is not in the cert's list: 127.0.0.1.";
    expect(describeTlsFailure(text)).toMatch(/endpoint's host is not among the names in etcd's certificate/);
  });

  it("names etcd's refusal of the client certificate", () => {
    const text =
      '14 UNAVAILABLE: No connection established. Last error: 806C6540E67F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42 (2026-11-25T17:02:14.654Z).';
    expect(describeTlsFailure(text)).toBe(
      "TLS: etcd refused this client's certificate (alert: bad certificate); etcd.tls.cert and etcd.tls.key must be a certificate signed by a CA etcd trusts, and its key",
    );
    expect(describeTlsFailure('SSL routines::tlsv13 alert certificate required:SSL alert number 116')).toMatch(/alert: certificate required/);
    expect(describeTlsFailure('SSL routines::tlsv1 alert unknown ca:SSL alert number 48')).toMatch(/alert: unknown ca/);
  });

  it('leaves outages alone: they are retried', () => {
    for (const text of [
      '14 UNAVAILABLE: No connection established. Last error: Error: Client network socket disconnected before secure TLS connection was established.',
      '14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2379.',
      '14 UNAVAILABLE: No connection established. Last error: Failed to connect (2026-11-25T17:03:09.154Z).',
      '4 DEADLINE_EXCEEDED: Deadline exceeded',
      'etcdserver: permission denied',
    ]) {
      expect(describeTlsFailure(text)).toBeUndefined();
    }
  });
});
