/**
 * Every place where cluster-control reaches into the `etcd3` client beyond its documented API.
 * Written against etcd3 1.1.2, the version pinned exactly in packages/core/package.json; check
 * each patch against lib/connection-pool.js before changing that pin
 * (etcd3-patches.integration.test.ts fails if the pool's shape changes under the second one).
 *
 * The known gaps of etcd3 and where each is covered:
 * - stream auth tokens never refreshed: etcd3 drops a rejected token for unary calls only, so a
 *   watch or keepalive stream opened after the token expired fails for ever. Patched here:
 *   `invalidateAuthToken`.
 * - no auto-recovery from compaction, watch `create()` hanging while etcd is down, `dialTimeout`
 *   doing nothing: not patched. grpc-connection.ts avoids etcd3's Watcher and Lease helpers (raw
 *   watch and keepalive streams, with a deadline on watch creation and compaction as a
 *   CompactedError) and gives every unary call a deadline of its own.
 *
 * Two more behaviours of etcd3 are switched off here, as they made an outage worse:
 * - its retries and circuit breaker (`withoutRetries`);
 * - closing every channel to a host, with every stream on them, when one call fails
 *   (`keepChannelsOnCallErrors`).
 */
import type { Etcd3, IOptions } from 'etcd3';

type FaultHandling = NonNullable<IOptions['faultHandling']>;

/**
 * etcd3's `faultHandling` option with no retries and no circuit breaker: retries and failover are
 * ours to decide (grpc-connection.ts), and etcd3's breaker would fail every call for 5 s after
 * three errors, even once etcd is back. The policy object stands in for a cockatiel policy, of
 * which etcd3 calls only `execute` (and `.catch` on its result).
 */
export function withoutRetries(): FaultHandling {
  // Must return a promise even when fn throws: etcd3 calls `.catch` on the result.
  const noRetry = {
    execute: <T>(fn: (context: { signal: AbortSignal }) => T) => new Promise<Awaited<T>>((resolve) => resolve(fn({ signal: new AbortController().signal }) as Awaited<T>)),
  } as unknown as NonNullable<FaultHandling['global']>;
  return { global: noRetry, host: () => noRetry };
}

/**
 * Forgets the client's cached auth token, so the next call or stream authenticates again. etcd3
 * does this itself when a unary call's token is rejected, never for a stream.
 */
export function invalidateAuthToken(client: Etcd3): void {
  const pool = (client as unknown as { pool?: { authenticator?: { invalidateMetadata?: () => void } } }).pool;
  pool?.authenticator?.invalidateMetadata?.();
}

/**
 * etcd3 closes every gRPC channel to a host, with every watch and keepalive stream on them,
 * whenever one call fails with an error it deems recoverable: a missed deadline, etcd's "too many
 * requests". One slow read then broke every watch of the process, whose re-reads were slow again:
 * 10k registrations in one process kept dropping their streams (bench/, scale suite). So the
 * channels are only closed when their connection is gone anyway (fresh channels then reconnect at
 * once, where grpc's own backoff may wait seconds), never while it is up; close() still closes
 * them. This replaces methods of the pool's Host objects, as that class is in 1.1.2.
 */
export function keepChannelsOnCallErrors(client: Etcd3): void {
  type Channel = { getConnectivityState(connect: boolean): number };
  type Host = { resetAllServices(): void; close(): void; closed: boolean; cachedServices: Record<string, { getChannel(): Channel } | undefined> };
  const READY = 2; // grpc.connectivityState.READY
  const hosts = (client as unknown as { pool?: { hosts?: Host[] } }).pool?.hosts;
  for (const host of hosts ?? []) {
    const closeChannels = host.resetAllServices.bind(host);
    host.resetAllServices = () => {
      const connected = Object.values(host.cachedServices).some((service) => service?.getChannel().getConnectivityState(false) === READY);
      if (!connected) closeChannels();
    };
    host.close = () => {
      closeChannels();
      host.closed = true;
    };
  }
}
