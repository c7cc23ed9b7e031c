import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type FileMetadata, PodMetadataProvider, restartNumber } from './file-metadata.js';
import { PodCache } from './pod-cache.js';
import { allowedAnnotations, deploymentOf, podMetadata } from './pod-metadata.js';

const cid = (c: string) => c.repeat(64);

function pod(
  name: string,
  uid: string,
  o: {
    namespace?: string;
    rv?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    owner?: { kind: string; name: string };
    containerId?: string;
    restartCount?: number;
  } = {},
) {
  return {
    metadata: {
      name,
      namespace: o.namespace ?? 'kubearmor',
      uid,
      resourceVersion: o.rv ?? '1',
      labels: o.labels,
      annotations: o.annotations,
      ownerReferences:
        o.owner === undefined
          ? undefined
          : [
              { kind: 'Node', name: 'not-the-controller' },
              { ...o.owner, controller: true, apiVersion: 'apps/v1', uid: 'x' },
            ],
      managedFields: [{ manager: 'kubectl', fieldsV1: { big: 'x'.repeat(1000) } }],
    },
    spec: {
      nodeName: 'node-1',
      containers: [{ name: 'relay', image: 'kubearmor/kubearmor-relay-server:v1.4' }],
    },
    status: {
      podIP: '10.0.0.7',
      containerStatuses:
        o.containerId === undefined
          ? undefined
          : [
              {
                name: 'relay',
                containerID: `containerd://${o.containerId}`,
                image: 'docker.io/kubearmor/kubearmor-relay-server:v1.4',
                restartCount: o.restartCount ?? 0,
              },
            ],
    },
  };
}

test('a pod keeps only the fields documents carry; the controller owner and its Deployment', () => {
  const m = podMetadata(
    pod('relay-7d4b9c8f5d-x2x4k', 'u1', {
      labels: { app: 'relay', 'app.kubernetes.io/name': 'relay', 'pod-template-hash': '7d4b9c8f5d' },
      annotations: {
        'prometheus.io/port': '9090',
        'kubectl.kubernetes.io/last-applied-configuration': '{…}',
      },
      owner: { kind: 'ReplicaSet', name: 'relay-7d4b9c8f5d' },
      containerId: cid('a'),
    }),
    ['prometheus.io/*'],
  );
  assert.deepEqual(m, {
    uid: 'u1',
    namespace: 'kubearmor',
    name: 'relay-7d4b9c8f5d-x2x4k',
    resourceVersion: '1',
    ip: '10.0.0.7',
    nodeName: 'node-1',
    labels: { app: 'relay', 'app.kubernetes.io/name': 'relay', 'pod-template-hash': '7d4b9c8f5d' },
    annotations: { 'prometheus.io/port': '9090' },
    owner: { kind: 'ReplicaSet', name: 'relay-7d4b9c8f5d' },
    deployment: 'relay',
    containers: [
      { name: 'relay', image: 'kubearmor/kubearmor-relay-server:v1.4', id: cid('a'), restartCount: 0 },
    ],
  });
  assert.equal(podMetadata({ metadata: { name: 'no-uid', namespace: 'x' } }, []), undefined);
  assert.equal(podMetadata(null, []), undefined);
});

test('Deployment only from a ReplicaSet whose name ends in the pod-template-hash', () => {
  const hash = { 'pod-template-hash': 'abc12' };
  assert.equal(deploymentOf({ kind: 'ReplicaSet', name: 'web-abc12' }, hash), 'web');
  assert.equal(deploymentOf({ kind: 'ReplicaSet', name: 'web-zzz99' }, hash), undefined);
  assert.equal(deploymentOf({ kind: 'ReplicaSet', name: '-abc12' }, hash), undefined);
  assert.equal(deploymentOf({ kind: 'ReplicaSet', name: 'web-abc12' }, {}), undefined);
  assert.equal(deploymentOf({ kind: 'StatefulSet', name: 'web-abc12' }, hash), undefined);
});

test('the annotation allow-list takes exact keys and prefixes ending in *', () => {
  const a = { 'a.io/x': '1', 'a.io/y': '2', b: '3', bb: '4' };
  assert.deepEqual(allowedAnnotations(a, ['a.io/*', 'b']), { 'a.io/x': '1', 'a.io/y': '2', b: '3' });
  assert.equal(allowedAnnotations(a, []), undefined);
  assert.equal(allowedAnnotations(a, ['c']), undefined);
});

test('restart number from the pod log file name, rotated or not', () => {
  assert.equal(restartNumber('/var/log/pods/ns_p_u/c/0.log'), 0);
  assert.equal(restartNumber('/var/log/pods/ns_p_u/c/3.log.20240726-104000.gz'), 3);
  assert.equal(restartNumber('/var/log/containers/p_ns_c-abc.log'), undefined);
});

