import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pathMetadata } from './path-metadata.js';

const id = '7fcbaca15b7462c1c81635e51d312edcc92e943b339879e56c9a0da7d5c26489';

test('the kubelet symlink and the pod directory together give namespace, pod, uid, container and id', () => {
  assert.deepEqual(
    pathMetadata(
      `/var/log/containers/kubearmor-relay-6b9d8c7f5-x2x4k_kubearmor_kubearmor-relay-server-${id}.log`,
      '/var/log/pods/kubearmor_kubearmor-relay-6b9d8c7f5-x2x4k_bbf7deb1-5333-4909-89b7-e012def3a17e/kubearmor-relay-server/0.log',
    ),
    {
      namespace: 'kubearmor',
      pod: { name: 'kubearmor-relay-6b9d8c7f5-x2x4k', uid: 'bbf7deb1-5333-4909-89b7-e012def3a17e' },
      container: { name: 'kubearmor-relay-server', id },
      metadata: { partial: true, reason: 'path_only' },
    },
  );
});

test('a rotated or gzipped file in the pod directory, alone', () => {
  const m = pathMetadata(
    '/var/log/pods/ns_pod-a_uid-1/ctr/0.log.20240726-104000.gz',
    '/var/log/pods/ns_pod-a_uid-1/ctr/0.log.20240726-104000.gz',
  );
  assert.deepEqual(m, {
    namespace: 'ns',
    pod: { name: 'pod-a', uid: 'uid-1' },
    container: { name: 'ctr' },
    metadata: { partial: true, reason: 'path_only' },
  });
});

test('docker json-file paths give the container id; other paths nothing', () => {
  assert.deepEqual(
    pathMetadata(
      `/var/lib/docker/containers/${id}/${id}-json.log`,
      `/var/lib/docker/containers/${id}/${id}-json.log`,
    )?.container,
    { id },
  );
  assert.equal(pathMetadata('/tmp/relay.log', '/tmp/relay.log'), undefined);
  assert.equal(
    pathMetadata('/var/log/containers/not_a_kubelet-name.log', '/var/log/containers/not_a_kubelet-name.log'),
    undefined,
  );
});
