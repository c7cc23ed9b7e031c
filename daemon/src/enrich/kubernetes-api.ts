// The Kubernetes API through @kubernetes/client-node: it does the configuration (in-cluster
// service account with token rotation, or a kubeconfig with exec/OIDC plugins), TLS and auth.
// Loaded only when the pod watch is on: the package is large (~0.5 s to import).
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
  /** Calls other than the watch give up after this long (client-node 1.4 sets no timeout). */
  requestTimeoutMs: number;
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

export async function connectKubernetesApi(options: KubernetesApiOptions): Promise<KubernetesApi> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  if (options.kubeconfig !== undefined) kc.loadFromFile(options.kubeconfig);
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
