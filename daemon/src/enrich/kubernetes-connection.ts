// Where the Kubernetes API is and how to authenticate, for the pod watch, without
// @kubernetes/client-node: importing that package costs ~40 MB resident and ~0.6 s of CPU in every
// shipper (its configuration module pulls in every generated API model), while a DaemonSet needs
// only the in-cluster service account. Covered here: the in-cluster account (token re-read as
// the kubelet rotates it) and kubeconfig files with a token, a token file or a client certificate.
// A kubeconfig that authenticates through an exec plugin or an auth provider (cloud CLIs, OIDC)
// is left to client-node (see kubernetes-api.ts).
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Bound service-account tokens are refreshed by the kubelet well before they expire (1 h+). */
const TOKEN_REREAD_MS = 60_000;

export interface KubernetesConnection {
  /** `https://host:port`, no trailing slash. */
  server: string;
  ca: Buffer | undefined;
  cert: Buffer | undefined;
  key: Buffer | undefined;
  /** Verify the server's certificate (off only when the kubeconfig says insecure-skip-tls-verify). */
  verify: boolean;
  /** The bearer token for the next request, if the user has one. */
  token(): string | undefined;
}

/** The kubeconfig to use: the option, else $KUBECONFIG, else ~/.kube/config if present. */
export function kubeconfigPath(option: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (option !== undefined) return option;
  const fromEnv = env.KUBECONFIG ?? '';
  if (fromEnv !== '') return fromEnv;
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  try {
    return statSync(home).isFile() ? home : undefined;
  } catch {
    return undefined;
  }
}

/** A token read from a file, again once it is a minute old. */
function fileToken(path: string, now: () => number): () => string {
  let token = '';
  let readAt = Number.NEGATIVE_INFINITY;
  return () => {
    if (now() - readAt >= TOKEN_REREAD_MS) {
      token = readFileSync(path, 'utf8').trim();
      readAt = now();
    }
    return token;
  };
}

/** The pod's own service account: what a DaemonSet runs with. */
export function inClusterConnection(
  env: NodeJS.ProcessEnv,
  dir = SERVICE_ACCOUNT_DIR,
  now: () => number = Date.now,
): KubernetesConnection {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '';
  if (host === '' || port === '')
    throw new Error(
      'not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set, and no kubeconfig was given',
    );
  const token = fileToken(join(dir, 'token'), now);
  token(); // fail now, not at the first request, if there is none
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: readFileSync(join(dir, 'ca.crt')),
    cert: undefined,
    key: undefined,
    verify: true,
    token,
  };
}

interface Named<T> {
  name?: string;
  cluster?: T;
  user?: T;
  context?: T;
}

/**
 * The current context of a kubeconfig file, or 'plugin' when its user authenticates through an
 * exec plugin or an auth provider (client-node's job).
 */
export async function kubeconfigConnection(
  path: string,
  now: () => number = Date.now,
): Promise<KubernetesConnection | 'plugin'> {
  // Loaded when a kubeconfig is read (tests, runs outside a cluster), not in every start.
  const { parse: parseYaml } = await import('yaml');
  const doc = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown> | null;
  if (doc === null || typeof doc !== 'object') throw new Error(`${path}: not a kubeconfig`);
  const pick = <T>(list: unknown, name: unknown, what: string): T => {
    const entry = (Array.isArray(list) ? (list as Named<T>[]) : []).find((e) => e.name === name);
    const value = entry?.cluster ?? entry?.user ?? entry?.context;
    if (value === undefined) throw new Error(`${path}: no ${what} named ${String(name)}`);
    return value;
  };
  const context = pick<{ cluster?: string; user?: string }>(doc.contexts, doc['current-context'], 'context');
  const cluster = pick<Record<string, unknown>>(doc.clusters, context.cluster, 'cluster');
  const user =
    context.user === undefined ? {} : pick<Record<string, unknown>>(doc.users, context.user, 'user');
  if (user.exec !== undefined || user['auth-provider'] !== undefined) return 'plugin';
  // Relative file names are relative to the kubeconfig's directory.
  const base = resolve(path, '..');
  const bytes = (data: unknown, file: unknown): Buffer | undefined => {
    if (typeof data === 'string' && data !== '') return Buffer.from(data, 'base64');
    if (typeof file === 'string' && file !== '')
      return readFileSync(isAbsolute(file) ? file : join(base, file));
    return undefined;
  };
  const server = cluster.server;
  if (typeof server !== 'string' || server === '') throw new Error(`${path}: the cluster has no server`);
  let token: () => string | undefined = () => undefined;
  if (typeof user.token === 'string' && user.token !== '') {
    const value = user.token;
    token = () => value;
  } else if (typeof user.tokenFile === 'string' && user.tokenFile !== '') {
    const file = user.tokenFile;
    token = fileToken(isAbsolute(file) ? file : join(base, file), now);
  }
  return {
    server: server.replace(/\/+$/, ''),
    ca: bytes(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: bytes(user['client-certificate-data'], user['client-certificate']),
    key: bytes(user['client-key-data'], user['client-key']),
    verify: cluster['insecure-skip-tls-verify'] !== true,
    token,
  };
}
