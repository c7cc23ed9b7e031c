// The `kubernetes.*` object of a file's documents: what its path says, completed from the pod
// cache when the pod watch runs. Computed once and reused for every document of the file until the
// cache (or the namespace labels) change: the per-record cost is two number comparisons.
import type { NamespaceLabels } from './namespace-labels.js';
import { type PathMetadata, pathMetadata } from './path-metadata.js';
import type { PodCache, PodHolder } from './pod-cache.js';
import type { ContainerInfo, PodMetadata } from './pod-metadata.js';

export interface FileMetadata {
  /** The `kubernetes` object for the file's next document; the same object while nothing changed. */
  current(): Record<string, unknown> | undefined;
  /** The file is done (read and acknowledged): its pod no longer needs to be kept for it. */
  release(): void;
}

export interface FileMetadataProvider {
  forFile(path: string, realPath: string): FileMetadata;
}

/** Without the pod watch: the path-derived fields, marked partial. */
export const pathOnlyMetadata: FileMetadataProvider = {
  forFile(path, realPath) {
    const fields = pathMetadata(path, realPath) as Record<string, unknown> | undefined;
    return { current: () => fields, release: () => undefined };
  },
};

/** `…/<container>/<n>.log[.<time>[.gz]]` → n, the container's restart count when it wrote it. */
export function restartNumber(realPath: string): number | undefined {
  const name = realPath.slice(realPath.lastIndexOf('/') + 1);
  const dot = name.indexOf('.log');
  if (dot <= 0) return undefined;
  const n = Number(name.slice(0, dot));
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

export type PartialReason = 'path_only' | 'api_unavailable' | 'api_forbidden' | 'pod_not_found';

export class PodMetadataProvider implements FileMetadataProvider {
  constructor(
    private readonly cache: PodCache,
    private readonly namespaceLabels: NamespaceLabels | undefined,
  ) {}

  forFile(path: string, realPath: string): FileMetadata {
    const fromPath = pathMetadata(path, realPath);
    if (fromPath === undefined) return { current: () => undefined, release: () => undefined };
    const handle = new PodFileMetadata(this.cache, this.namespaceLabels, fromPath, restartNumber(realPath));
    this.cache.hold(handle);
    return handle;
  }
}

class PodFileMetadata implements FileMetadata, PodHolder {
  private seenVersion = -1;
  private seenLabelsVersion = -1;
  private value: Record<string, unknown> | undefined;
  private uid: string | undefined;

  constructor(
    private readonly cache: PodCache,
    private readonly namespaceLabels: NamespaceLabels | undefined,
    private readonly fromPath: PathMetadata,
    private readonly restart: number | undefined,
  ) {}

  heldUid(): string | undefined {
    return this.uid;
  }

  release(): void {
    this.cache.letGo(this);
  }

  current(): Record<string, unknown> | undefined {
    const labelsVersion = this.namespaceLabels?.version ?? 0;
    if (this.cache.version === this.seenVersion && labelsVersion === this.seenLabelsVersion)
      return this.value;
    this.seenVersion = this.cache.version;
    this.seenLabelsVersion = labelsVersion;
    const p = this.fromPath;
    const entry = this.cache.find({
      uid: p.pod?.uid,
      namespace: p.namespace,
      name: p.pod?.name,
      containerId: p.container?.id,
    });
    if (entry === undefined) {
      this.value = { ...p, metadata: { partial: true, reason: this.missingReason() } };
      return this.value;
    }
    this.uid = entry.meta.uid;
    this.value = this.fromPod(entry.meta);
    return this.value;
  }

  private missingReason(): PartialReason {
    switch (this.cache.health) {
      case 'synced':
        return 'pod_not_found';
      case 'forbidden':
        return 'api_forbidden';
      default:
        return 'api_unavailable';
    }
  }

  private fromPod(m: PodMetadata): Record<string, unknown> {
    const p = this.fromPath;
    const pod: Record<string, unknown> = { name: m.name, uid: m.uid };
    if (m.ip !== undefined) pod.ip = m.ip;
    const out: Record<string, unknown> = { namespace: m.namespace, pod };
    if (m.nodeName !== undefined) out.node = { name: m.nodeName };
    const containerName = p.container?.name;
    let info: ContainerInfo | undefined;
    for (const c of m.containers) {
      if (c.name === containerName || (containerName === undefined && c.id === p.container?.id)) info = c;
    }
    const container: Record<string, unknown> = {};
    const name = containerName ?? info?.name;
    if (name !== undefined) container.name = name;
    // The path's id is this file's; the API's is the container's current run, the same only when
    // the file's restart number matches.
    const id =
      p.container?.id ??
      (info?.id !== undefined && (this.restart === undefined || info.restartCount === this.restart)
        ? info.id
        : undefined);
    if (id !== undefined) container.id = id;
    if (info?.image !== undefined) container.image = info.image;
    out.container = container;
    if (m.labels !== undefined) out.labels = m.labels;
    if (m.annotations !== undefined) out.annotations = m.annotations;
    if (m.owner !== undefined) out.owner = m.owner;
    if (m.deployment !== undefined) out.deployment = { name: m.deployment };
    if (this.namespaceLabels !== undefined) {
      const labels = this.namespaceLabels.get(m.namespace);
      if (labels !== undefined && Object.keys(labels).length > 0) out.namespace_labels = labels;
    }
    return out;
  }
}
