// What a container log's path says about the container that wrote it, computed once per file:
//   /var/log/containers/<pod>_<namespace>_<container>-<container id>.log   (kubelet's symlink)
//   /var/log/pods/<namespace>_<pod>_<pod uid>/<container>/<n>.log[.<time>[.gz]]
//   /var/lib/docker/containers/<container id>/<container id>-json.log[.<n>]
// Names cannot hold `_` in Kubernetes, so splitting on it is safe. Until the pod watch (the
// enrichment issue) adds the rest, documents carry these fields marked as partial metadata.

export interface PathMetadata {
  namespace?: string;
  pod?: { name?: string; uid?: string };
  container?: { name?: string; id?: string };
  metadata: { partial: true; reason: 'path_only' };
}

const CONTAINER_ID = /^[0-9a-f]{64}$/;

function base(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function pathMetadata(matchedPath: string, realPath: string): PathMetadata | undefined {
  let namespace: string | undefined;
  let podName: string | undefined;
  let uid: string | undefined;
  let containerName: string | undefined;
  let containerId: string | undefined;
  for (const path of [matchedPath, realPath]) {
    const parts = path.split('/');
    const containers = parts.lastIndexOf('containers');
    const pods = parts.lastIndexOf('pods');
    const name = base(path);
    if (containers >= 0 && containers === parts.length - 2 && name.endsWith('.log')) {
      // <pod>_<namespace>_<container>-<id>.log
      const fields = name.slice(0, -4).split('_');
      const dash = (fields[2] ?? '').lastIndexOf('-');
      if (fields.length === 3 && dash > 0 && CONTAINER_ID.test((fields[2] as string).slice(dash + 1))) {
        podName ??= fields[0];
        namespace ??= fields[1];
        containerName ??= (fields[2] as string).slice(0, dash);
        containerId ??= (fields[2] as string).slice(dash + 1);
      }
    } else if (pods >= 0 && pods === parts.length - 4) {
      // <namespace>_<pod>_<uid>/<container>/<n>.log
      const fields = (parts[pods + 1] ?? '').split('_');
      if (fields.length === 3) {
        namespace ??= fields[0];
        podName ??= fields[1];
        uid ??= fields[2];
        containerName ??= parts[pods + 2];
      }
    } else if (
      containers >= 0 &&
      containers === parts.length - 3 &&
      CONTAINER_ID.test(parts[containers + 1] ?? '')
    ) {
      containerId ??= parts[containers + 1];
    }
  }
  if (namespace === undefined && containerId === undefined) return undefined;
  const out: PathMetadata = { metadata: { partial: true, reason: 'path_only' } };
  if (namespace !== undefined) out.namespace = namespace;
  if (podName !== undefined || uid !== undefined) {
    out.pod = {};
    if (podName !== undefined) out.pod.name = podName;
    if (uid !== undefined) out.pod.uid = uid;
  }
  if (containerName !== undefined || containerId !== undefined) {
    out.container = {};
    if (containerName !== undefined) out.container.name = containerName;
    if (containerId !== undefined) out.container.id = containerId;
  }
  return out;
}
