// Pod metadata end to end, against the real kube-apiserver (and etcd) the test command started,
// and the real Elasticsearch: pods are created bound to a made-up node (no kubelet: they stay
// Pending), their log files written the way the runtime writes them, and the shipper runs as a
// child process with a kubeconfig, as it would outside a cluster.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@elastic/elasticsearch';
import * as k8s from '@kubernetes/client-node';
import { containerAlertBlock } from '../fixtures/kubearmor-lines.js';
import { cleanUp, testClient, testEsUrl, uniquePrefix } from '../support/elasticsearch.js';
import {
  ApiServer,
  adminConfig,
  applyManifest,
  createIfAbsent,
  freePort,
  testKubeconfig,
  writeKubeconfig,
} from '../support/kubernetes.js';
import { type Running, shipArgs, startShipper, statusPort } from '../support/shipper-process.js';

const suffix = randomBytes(3).toString('hex');
const nodeName = `node-${suffix}`;
const namespace = `ka-${suffix}`;
const prefix = uniquePrefix('kube');
let es: Client;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let dir: string;

before(async () => {
  es = testClient();
  kc = adminConfig();
  core = kc.makeApiClient(k8s.CoreV1Api);
  dir = await mkdtemp(join(tmpdir(), 'ship-kubernetes-'));
  await core.createNamespace({ body: { metadata: { name: namespace, labels: { team: 'blue' } } } });
  // No controller-manager runs, so nothing creates the namespace's default ServiceAccount.
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
});
after(async () => {
  await cleanUp(es, prefix);
  await es.close();
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

interface Pod {
  name: string;
  uid: string;
  file: string;
  written: number;
}

async function createPod(name: string, labels: Record<string, string> = {}, hash?: string): Promise<Pod> {
  const created = await core.createNamespacedPod({
    namespace,
    body: {
      metadata: {
        name,
        labels: { ...labels, ...(hash === undefined ? {} : { 'pod-template-hash': hash }) },
        annotations: { 'kubearmor.io/visibility': 'process', 'other.io/ignored': 'x' },
        ...(hash === undefined
          ? {}
          : {
              ownerReferences: [
                {
                  apiVersion: 'apps/v1',
                  kind: 'ReplicaSet',
                  name: `${name.split('-')[0]}-${hash}`,
                  uid: 'd9607e19-f88f-11e6-a518-42010a800195',
                  controller: true,
                },
              ],
            }),
      },
      spec: {
        nodeName,
        containers: [{ name: 'relay', image: 'kubearmor/kubearmor-relay-server:v1.4.3' }],
      },
    },
  });
  const uid = created.metadata?.uid as string;
  const podDir = join(dir, 'pods', `${namespace}_${name}_${uid}`, 'relay');
  await mkdir(podDir, { recursive: true });
  return { name, uid, file: join(podDir, '0.log'), written: 0 };
}

async function deletePod(pod: Pod): Promise<void> {
  // No kubelet confirms a graceful deletion: delete at once.
  await core.deleteNamespacedPod({ namespace, name: pod.name, gracePeriodSeconds: 0 });
}

/** Appends `n` KubeArmor alerts, CRI-wrapped, to the pod's log file. */
async function write(pod: Pod, n: number): Promise<void> {
  const base = JSON.parse(containerAlertBlock) as Record<string, unknown>;
  let text = '';
  for (let i = 0; i < n; i++) {
    const line = JSON.stringify({ ...base, Resource: `/${pod.name}/${pod.written++}` });
    text += `2024-07-26T10:41:47.${String(pod.written).padStart(9, '0')}Z stdout F ${line}\n`;
  }
  await appendFile(pod.file, text);
}

const visibility = { 'kubearmor.io/visibility': 'process' };

interface Doc {
  Resource: string;
  kubernetes: Record<string, unknown> & { metadata?: { partial: boolean; reason: string } };
}

/** The pod's documents in file order, once there are `count` of them. */
async function docsOf(pod: Pod, count: number): Promise<Doc[]> {
  let docs: Doc[] = [];
  let failed: unknown;
  for (let i = 0; i < 150; i++) {
    try {
      await es.indices.refresh({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true });
      const res = await es.search<Doc>({
        index: `${prefix}-*`,
        size: 1000,
        query: { term: { 'log.file.path': pod.file } },
        sort: [{ 'log.offset': 'asc' }],
        _source: ['Resource', 'kubernetes'],
        allow_no_indices: true,
        ignore_unavailable: true,
      });
      docs = res.hits.hits.map((h) => h._source as Doc);
      failed = undefined;
      if (docs.length >= count) break;
    } catch (err) {
      // The shipper is creating a daily index whose shard has not started yet
      // (no_shard_available_action_exception): not yet, as with too few documents.
      failed = err;
    }
    await sleep(200);
  }
  assert.equal(docs.length, count, `documents of ${pod.name}${failed === undefined ? '' : `: ${failed}`}`);
  return docs;
}

/** Complete metadata; annotations only where the allow-list admits them (none by default). */
function assertFull(
  doc: Doc,
  pod: Pod,
  labels: Record<string, string>,
  annotations?: Record<string, string>,
): void {
  assert.equal(doc.kubernetes.metadata, undefined, `${doc.Resource}: ${JSON.stringify(doc.kubernetes)}`);
  assert.equal(doc.kubernetes.namespace, namespace);
  assert.deepEqual(doc.kubernetes.pod, { name: pod.name, uid: pod.uid });
  assert.deepEqual(doc.kubernetes.node, { name: nodeName });
  assert.deepEqual(doc.kubernetes.container, {
    name: 'relay',
    image: 'kubearmor/kubearmor-relay-server:v1.4.3',
  });
  for (const [k, v] of Object.entries(labels))
    assert.equal((doc.kubernetes.labels as Record<string, string>)[k], v);
  assert.deepEqual(doc.kubernetes.annotations, annotations);
}

async function metrics(port: number): Promise<string> {
  return fetch(`http://127.0.0.1:${port}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
}

async function waitForMetric(port: number, pattern: RegExp, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (pattern.test(await metrics(port))) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}: ${pattern}`);
}

async function startFollowing(
  name: string,
  kubeconfig: string,
  yaml: string,
): Promise<{ run: Running; port: number }> {
  const config = join(dir, `${name}.yaml`);
  await writeFile(config, yaml);
  const run = startShipper(
    [
      'run',
      '--config',
      config,
      ...shipArgs({
        paths: join(dir, 'pods', '*', '*', '*.log'),
        checkpointDir: join(dir, `checkpoints-${name}`),
        esUrl: testEsUrl(),
        prefix,
      }),
      '--http-port',
      '0',
    ],
    { KUBECONFIG: kubeconfig, NODE_NAME: nodeName, SHIPPER_KUBERNETES_METADATA: 'on' },
  );
  return { run, port: await statusPort(run) };
}

async function stop(run: Running): Promise<void> {
  run.child.kill('SIGTERM');
  const done = await run.done;
  assert.equal(done.code, 0, done.stderr + done.stdout.slice(-3000));
}

test('documents get their pod: labels, owner, Deployment; a relabel is picked up; a deleted pod stays until its file is drained', async () => {
  const a = await createPod('relay-abc', { app: 'relay' }, '7d4b9c8f5d');
  await write(a, 5);
  const { run, port } = await startFollowing(
    'main',
    testKubeconfig(),
    [
      'kubernetes:',
      '  annotations: ["kubearmor.io/*"]',
      '  deletedPodGraceSeconds: 1',
      '  namespaceLabels: {enabled: true}',
    ].join('\n'),
  );
  try {
    let docs = await docsOf(a, 5);
    for (const d of docs) {
      assertFull(d, a, { app: 'relay', 'pod-template-hash': '7d4b9c8f5d' }, visibility);
      assert.deepEqual(d.kubernetes.owner, { kind: 'ReplicaSet', name: 'relay-7d4b9c8f5d' });
      assert.deepEqual(d.kubernetes.deployment, { name: 'relay' });
    }
    // Namespace labels come lazily: present once fetched.
    await write(a, 1);
    docs = await docsOf(a, 6);
    assert.deepEqual(docs[5]?.kubernetes.namespace_labels, {
      team: 'blue',
      'kubernetes.io/metadata.name': namespace,
    });

    // Relabel: write until a document shows the new label; none after it shows the old one.
    const current = await core.readNamespacedPod({ namespace, name: a.name });
    current.metadata = { ...current.metadata, labels: { ...current.metadata?.labels, app: 'relay-v2' } };
    await core.replaceNamespacedPod({ namespace, name: a.name, body: current });
    let seen = -1;
    for (let round = 0; round < 40 && seen < 0; round++) {
      await write(a, 1);
      docs = await docsOf(a, a.written);
      seen = docs.findIndex((d) => (d.kubernetes.labels as Record<string, string>).app === 'relay-v2');
      if (seen < 0) await sleep(100);
    }
    assert.ok(seen >= 6, 'the new label reached documents');
    for (const d of docs.slice(seen)) assertFull(d, a, { app: 'relay-v2' }, visibility);

    // Deleted while its file is open and has lines still to come: they keep the pod's metadata,
    // long after the grace (1 s) a pod no file holds gets.
    const b = await createPod('worker-b', { app: 'worker' });
    await write(b, 1);
    await docsOf(b, 1);
    await deletePod(b);
    await waitForMetric(
      port,
      /kubearmor_shipper_kubernetes_pods_cached\{state="deleted"\} 1/,
      'the deletion',
    );
    await sleep(2500);
    await write(b, 5);
    for (const d of await docsOf(b, 6)) assertFull(d, b, { app: 'worker' }, visibility);

    // The control: a pod deleted before any file of it was open is forgotten after the grace.
    const c = await createPod('gone-c', { app: 'gone' });
    await deletePod(c);
    await sleep(3500);
    await write(c, 2);
    for (const d of await docsOf(c, 2)) {
      assert.deepEqual(d.kubernetes.metadata, { partial: true, reason: 'pod_not_found' });
      assert.deepEqual(d.kubernetes.pod, { name: c.name, uid: c.uid }, 'the path still gives these');
      assert.equal(d.kubernetes.namespace, namespace);
    }
    const m = await metrics(port);
    assert.match(m, /kubearmor_shipper_kubernetes_watch_up 1/);
    assert.match(m, /kubearmor_shipper_kubernetes_lists_total 1/);
    assert.match(m, /kubearmor_shipper_namespace_label_fetches_total\{outcome="ok"\} \d/);
  } finally {
    await stop(run);
  }
});

test('the API server stops mid-run: shipping goes on, marked partial where unknown; it comes back: the watch recovers', async () => {
  const server = new ApiServer(await freePort());
  await server.start();
  const token = (await import('node:fs'))
    .readFileSync(join(testKubeconfig(), '..', 'admin.token'), 'utf8')
    .trim();
  const kubeconfig = await writeKubeconfig(join(dir, 'second.kubeconfig'), server.url, token);
  const d = await createPod('known-d', { app: 'known' });
  await write(d, 3);
  const { run, port } = await startFollowing('outage', kubeconfig, 'retry: {maxMs: 1000}\n');
  try {
    for (const doc of await docsOf(d, 3)) assertFull(doc, d, { app: 'known' });
    await server.stop();
    await waitForMetric(port, /kubearmor_shipper_kubernetes_watch_up 0/, 'the watch to notice');
    const e = await createPod('new-e', { app: 'new' }); // through the other server: same etcd
    await write(d, 3);
    await write(e, 3);
    for (const doc of await docsOf(d, 6)) assertFull(doc, d, { app: 'known' });
    for (const doc of await docsOf(e, 3))
      assert.deepEqual(doc.kubernetes.metadata, { partial: true, reason: 'api_unavailable' });

    await server.start();
    await waitForMetric(port, /kubearmor_shipper_kubernetes_watch_up 1/, 'the watch to recover');
    // Every pod of the node (other tests' too) in the cache: the new one has arrived.
    const onNode = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` });
    await waitForMetric(
      port,
      new RegExp(`kubearmor_shipper_kubernetes_pods_cached\\{state="live"\\} ${onNode.items.length}\n`),
      'the new pod to arrive',
    );
    await write(e, 3);
    const docs = await docsOf(e, 6);
    for (const doc of docs.slice(3)) assertFull(doc, e, { app: 'new' });
    assert.match(
      await metrics(port),
      /kubearmor_shipper_kubernetes_watch_reconnects_total\{reason="error"\} [1-9]/,
    );
  } finally {
    // Its own API server is a child of this process: left running, the file would never end.
    try {
      await stop(run);
    } finally {
      await server.stop();
    }
  }
});

test('with a token bound to exactly the ClusterRole of deployments/shipper it works; without it, documents say forbidden', async () => {
  const rbac = join(import.meta.dirname, '..', '..', '..', 'deployments', 'shipper', 'rbac.yaml');
  await createIfAbsent(() => core.createNamespace({ body: { metadata: { name: 'kubearmor-logging' } } }));
  await applyManifest(kc, rbac);
  await createIfAbsent(() =>
    core.createNamespacedServiceAccount({
      namespace: 'kubearmor-logging',
      body: { metadata: { name: `nobody-${suffix}` } },
    }),
  );
  const server = kc.getCurrentCluster()?.server as string;
  const tokenOf = async (sa: string) =>
    (
      await core.createNamespacedServiceAccountToken({
        namespace: 'kubearmor-logging',
        name: sa,
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      })
    ).status?.token as string;
  const shipperConfig = await writeKubeconfig(
    join(dir, 'shipper.kubeconfig'),
    server,
    await tokenOf('kubearmor-shipper'),
  );
  const nobodyConfig = await writeKubeconfig(
    join(dir, 'nobody.kubeconfig'),
    server,
    await tokenOf(`nobody-${suffix}`),
  );

  const f = await createPod('rbac-f', { app: 'rbac' });
  await write(f, 4);
  const once = async (name: string, kubeconfig: string) => {
    const run = startShipper(
      [
        'run',
        '--once',
        ...shipArgs({
          paths: f.file,
          checkpointDir: join(dir, `checkpoints-${name}`),
          esUrl: testEsUrl(),
          prefix: `${prefix}-${name}`,
        }),
        '--http-port',
        '0',
      ],
      { KUBECONFIG: kubeconfig, NODE_NAME: nodeName, SHIPPER_KUBERNETES_METADATA: 'on' },
    );
    const done = await run.done;
    assert.equal(done.code, 0, done.stderr);
    return done.stdout;
  };
  await once('role', shipperConfig);
  const byRole = await docsOfPrefix(`${prefix}-role`, 4);
  for (const doc of byRole) assertFull(doc, f, { app: 'rbac' });

  const out = await once('nobody', nobodyConfig);
  assert.match(out, /refuses the pod list\/watch/);
  for (const doc of await docsOfPrefix(`${prefix}-nobody`, 4))
    assert.deepEqual(doc.kubernetes.metadata, { partial: true, reason: 'api_forbidden' });
});

async function docsOfPrefix(p: string, count: number): Promise<Doc[]> {
  await es.indices.refresh({ index: `${p}-*` });
  const res = await es.search<Doc>({ index: `${p}-*`, size: 100, _source: ['Resource', 'kubernetes'] });
  assert.equal(res.hits.hits.length, count);
  return res.hits.hits.map((h) => h._source as Doc);
}
