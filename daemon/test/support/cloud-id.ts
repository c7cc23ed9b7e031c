// Cloud IDs that lead to this machine: Elastic Cloud's names are <service-id>.<host>, and
// "127.0" + "." + "0.1" is 127.0.0.1, so the shipper's own decoding reaches a local server.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The Cloud ID whose Elasticsearch and Kibana (either may be left out) are 127.0.0.1:`port`. */
export function loopbackCloudId(port: number, services: { es: boolean; kibana: boolean }): string {
  const decoded = `0.1:${port}$${services.es ? '127.0' : ''}$${services.kibana ? '127.0' : ''}`;
  return `local-test:${Buffer.from(decoded).toString('base64')}`;
}

/** A self-signed certificate for 127.0.0.1 (openssl), its own CA, written into `dir`. */
export async function loopbackCertificate(
  dir: string,
): Promise<{ key: string; cert: string; certFile: string }> {
  const keyFile = join(dir, 'loopback.key');
  const certFile = join(dir, 'loopback.crt');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), certFile };
}
