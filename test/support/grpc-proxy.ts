import { ETCD_BIN, freePort } from './etcd-server.js';
import { type ServerProcess, startServer } from './server-process.js';

export interface GrpcProxy {
  /** The proxy's client URL (http://127.0.0.1:port): gRPC only, no JSON gateway. */
  readonly endpoint: string;
  readonly process: ServerProcess;
  stop(): Promise<void>;
}

/**
 * `etcd grpc-proxy start` in front of `endpoints` (the etcd binary's own proxy: it coalesces
 * watches and lease keepalives of all its clients into one stream each to etcd). Its HTTP side
 * has no gateway: /v3/ paths answer 404.
 */
export async function startGrpcProxy(endpoints: readonly string[], options: { host?: string } = {}): Promise<GrpcProxy> {
  const host = options.host ?? '127.0.0.1';
  const port = await freePort(host);
  const target = endpoints.map((e) => e.replace(/^https?:\/\//, '')).join(',');
  const proc = await startServer(ETCD_BIN, ['grpc-proxy', 'start', `--endpoints=${target}`, `--listen-addr=${host}:${port}`], { host, port }, { name: 'etcd grpc-proxy' });
  return { endpoint: `http://${host}:${port}`, process: proc, stop: () => proc.stop() };
}
