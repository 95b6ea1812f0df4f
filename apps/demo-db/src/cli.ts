import { COMMON_USAGE, type CommonArgs, UsageError, parseCommonArgs } from '@cluster-control/demo-shared';

export interface DbArgs extends CommonArgs {
  id: string;
}

export const USAGE = `usage: node apps/demo-db/dist/main.js [options]
A database stand-in: answers GET / with {"id", "name"}; registered as <prefix>/dbserver/HOST:PORT.
  --id ID            the id it answers (default db-<last octet of host>-<port>)
${COMMON_USAGE}`;

// eslint-disable-next-line no-control-regex -- an id is one printable line: control characters are what it refuses
const ID = /^[^\u0000-\u001f\u007f]{1,100}$/;

/** The id used when --id is not given: "db-" + the host's last octet (or label) + "-" + port. */
export function defaultId(host: string, port: number): string {
  const last = host.includes(':') ? host.split(':').at(-1) || '0' : (host.split('.').at(-1) ?? host);
  return `db-${last}-${port}`;
}

export function parseDbArgs(argv: readonly string[], env: NodeJS.ProcessEnv): 'help' | DbArgs {
  const parsed = parseCommonArgs(argv, env, { id: { type: 'string' } });
  if (parsed === 'help') return 'help';
  const { common, extra } = parsed;
  const id = extra.id ?? defaultId(common.host, common.port);
  // Any printable text up to 100 characters: the other apps treat it as untrusted data anyway.
  if (!ID.test(id)) throw new UsageError(`--id: expected 1 to 100 printable characters, got ${JSON.stringify(id)}`);
  return { ...common, id };
}