const podPath = (uid: string, restart = 0) =>
  [`/var/log/pods/kubearmor_relay-7d4b9c8f5d-x2x4k_${uid}/relay/${restart}.log`] as const;

function file(provider: PodMetadataProvider, uid: string, restart = 0): FileMetadata {
  const [p] = podPath(uid, restart);
  return provider.forFile(p, p);
}

test('a file gets the pod from the cache, or its path fields with the reason they are partial', () => {
  const cache = new PodCache(1000);
  const provider = new PodMetadataProvider(cache, undefined);
  const f = file(provider, 'u1');
  assert.deepEqual(f.current()?.metadata, { partial: true, reason: 'api_unavailable' });
  cache.setHealth('forbidden');
  assert.deepEqual(f.current()?.metadata, { partial: true, reason: 'api_forbidden' });
  cache.setHealth('synced');
  assert.deepEqual(f.current()?.metadata, { partial: true, reason: 'pod_not_found' });
  assert.equal(f.current()?.namespace, 'kubearmor');

  cache.upsert(
    podMetadata(
      pod('relay-7d4b9c8f5d-x2x4k', 'u1', {
        labels: { app: 'relay', 'pod-template-hash': '7d4b9c8f5d' },
        owner: { kind: 'ReplicaSet', name: 'relay-7d4b9c8f5d' },
        containerId: cid('b'),
      }),
      [],
    ) as NonNullable<ReturnType<typeof podMetadata>>,
  );
  const full = f.current();
  assert.deepEqual(full, {
    namespace: 'kubearmor',
    pod: { name: 'relay-7d4b9c8f5d-x2x4k', uid: 'u1', ip: '10.0.0.7' },
    node: { name: 'node-1' },
    container: { name: 'relay', id: cid('b'), image: 'kubearmor/kubearmor-relay-server:v1.4' },
    labels: { app: 'relay', 'pod-template-hash': '7d4b9c8f5d' },
    owner: { kind: 'ReplicaSet', name: 'relay-7d4b9c8f5d' },
    deployment: { name: 'relay' },
  });
  // Unchanged cache: the very same object (no work per record).
  assert.equal(f.current(), full);
  // The file of an earlier run of the container does not get the current run's id.
  const earlier = file(provider, 'u1', 1).current() as { container: { id?: string } };
  assert.equal(earlier.container.id, undefined);
});

test('a deleted pod stays while a file holds it, then goes after its grace', () => {
  const cache = new PodCache(1000);
  const provider = new PodMetadataProvider(cache, undefined);
  cache.setHealth('synced');
  for (const uid of ['held', 'free'])
    cache.upsert(podMetadata(pod(`p-${uid}`, uid), []) as NonNullable<ReturnType<typeof podMetadata>>);
  const held = file(provider, 'held');
  assert.equal(held.current()?.metadata, undefined);
  cache.markDeleted('held', 0);
  cache.markDeleted('free', 0);
  assert.deepEqual(cache.sizes(), { live: 0, deleted: 2 });
  assert.equal(cache.evict(500), 0, 'within the grace');
  assert.equal(cache.evict(5000), 1, 'the pod no file holds goes');
  assert.equal(held.current()?.metadata, undefined, 'the held one still answers');
  assert.equal((held.current() as { pod: { name: string } }).pod.name, 'p-held');
  held.release();
  assert.equal(cache.evict(5000), 1);
  assert.deepEqual(cache.sizes(), { live: 0, deleted: 0 });
  assert.deepEqual(file(provider, 'held').current()?.metadata, { partial: true, reason: 'pod_not_found' });
});

test('a relist marks pods missing from it deleted; the same resourceVersion changes nothing', () => {
  const cache = new PodCache(1000);
  const meta = (uid: string, rv = '1') =>
    podMetadata(pod(`p-${uid}`, uid, { rv }), []) as NonNullable<ReturnType<typeof podMetadata>>;
  cache.replace([meta('a'), meta('b')], 0);
  const v = cache.version;
  cache.upsert(meta('a'));
  assert.equal(cache.version, v);
  cache.upsert(meta('a', '2'));
  assert.equal(cache.version, v + 1);
  cache.replace([meta('a', '2')], 10);
  assert.deepEqual(cache.sizes(), { live: 1, deleted: 1 });
  assert.equal(cache.find({ namespace: 'kubearmor', name: 'p-b' }), undefined, 'names are for live pods');
  assert.equal(cache.find({ uid: 'b' })?.deletedAt, 10);
});
