/**
 * TLS problems, told apart from an unreachable etcd. gRPC reports a failed handshake as
 * UNAVAILABLE ("No connection established. Last error: …"), exactly like a server that is down,
 * so without this a wrong CA or a missing client certificate would be retried until a timeout,
 * with OpenSSL's text as the only hint.
 */

/** Certificate checks of etcd's certificate that failed (Node's verification messages). */
const SERVER_CERTIFICATE =
  /unable to verify the first certificate|unable to get (?:local )?issuer certificate|self[- ]signed certificate(?: in certificate chain)?|certificate has expired|certificate is not yet valid|certificate signature failure|unsupported certificate purpose/i;
const NAME_MISMATCH = /Hostname\/IP does not match certificate's altnames/i;
/** TLS alerts etcd sends when it does not accept this client's certificate (or gets none). */
const CLIENT_CERTIFICATE_ALERT = /\b(?:sslv3|tlsv1\d*) alert (bad certificate|certificate required|unknown ca|certificate unknown|certificate expired|certificate revoked|unsupported certificate)\b/i;

/**
 * An operator's description of a certificate failure in a gRPC error's text, or undefined when
 * the text shows none. Only certificate verdicts count: a handshake the network cut short
 * ("socket disconnected before secure TLS connection was established", as while etcd restarts)
 * is an outage, not a configuration error.
 */
export function describeTlsFailure(text: string): string | undefined {
  const server = SERVER_CERTIFICATE.exec(text);
  if (server) return `TLS: etcd's certificate is not trusted (${server[0]}); etcd.tls.ca must be the CA that signed it`;
  if (NAME_MISMATCH.test(text)) return "TLS: the endpoint's host is not among the names in etcd's certificate; use an address or name the certificate lists";
  const alert = CLIENT_CERTIFICATE_ALERT.exec(text);
  if (alert) {
    return `TLS: etcd refused this client's certificate (alert: ${alert[1]!.toLowerCase()}); etcd.tls.cert and etcd.tls.key must be a certificate signed by a CA etcd trusts, and its key`;
  }
  return undefined;
}

let ipServerNameWarningQuiet = false;

/**
 * gRPC passes an IP endpoint's address as the TLS server name, and Node prints a two-line
 * DeprecationWarning (DEP0123) to stderr about it at the first connection. The address is still
 * checked against the certificate's IP SANs; only that warning is dropped.
 */
export function quietIpServerNameWarning(): void {
  if (ipServerNameWarningQuiet) return;
  ipServerNameWarningQuiet = true;
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = (...args: unknown[]) => {
    const options = args[1];
    const code = typeof options === 'object' && options !== null ? (options as { code?: unknown }).code : args[2];
    if (code === 'DEP0123') return;
    emitWarning(...args);
  };
}
