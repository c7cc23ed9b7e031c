// A second local Elasticsearch with security on (TLS, passwords, API keys), its certificates made
// by the very script the Kubernetes setup Job runs (deployments/shipper/setup-job.yaml) with
// Elasticsearch's own elasticsearch-certutil.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ownNodeEnv } from './elasticsearch.js';

const run = promisify(execFile);
const repo = join(import.meta.dirname, '..', '..', '..');
const script = join(repo, 'scripts', 'elasticsearch.sh');

/** The certificate script of the setup Job's ConfigMap. */
export async function certificateScript(): Promise<string> {
  const text = await readFile(join(repo, 'deployments', 'shipper', 'setup-job.yaml'), 'utf8');
  for (const doc of parseAllDocuments(text)) {
    const o = doc.toJS() as { kind?: string; data?: Record<string, string> } | null;
    const body = o?.kind === 'ConfigMap' ? o.data?.['make-certificates.sh'] : undefined;
    if (body !== undefined) return body;
  }
  throw new Error('no make-certificates.sh in setup-job.yaml');
}

/** Runs the Job's certificate script with the local distribution's certutil; writes into `dir`. */
export async function makeCertificates(dir: string, namespace: string): Promise<void> {
  const [home, javaHome] = (await run('bash', [script, 'home'])).stdout.trim().split('\n');
  const file = join(dir, 'make-certificates.sh');
  await writeFile(file, await certificateScript());
  await run('bash', [file, dir, namespace], {
    env: { ...process.env, PATH: `${home}/bin:${process.env.PATH}`, ES_JAVA_HOME: javaHome },
  });
}

export interface SecureElasticsearch {
  url: string;
  stop(): Promise<void>;
}

export async function startSecureElasticsearch(
  certsDir: string,
  password: string,
  port: number,
): Promise<SecureElasticsearch> {
  const env = ownNodeEnv(port, { ES_SECURE_CERTS: certsDir, ES_PASSWORD: password });
  const out = await run('bash', [script, 'start'], { env, maxBuffer: 1 << 20 });
  const url = out.stdout.trim().split('\n').at(-1) as string;
  return {
    url,
    stop: async () => {
      await run('bash', [script, 'stop'], { env });
    },
  };
}
