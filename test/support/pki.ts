import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './cli.js';

export const OPENSSL = '/usr/bin/openssl';
const run = promisify(execFile);

export interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing etcd uses. */
  wrongCa: string;
  /** A client certificate signed by the wrong CA. */
  foreignCert: string;
  foreignKey: string;
}

/** A CA, etcd's certificate (SAN IP:127.0.0.1) and client certificates, made with openssl. */
export async function makePki(prefix = 'cc-pki-'): Promise<Pki> {
  const dir = await tempDir(prefix);
  const p = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = async (name: string) => run(OPENSSL, ['req', '-x509', ...ec, '-keyout', p(`${name}-key.pem`), '-out', p(`${name}.pem`), '-days', '2', '-subj', `/CN=${name}`]);
  const cert = async (name: string, signer: string, extensions: string) => {
    await run(OPENSSL, ['req', '-new', ...ec, '-keyout', p(`${name}-key.pem`), '-out', p(`${name}.csr`), '-subj', `/CN=${name}`]);
    await writeFile(p(`${name}.ext`), extensions);
    await run(OPENSSL, [
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p(`${signer}.pem`),
      '-CAkey',
      p(`${signer}-key.pem`),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      p(`${name}.ext`),
      '-out',
      p(`${name}.pem`),
    ]);
  };
  await ca('cc-test-ca');
  await ca('cc-wrong-ca');
  await cert('etcd-server', 'cc-test-ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  await cert('cc-client', 'cc-test-ca', 'extendedKeyUsage=clientAuth\n');
  await cert('cc-foreign-client', 'cc-wrong-ca', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    ca: p('cc-test-ca.pem'),
    serverCert: p('etcd-server.pem'),
    serverKey: p('etcd-server-key.pem'),
    clientCert: p('cc-client.pem'),
    clientKey: p('cc-client-key.pem'),
    wrongCa: p('cc-wrong-ca.pem'),
    foreignCert: p('cc-foreign-client.pem'),
    foreignKey: p('cc-foreign-client-key.pem'),
  };
}
