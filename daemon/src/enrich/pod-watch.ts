// The enrichment stage's running part: the API connection, the reflector filling the pod cache,
// optional namespace labels, and the periodic clean-up of deleted pods no file needs any more.
import type { ShipperConfig } from '../config/shipper-config.js';
import type { Logger } from '../log/logger.js';
import type { Counters } from '../metrics/counters.js';
import { Backoff } from '../ship/backoff.js';
import { type FileMetadataProvider, PodMetadataProvider, pathOnlyMetadata } from './file-metadata.js';
import { connectKubernetesApi, type KubernetesApi, kubernetesConfigured } from './kubernetes-api.js';
import { NamespaceLabels } from './namespace-labels.js';
import { PodCache } from './pod-cache.js';
import { PodReflector } from './pod-reflector.js';

export interface PodWatchState {
  enabled: boolean;
  /** The watch is connected now. */
  watching: boolean;
  /** Seconds since the last event, bookmark or connection. */
  secondsSinceActivity: number;
  pods: { live: number; deleted: number };
  namespaces: number;
}

export interface PodWatch {
  provider: FileMetadataProvider;
  /** Resolves once the first list arrived or the configured wait is over (never rejects). */
  ready: Promise<void>;
  state(): PodWatchState;
  stop(): Promise<void>;
}

const DISABLED: PodWatch = {
  provider: pathOnlyMetadata,
  ready: Promise.resolve(),
  state: () => ({
    enabled: false,
    watching: false,
    secondsSinceActivity: 0,
    pods: { live: 0, deleted: 0 },
    namespaces: 0,
  }),
  stop: async () => undefined,
};

export function podWatchWanted(config: ShipperConfig, env: NodeJS.ProcessEnv): boolean {
  const k = config.kubernetes;
  if (k.metadata === 'auto') return k.kubeconfig !== undefined || kubernetesConfigured(env);
  return k.metadata === 'on';
}

/** Starts the pod watch if the configuration wants it; a failure to configure leaves it off. */
export async function startPodWatch(
  config: ShipperConfig,
  logger: Logger,
  counters: Counters,
  env: NodeJS.ProcessEnv = process.env,
  connect: () => Promise<KubernetesApi> = () =>
    connectKubernetesApi({
      kubeconfig: config.kubernetes.kubeconfig,
      requestTimeoutMs: config.kubernetes.requestTimeoutMs,
    }),
): Promise<PodWatch> {
  const k = config.kubernetes;
  if (!podWatchWanted(config, env)) {
    logger.info('pod metadata from the Kubernetes API is off: documents carry what their paths say');
    return DISABLED;
  }
  let api: KubernetesApi;
  try {
    api = await connect();
  } catch (err) {
    logger.error(
      { error: (err as Error).message },
      'cannot configure the Kubernetes client: documents carry what their paths say',
    );
    return DISABLED;
  }
  const cache = new PodCache(k.deletedPodGraceSeconds * 1000);
  const namespaceLabels = k.namespaceLabels.enabled
    ? new NamespaceLabels(api.namespaceLabels, {
        ttlMs: k.namespaceLabels.ttlSeconds * 1000,
        negativeTtlMs: k.namespaceLabels.negativeTtlSeconds * 1000,
        perSecond: k.namespaceLabels.perSecond,
        onFetch: (outcome) => counters.inc('namespace_label_fetches', outcome),
      })
    : undefined;
  let lastErrorLog = 0;
  const reflector = new PodReflector(api.pods, cache, {
    nodeName: config.nodeName,
    annotations: k.annotations,
    watchTimeoutSeconds: k.watchTimeoutSeconds,
    backoff: new Backoff(config.retry.initialMs, config.retry.maxMs),
    onList: (pods) => {
      counters.inc('kubernetes_lists');
      logger.info({ pods, node: config.nodeName }, 'pods of this node listed');
    },
    onReconnect: (reason) => counters.inc('kubernetes_watch_reconnects', reason),
    onError: (err, attempt, status) => {
      counters.inc('kubernetes_api_errors', status === undefined ? 'request' : String(status));
      // One line per problem, then at most one every 30 s while it lasts.
      if (attempt === 0 || Date.now() - lastErrorLog > 30_000) {
        lastErrorLog = Date.now();
        logger.warn(
          { attempt, status, error: (err as Error)?.message ?? String(err) },
          status === 401 || status === 403
            ? 'the Kubernetes API refuses the pod list/watch: check the ClusterRole; shipping goes on with path metadata'
            : 'pod watch failed; retrying with backoff, shipping goes on with cached metadata',
        );
      }
    },
  });
  logger.info({ server: api.server, node: config.nodeName }, 'starting the pod watch');
  reflector.start();
  const housekeeping = setInterval(
    () => {
      cache.evict(Date.now());
      namespaceLabels?.refresh(cache.namespaces());
    },
    Math.min(10_000, k.deletedPodGraceSeconds * 1000),
  );
  housekeeping.unref();
  const ready = reflector.waitForSync(k.initialSyncTimeoutMs).then((synced) => {
    if (!synced)
      logger.warn(
        { waitedMs: k.initialSyncTimeoutMs },
        'no pod list yet: reading starts anyway, documents are marked partial until it arrives',
      );
  });
  return {
    provider: new PodMetadataProvider(cache, namespaceLabels),
    ready,
    state: () => ({
      enabled: true,
      watching: reflector.watching,
      secondsSinceActivity: reflector.lastActivity === 0 ? 0 : (Date.now() - reflector.lastActivity) / 1000,
      pods: cache.sizes(),
      namespaces: namespaceLabels?.size ?? 0,
    }),
    async stop() {
      clearInterval(housekeeping);
      namespaceLabels?.stop();
      await reflector.stop();
    },
  };
}
