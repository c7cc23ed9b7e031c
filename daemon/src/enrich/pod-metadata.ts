// What the shipper keeps of a pod from the Kubernetes API: only the fields documents carry, never
// the whole object (a pod with its managedFields is 5–20 KB; this is a few hundred bytes).
// Works on both shapes the client gives: watch events (plain JSON) and list items (its models,
// which use the same property names).

export interface ContainerInfo {
  name: string;
  /** Runtime id without the `containerd://` scheme, when the container has started. */
  id?: string;
  /** How many times it restarted: the log file `<n>.log` of a restart count n is this container's. */
  restartCount?: number;
  image?: string;
}

export interface PodMetadata {
  uid: string;
  namespace: string;
  name: string;
  resourceVersion: string;
  ip?: string;
  nodeName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  owner?: { kind: string; name: string };
  /** The Deployment behind a ReplicaSet owner, from the pod-template-hash label. */
  deployment?: string;
  containers: ContainerInfo[];
}

type Json = Record<string, unknown>;

function obj(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function stringMap(value: unknown): Record<string, string> | undefined {
  const o = obj(value);
  if (o === undefined) return undefined;
  const out: Record<string, string> = {};
  let any = false;
  for (const key in o) {
    const v = o[key];
    if (typeof v === 'string') {
      out[key] = v;
      any = true;
    }
  }
  return any ? out : undefined;
}

/**
 * Keys of `annotations` the allow-list admits: exact keys, or prefixes ending in `*`
 * (`prometheus.io/*`). Annotations are often large (last-applied-configuration), hence opt-in.
 */
export function allowedAnnotations(
  annotations: Record<string, string> | undefined,
  allowList: readonly string[],
): Record<string, string> | undefined {
  if (annotations === undefined || allowList.length === 0) return undefined;
  const out: Record<string, string> = {};
  let any = false;
  for (const key in annotations) {
    for (const allowed of allowList) {
      const match = allowed.endsWith('*') ? key.startsWith(allowed.slice(0, -1)) : key === allowed;
      if (match) {
        out[key] = annotations[key] as string;
        any = true;
        break;
      }
    }
  }
  return any ? out : undefined;
}

/** `containerd://abc…` → `abc…` */
export function runtimeContainerId(value: unknown): string | undefined {
  const id = str(value);
  if (id === undefined) return undefined;
  const scheme = id.indexOf('://');
  return scheme >= 0 ? id.slice(scheme + 3) : id;
}

/**
 * The Deployment a ReplicaSet-owned pod belongs to: the Deployment controller names ReplicaSets
 * `<deployment>-<pod-template-hash>` and labels their pods with that hash. No ReplicaSet watch.
 */
export function deploymentOf(
  owner: { kind: string; name: string } | undefined,
  labels: Record<string, string> | undefined,
): string | undefined {
  if (owner?.kind !== 'ReplicaSet') return undefined;
  const hash = labels?.['pod-template-hash'];
  if (hash === undefined || hash === '') return undefined;
  const suffix = `-${hash}`;
  if (!owner.name.endsWith(suffix) || owner.name.length === suffix.length) return undefined;
  return owner.name.slice(0, -suffix.length);
}

/** The fields kept of a pod object, or undefined if it lacks a uid, namespace or name. */
export function podMetadata(pod: unknown, annotationAllowList: readonly string[]): PodMetadata | undefined {
  const p = obj(pod);
  const meta = obj(p?.metadata);
  const uid = str(meta?.uid);
  const namespace = str(meta?.namespace);
  const name = str(meta?.name);
  if (uid === undefined || namespace === undefined || name === undefined) return undefined;
  const spec = obj(p?.spec);
  const status = obj(p?.status);
  const out: PodMetadata = {
    uid,
    namespace,
    name,
    resourceVersion: str(meta?.resourceVersion) ?? '',
    containers: [],
  };
  const ip = str(status?.podIP);
  if (ip !== undefined) out.ip = ip;
  const nodeName = str(spec?.nodeName);
  if (nodeName !== undefined) out.nodeName = nodeName;
  const labels = stringMap(meta?.labels);
  if (labels !== undefined) out.labels = labels;
  const annotations = allowedAnnotations(stringMap(meta?.annotations), annotationAllowList);
  if (annotations !== undefined) out.annotations = annotations;
  const owners = Array.isArray(meta?.ownerReferences) ? meta.ownerReferences : [];
  let owner: { kind: string; name: string } | undefined;
  for (const ref of owners) {
    const r = obj(ref);
    const kind = str(r?.kind);
    const ownerName = str(r?.name);
    if (kind === undefined || ownerName === undefined) continue;
    // The controlling owner wins; otherwise the first one.
    if (r?.controller === true || owner === undefined) owner = { kind, name: ownerName };
    if (r?.controller === true) break;
  }
  if (owner !== undefined) {
    out.owner = owner;
    const deployment = deploymentOf(owner, labels);
    if (deployment !== undefined) out.deployment = deployment;
  }
  const byName = new Map<string, ContainerInfo>();
  for (const field of ['initContainers', 'containers', 'ephemeralContainers']) {
    const list = spec?.[field];
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      const cname = str(obj(c)?.name);
      if (cname === undefined) continue;
      const info: ContainerInfo = { name: cname };
      const image = str(obj(c)?.image);
      if (image !== undefined) info.image = image;
      byName.set(cname, info);
    }
  }
  for (const field of ['initContainerStatuses', 'containerStatuses', 'ephemeralContainerStatuses']) {
    const list = status?.[field];
    if (!Array.isArray(list)) continue;
    for (const s of list) {
      const st = obj(s);
      const cname = str(st?.name);
      if (cname === undefined) continue;
      let info = byName.get(cname);
      if (info === undefined) {
        info = { name: cname };
        byName.set(cname, info);
      }
      const id = runtimeContainerId(st?.containerID);
      if (id !== undefined) info.id = id;
      if (typeof st?.restartCount === 'number') info.restartCount = st.restartCount;
      // The spec's image is what the user wrote and filters on; the status has the resolved one.
      if (info.image === undefined) {
        const image = str(st?.image);
        if (image !== undefined) info.image = image;
      }
    }
  }
  out.containers = [...byName.values()];
  return out;
}
