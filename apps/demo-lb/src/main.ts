#!/usr/bin/env node
import { join } from 'node:path';
import { type EtcdConnection, superviseHttpServer } from '@cluster-control/core';
import { connectEtcd } from '@cluster-control/core/etcd';
import { DEFAULT_STATUS_PREFIX } from '@cluster-control/core/status';
import { json } from '@cluster-control/handlers';
import { dataDir, runApp, supervision } from '@cluster-control/demo-shared';
import { USAGE, parseLbArgs } from './cli.js';
import { LbApp } from './app.js';
import { FleetReader } from './fleet.js';

// Registered as <prefix>/loadbalancer/HOST:PORT once /healthz answers; watches <prefix>/webserver
// into <data-dir>/webservers.json and reads it again after each replacement. The page's fleet
// table: what every watcher of <prefix>/webserver and <prefix>/dbserver published under the
// status prefix, read on a connection of its own.
await runApp('demo-lb', USAGE, parseLbArgs, async (args, logger) => {
  const data = await dataDir(args, 'demo-lb');
  let conn: EtcdConnection | undefined;
  let reader: FleetReader | undefined;
  const sources = [
    { name: 'webservers', path: `${args.prefix}/webserver` },
    { name: 'dbservers', path: `${args.prefix}/dbserver` },
  ];
  try {
    const file = join(data.dir, 'webservers.json');
    const read = async () => {
      conn ??= await connectEtcd({ endpoints: args.etcd, timeoutMs: 2_000 });
      reader ??= new FleetReader(conn, sources, DEFAULT_STATUS_PREFIX);
      return reader.read();
    };
    const app = new LbApp(args.name, file, logger, { read, statusPrefix: DEFAULT_STATUS_PREFIX });
    const { exitCode } = await superviseHttpServer({
      etcd: { endpoints: args.etcd },
      self: { key: `${args.prefix}/loadbalancer/${args.name}`, value: '{}', ttl: args.ttl },
      clusters: [
        { target: { name: 'webservers', path: `${args.prefix}/webserver`, file, handler: json, handlerOptions: json.parseOptions({ format: 'objects' }), checkTimeoutMs: 10_000, minMembers: 0 } },
      ],
      server: { host: args.host, port: args.port, handler: app.handler, onStart: () => app.start(), onStop: () => app.stop(), onReload: () => app.load() },
      ...supervision(args),
      logger,
    });
    return exitCode;
  } finally {
    conn?.close();
    await data.dispose();
  }
});
