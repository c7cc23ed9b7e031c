// Access to the real kube-apiserver the test command started (scripts/kube-apiserver.sh start sets
// TEST_KUBECONFIG to its admin kubeconfig), and more servers on the same etcd for tests that
// stop and restart one.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

export function testKubeconfig(): string {
  const path = process.env.TEST_KUBECONFIG;
  if (!path) {
    throw new Error(
      'TEST_KUBECONFIG is not set: run the suite with `npm test`, or `bash scripts/kube-apiserver.sh start --keep` and export the path it prints',
    );
  }
  return path;
}

export function adminConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testKubeconfig());
  return kc;
}

function runDir(): string {
  return dirname(testKubeconfig());
}

/** The CA that signed the test servers' certificates (they share --cert-dir). */
export function caFile(): string {
  return join(runDir(), 'certs', 'apiserver.crt');
}

export async function writeKubeconfig(path: string, server: string, token: string): Promise<string> {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server, 'certificate-authority': caFile() } }],
    users: [{ name: 'user', user: { token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'user' } }],
    'current-context': 'test',
  };
  await writeFile(path, JSON.stringify(config), { mode: 0o600 });
  return path;
}

/** Ignores "already exists" so tests can run again against a server kept running. */
export async function createIfAbsent(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

/**
 * Creates the objects of a manifest file (or dry-runs them with `dryRun: 'All'`), of `kinds` only if
 * given, in `namespace` instead of the file's if given.
 */
export async function applyManifest(
  kc: k8s.KubeConfig,
  file: string,
  dryRun?: 'All',
  kinds?: readonly string[],
  namespace?: string,
): Promise<k8s.KubernetesObject[]> {
  const api = k8s.KubernetesObjectApi.makeApiClient(kc);
  const out: k8s.KubernetesObject[] = [];
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const spec = doc.toJS() as (k8s.KubernetesObject & { subjects?: k8s.RbacV1Subject[] }) | null;
    if (spec === null || (kinds !== undefined && !kinds.includes(spec.kind ?? ''))) continue;
    if (namespace !== undefined) {
      // Moved whole into another namespace, bindings included, so concurrent runs never meet.
      if (spec.metadata?.namespace !== undefined) spec.metadata.namespace = namespace;
      for (const s of spec.subjects ?? []) if (s.kind === 'ServiceAccount') s.namespace = namespace;
    }
    if (dryRun === undefined) await createIfAbsent(() => api.create(spec));
    else out.push(await api.create(spec, undefined, dryRun));
  }
  return out;
}

/** A kube-apiserver of our own on `port`, sharing the test etcd and certificates. */
/** A port free now (the system's pick, released at once), for a server that cannot be given 0. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export class ApiServer {
  private child: ChildProcess | undefined;
  readonly url: string;

  constructor(readonly port: number) {
    this.url = `https://127.0.0.1:${port}`;
  }

  async start(): Promise<void> {
    const dir = runDir();
    const bin = readFileSync(join(dir, 'apiserver.bin'), 'utf8').trim();
    const args = readFileSync(join(dir, 'apiserver.args'), 'utf8').split('\n').filter(Boolean);
    this.child = spawn(bin, [...args, `--secure-port=${this.port}`], { stdio: 'ignore' });
    const token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: this.url, caFile: caFile() }],
      users: [{ name: 'u', token }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const core = kc.makeApiClient(k8s.CoreV1Api);
    for (let i = 0; i < 120; i++) {
      if (this.child.exitCode !== null) throw new Error(`kube-apiserver on ${this.port} exited`);
      const ok = await core.listNamespace({ limit: 1 }).then(
        () => true,
        () => false,
      );
      if (ok) return;
      await sleep(500);
    }
    throw new Error(`kube-apiserver on ${this.port} not ready in 60 s`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
