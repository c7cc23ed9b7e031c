// The pod watch's own client against the real kube-apiserver, on the path a DaemonSet takes: the
// in-cluster service account (host and port from the environment, token and CA from the account's
// directory), with no kubeconfig anywhere.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { connectKubernetesApi, type KubernetesApi } from '../../src/enrich/kubernetes-api.js';
import { adminConfig, caFile, createIfAbsent, testKubeconfig } from '../support/kubernetes.js';

const suffix = Date.now().toString(36);
const namespace = `kapi-${suffix}`;
const nodeName = `node-kapi-${suffix}`;
let dir: string;
let core: k8s.CoreV1Api;
let env: NodeJS.ProcessEnv;

async function accountDir(name: string, token: string): Promise<string> {
  const sa = join(dir, name);
  await (await import('node:fs/promises')).mkdir(sa);
  await writeFile(join(sa, 'token'), token);
  await copyFile(caFile(), join(sa, 'ca.crt'));
  return sa;
}

async function connect(sa: string): Promise<KubernetesApi> {
  return connectKubernetesApi({ requestTimeoutMs: 10_000, serviceAccountDir: sa }, env);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kapi-'));
  const kc = adminConfig();
  core = kc.makeApiClient(k8s.CoreV1Api);
  await createIfAbsent(() =>
    core.createNamespace({ body: { metadata: { name: namespace, labels: { team: 'a' } } } }),
  );
  // No controller manager runs here to make the namespace's default account, which pods need.
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
  const server = new URL(kc.getCurrentCluster()?.server as string);
  // No KUBECONFIG, and a HOME without ~/.kube: only the in-cluster account is left.
  env = { KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port, HOME: dir };
});
after(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

test('in the cluster: list, watch from the list, read a namespace; abort ends the watch once', async () => {
  const token = (await readFile(join(dirname(testKubeconfig()), 'admin.token'), 'utf8')).trim();
  const api = await connect(await accountDir('admin', token));
  assert.equal(api.server, `https://${env.KUBERNETES_SERVICE_HOST}:${env.KUBERNETES_SERVICE_PORT}`);

  const list = await api.pods.list(`spec.nodeName=${nodeName}`, '0');
  assert.deepEqual(list.items, []);
  assert.ok(list.resourceVersion !== '');

  const events: [string, string | undefined][] = [];
  let done = 0;
  let added: () => void = () => undefined;
  const seen = new Promise<void>((resolve) => {
    added = resolve;
  });
  const handle = await api.pods.watch(
    {
      fieldSelector: `spec.nodeName=${nodeName}`,
      resourceVersion: list.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: 60,
    },
    (type, object) => {
      events.push([type, (object as { metadata?: { name?: string } }).metadata?.name]);
      if (type === 'ADDED') added();
    },
    () => {
      done++;
    },
  );
  await core.createNamespacedPod({
    namespace,
    body: { metadata: { name: 'p1' }, spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }] } },
  });
  // Another node's pod is not this watch's business.
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name: 'elsewhere' },
      spec: { nodeName: `${nodeName}-2`, containers: [{ name: 'c', image: 'busybox' }] },
    },
  });
  await seen;
  assert.deepEqual(
    events.filter(([type]) => type !== 'BOOKMARK'),
    [['ADDED', 'p1']],
  );
  handle.abort();
  handle.abort();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(done, 1);

  const relisted = await api.pods.list(`spec.nodeName=${nodeName}`, undefined);
  assert.deepEqual(
    relisted.items.map((p) => (p as { metadata: { name: string } }).metadata.name),
    ['p1'],
  );
  const labels = await api.namespaceLabels(namespace);
  assert.equal(labels?.team, 'a');
  assert.equal(labels?.['kubernetes.io/metadata.name'], namespace);
});

test('a token the API server does not know: calls fail with its status', async () => {
  const api = await connect(await accountDir('bogus', 'not-a-token'));
  await assert.rejects(
    api.pods.list(`spec.nodeName=${nodeName}`, '0'),
    (err: { statusCode?: number }) => err.statusCode === 401,
  );
  await assert.rejects(
    api.pods.watch(
      {
        fieldSelector: `spec.nodeName=${nodeName}`,
        resourceVersion: '0',
        allowWatchBookmarks: true,
        timeoutSeconds: 5,
      },
      () => undefined,
      () => undefined,
    ),
    (err: { statusCode?: number }) => err.statusCode === 401,
  );
});
