import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ServerProcess, haveServer, startServer } from './server-process.js';

export const NGINX_BIN = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

/** Whether integration tests that need nginx should run (see haveServer). */
export const haveNginx = haveServer(NGINX_BIN);

/**
 * Writes `dir/nginx.conf`: a main config that keeps everything nginx writes (pid, logs, temp
 * files) inside `dir` and includes `httpIncludes` in its `http` block. Because the pid file is in
 * the config, `nginx -c dir/nginx.conf -s reload` signals the nginx started from it.
 */
export async function writeNginxMainConf(dir: string, httpIncludes: string[]): Promise<string> {
  const temp = join(dir, 'nginx-temp');
  await mkdir(temp, { recursive: true });
  // Workers run as nobody when the tests run as root: they must be able to reach the temp paths.
  await chmod(dir, 0o755);
  const file = join(dir, 'nginx.conf');
  const paths = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((p) => `    ${p}_temp_path ${join(temp, p)};`);
  await writeFile(
    file,
    [
      `pid ${join(dir, 'nginx.pid')};`,
      'error_log stderr notice;',
      'worker_processes 1;',
      'events {}',
      'http {',
      '    access_log off;',
      ...paths,
      ...httpIncludes.map((f) => `    include ${f};`),
      '}',
      '',
    ].join('\n'),
  );
  return file;
}

/** Runs nginx in the foreground on `confFile` until something listens on host:port. */
export async function startNginx(options: { confFile: string; port: number; host?: string }): Promise<ServerProcess> {
  return startServer(NGINX_BIN, ['-c', options.confFile, '-g', 'daemon off;'], { host: options.host ?? '127.0.0.1', port: options.port }, { name: 'nginx' });
}
