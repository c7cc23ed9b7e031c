// The three calls the pod watch makes (list pods, watch pods, read a namespace), over node:https
// with the connection of kubernetes-connection.ts. @kubernetes/client-node is loaded only for a
// kubeconfig that authenticates through an exec plugin or an auth provider: it costs ~40 MB
// resident and ~0.6 s of CPU to import, more than the shipper's whole working set.
import type { IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import { delimiter } from 'node:path';
import {
  inClusterConnection,
  type KubernetesConnection,
  kubeconfigConnection,
  kubeconfigPath,
} from './kubernetes-connection.js';
import type { PodApi } from './pod-reflector.js';

export interface KubernetesApi {
  /** The API server's URL, for logs. */
  server: string;
  pods: PodApi;
  namespaceLabels(namespace: string): Promise<Record<string, string> | undefined>;
}

export interface KubernetesApiOptions {
  /** A kubeconfig file; without it: $KUBECONFIG, ~/.kube/config, then the in-cluster account. */
  kubeconfig?: string | undefined;
  /** Calls other than the watch give up after this long. */
  requestTimeoutMs: number;
  /** Where the in-cluster account's token and CA are (tests point it elsewhere). */
  serviceAccountDir?: string;
}

/** Does this process have a way to reach an API server without being told one? */
export function kubernetesConfigured(env: NodeJS.ProcessEnv): boolean {
  return (env.KUBERNETES_SERVICE_HOST ?? '') !== '' || (env.KUBECONFIG ?? '') !== '';
}

function withTimeout<T>(call: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}

export async function connectKubernetesApi(
  options: KubernetesApiOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KubernetesApi> {
  const path = kubeconfigPath(options.kubeconfig, env);
  // Several files in $KUBECONFIG are merged by client-node's rules: left to it, like plugins.
  const connection =
    path === undefined
      ? inClusterConnection(env, options.serviceAccountDir)
      : path.includes(delimiter)
        ? 'plugin'
        : await kubeconfigConnection(path);
  return connection === 'plugin' ? clientNodeApi(options, path) : httpApi(connection, options);
}

/** A failed call, with the HTTP status the reflector and the metrics read. */
function apiError(what: string, statusCode: number, body: string): Error {
  let message = body.slice(0, 300);
  try {
    message = (JSON.parse(body) as { message?: string }).message ?? message;
  } catch {
    // not a Status object
  }
  return Object.assign(new Error(`${what}: HTTP ${statusCode}: ${message}`), { statusCode });
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

export function httpApi(connection: KubernetesConnection, options: KubernetesApiOptions): KubernetesApi {
  const agent = new Agent({
    keepAlive: true,
    ca: connection.ca,
    cert: connection.cert,
    key: connection.key,
    rejectUnauthorized: connection.verify,
  });
  const headers = (): Record<string, string> => {
    const token = connection.token();
    return {
      accept: 'application/json',
      'user-agent': 'kubearmor-shipper',
      ...(token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` }),
    };
  };
  /**
   * Starts a GET; resolves with the response once its status is 200, rejects otherwise. The
   * socket may idle `timeoutMs` at most — for a stream, only until its response starts.
   */
  const get = (what: string, path: string, timeoutMs: number, stream: boolean) =>
    new Promise<{ res: IncomingMessage; abort: () => void }>((resolve, reject) => {
      const req = request(`${connection.server}${path}`, { agent, headers: headers() }, (res) => {
        if (stream) req.setTimeout(0);
        if (res.statusCode === 200) return resolve({ res, abort: () => req.destroy() });
        readBody(res).then(
          (body) => reject(apiError(what, res.statusCode ?? 0, body)),
          (err: unknown) => reject(err),
        );
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${what}: no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  const getJson = async (what: string, path: string): Promise<unknown> => {
    const { res } = await get(what, path, options.requestTimeoutMs, false);
    return JSON.parse(await readBody(res));
  };
  return {
    server: connection.server,
    pods: {
      async list(fieldSelector, resourceVersion) {
        const query = new URLSearchParams({ fieldSelector });
        if (resourceVersion !== undefined) query.set('resourceVersion', resourceVersion);
        const body = (await getJson('pod list', `/api/v1/pods?${query}`)) as {
          items?: unknown[];
          metadata?: { resourceVersion?: string };
        };
        return { items: body.items ?? [], resourceVersion: body.metadata?.resourceVersion ?? '' };
      },
      async watch(params, onEvent, onDone) {
        const query = new URLSearchParams({
          watch: 'true',
          fieldSelector: params.fieldSelector,
          resourceVersion: params.resourceVersion,
          allowWatchBookmarks: String(params.allowWatchBookmarks),
          timeoutSeconds: String(params.timeoutSeconds),
        });
        // Once it streams, the server ends the watch after timeoutSeconds and the reflector's
        // watchdog ends one that goes silent.
        const { res, abort } = await get(
          'pod watch',
          `/api/v1/pods?${query}`,
          options.requestTimeoutMs,
          true,
        );
        let done = false;
        const finish = (err: unknown) => {
          if (done) return;
          done = true;
          onDone(err);
        };
        // One JSON event per line; a line may span chunks.
        let partial: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          let from = 0;
          for (let nl = chunk.indexOf(10); nl >= 0 && !done; nl = chunk.indexOf(10, from)) {
            const piece = chunk.subarray(from, nl);
            const line = partial.length === 0 ? piece : Buffer.concat([...partial, piece]);
            partial = [];
            from = nl + 1;
            if (line.length === 0) continue;
            let event: { type?: unknown; object?: unknown };
            try {
              event = JSON.parse(line.toString('utf8')) as typeof event;
            } catch (err) {
              abort();
              finish(err);
              return;
            }
            onEvent(String(event.type), event.object);
          }
          if (from < chunk.length) partial.push(chunk.subarray(from));
        });
        res.on('end', () => finish(null));
        res.on('error', (err) => finish(err));
        res.on('close', () => finish(new Error('pod watch: connection closed')));
        return {
          abort() {
            abort();
            finish(new Error('pod watch: aborted'));
          },
        };
      },
    },
    async namespaceLabels(namespace) {
      const ns = (await getJson('namespace read', `/api/v1/namespaces/${encodeURIComponent(namespace)}`)) as {
        metadata?: { labels?: Record<string, string> };
      };
      return ns.metadata?.labels;
    },
  };
}

/** Through client-node, for kubeconfigs with exec plugins, auth providers or several files. */
async function clientNodeApi(
  options: KubernetesApiOptions,
  path: string | undefined,
): Promise<KubernetesApi> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  if (path !== undefined && !path.includes(delimiter)) kc.loadFromFile(path);
  else kc.loadFromDefault();
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('no Kubernetes cluster in the configuration');
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const watch = new k8s.Watch(kc);
  return {
    server,
    pods: {
      async list(fieldSelector, resourceVersion) {
        const body = await withTimeout(
          core.listPodForAllNamespaces(
            resourceVersion === undefined ? { fieldSelector } : { fieldSelector, resourceVersion },
          ),
          options.requestTimeoutMs,
          'pod list',
        );
        return { items: body.items, resourceVersion: body.metadata?.resourceVersion ?? '' };
      },
      async watch(params, onEvent, onDone) {
        const controller = await watch.watch('/api/v1/pods', { ...params }, onEvent, onDone);
        return { abort: () => controller.abort() };
      },
    },
    async namespaceLabels(namespace) {
      const ns = await withTimeout(
        core.readNamespace({ name: namespace }),
        options.requestTimeoutMs,
        'namespace read',
      );
      return ns.metadata?.labels;
    },
  };
}
