import { afterAll, beforeAll } from 'vitest';
import { type EtcdServer, type StartEtcdOptions, startEtcd } from './etcd-server.js';

/**
 * One etcd and one client of it for the enclosing `describe`: started in beforeAll, closed and
 * removed in afterAll. `connect` is the caller's (core's own tests connect with the source, not
 * the built package, so errors stay the classes they import); `ready` hands both over.
 */
export function useEtcdConnection<C extends { close(): void }>(
  connect: (endpoint: string) => C | Promise<C>,
  ready: (started: { etcd: EtcdServer; conn: C }) => void,
  options: StartEtcdOptions = {},
): void {
  let etcd: EtcdServer | undefined;
  let conn: C | undefined;
  beforeAll(async () => {
    etcd = await startEtcd(options);
    conn = await connect(etcd.endpoint);
    ready({ etcd, conn });
  });
  afterAll(async () => {
    conn?.close();
    await etcd?.dispose();
  });
}
