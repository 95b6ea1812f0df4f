import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { type ServerProcess, haveServer, startServer } from './server-process.js';

export const APACHE_BIN = process.env.APACHE_BIN ?? '/usr/sbin/apache2';
export const APACHE_MODULES = process.env.APACHE_MODULES ?? '/usr/lib/apache2/modules';

/** Whether tests that need Debian's apache2 should run (see haveServer). */
export const haveApache = haveServer(APACHE_BIN);

const MODULES = ['mpm_event', 'authz_core', 'proxy', 'proxy_http', 'proxy_balancer', 'slotmem_shm', 'lbmethod_byrequests'];

export interface ApacheSetup {
  /** The main config (what /etc/apache2/apache2.conf is on a Debian host). */
  readonly conf: string;
  readonly port: number;
  readonly errorLog: string;
  /**
   * For apache2ctl: an envvars file of its own (instead of /etc/apache2/envvars), so that
   * apache2ctl creates its run and lock directories in `dir`, not under /var.
   */
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Writes a minimal, self-contained apache2 main config into `dir`: the proxy modules, one
 * `Listen` on loopback, every runtime file in `dir`, and `includes` (config files) at the end.
 */
export async function writeApacheConf(dir: string, port: number, includes: string[]): Promise<ApacheSetup> {
  const root = process.getuid?.() === 0;
  const conf = join(dir, 'apache2.conf');
  const errorLog = join(dir, 'error.log');
  await writeFile(
    conf,
    [
      `ServerRoot "${dir}"`,
      ...MODULES.map((m) => `LoadModule ${m}_module ${APACHE_MODULES}/mod_${m}.so`),
      'ServerName localhost',
      `Listen 127.0.0.1:${port}`,
      `PidFile "${join(dir, 'apache2.pid')}"`,
      `ErrorLog "${errorLog}"`,
      'LogLevel warn',
      `DefaultRuntimeDir "${dir}"`,
      `Mutex file:${dir} default`,
      // Apache refuses to serve as root; its children drop to www-data.
      ...(root ? ['User www-data', 'Group www-data'] : []),
      ...includes.map((file) => `Include "${file}"`),
      '',
    ].join('\n'),
  );
  const user = userInfo().username;
  const envvars = join(dir, 'envvars');
  await writeFile(
    envvars,
    [
      `export APACHE_RUN_USER=${root ? 'www-data' : user}`,
      `export APACHE_RUN_GROUP=${root ? 'www-data' : user}`,
      `export APACHE_RUN_DIR=${join(dir, 'run')}`,
      `export APACHE_LOCK_DIR=${join(dir, 'lock')}`,
      `export APACHE_LOG_DIR=${dir}`,
      `export APACHE_PID_FILE=${join(dir, 'apache2.pid')}`,
      '',
    ].join('\n'),
  );
  return { conf, port, errorLog, env: { APACHE_ENVVARS: envvars } };
}

/** apache2 in the foreground (`-DFOREGROUND`) on the setup's config, once it listens. */
export async function startApache(setup: ApacheSetup): Promise<ServerProcess> {
  return startServer(APACHE_BIN, ['-f', setup.conf, '-DFOREGROUND'], { host: '127.0.0.1', port: setup.port }, { name: 'apache2' });
}

/** Runs a command; resolves with its exit code and combined output (never rejects on a non-zero exit). */
export function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; output: string }> {
  const [command, ...args] = argv;
  return new Promise((resolve, reject) => {
    execFile(command!, args, { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- it is an Error: @types/node declares ExecFileException via Omit<>, which hides that from the rule
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? Number(err.code) : 0, output: `${stdout}${stderr}` });
    });
  });
}

/** One GET on a fresh connection (no keep-alive: each request sees the current server generation). */
export function get(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET http://127.0.0.1:${port}${path} timed out`)));
    req.end();
  });
}
