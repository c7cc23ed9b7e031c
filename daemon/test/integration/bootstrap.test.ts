// The Kubernetes setup Job's work, for real: `kubearmor-shipper bootstrap` with a token of exactly
// the Role in deployments/shipper/setup-job.yaml makes the Secrets in the real kube-apiserver; an
// Elasticsearch with security on starts from them (certificates by the Job's own certutil script,
// password from the Secret), as the StatefulSet would; the bootstrap reaches it over TLS, makes
// the shipper's API key and Kibana's service token, installs the templates with that key and
// imports the dashboards. Then the shipper ships with the key from its Secret over verified TLS,
// exactly, and the key can do nothing else.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@elastic/elasticsearch';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { loopbackCloudId } from '../support/cloud-id.js';
import { type Corpus, makeCorpus } from '../support/corpus.js';
import { startKibanaStandIn } from '../support/kibana-stand-in.js';
import { adminConfig, applyManifest, createIfAbsent, writeKubeconfig } from '../support/kubernetes.js';
import {
  makeCertificates,
  type SecureElasticsearch,
  startSecureElasticsearch,
} from '../support/secure-elasticsearch.js';
import { runShipper, startShipper, stoppedSummary } from '../support/shipper-process.js';

// A namespace of its own and an Elasticsearch port from the environment: `npm test` runs this file
// on two Node versions at once against one API server.
const namespace = `kal-${randomBytes(3).toString('hex')}`;
const repo = join(import.meta.dirname, '..', '..', '..');
const setupJob = join(repo, 'deployments', 'shipper', 'setup-job.yaml');
const SECRETS = [
  'elasticsearch-credentials',
  'elasticsearch-certs',
  'elasticsearch-ca',
  'kibana-encryption-keys',
  'kibana-elasticsearch-token',
  'kubearmor-shipper-elasticsearch',
];
let core: k8s.CoreV1Api;
let dir: string;
let corpus: Corpus;
let kubeconfig: string;
let es: SecureElasticsearch | undefined;
let ca = '';
let elasticPassword = '';
const port = Number(process.env.TEST_ES_SECURE_PORT ?? 9260);

async function secret(name: string): Promise<Record<string, string>> {
  const s = await core.readNamespacedSecret({ name, namespace });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}

async function waitForSecret(name: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (
      await secret(name).then(
        () => true,
        () => false,
      )
    )
      return;
    await sleep(200);
  }
  assert.fail(`the Secret ${name} never appeared`);
}

before(async () => {
  const kc = adminConfig();
  core = kc.makeApiClient(k8s.CoreV1Api);
  dir = await mkdtemp(join(tmpdir(), 'bootstrap-'));
  corpus = await makeCorpus('bootstrap', 1500, 7);
  await createIfAbsent(() => core.createNamespace({ body: { metadata: { name: namespace } } }));
  await applyManifest(kc, setupJob, undefined, ['ServiceAccount', 'Role', 'RoleBinding'], namespace);
  const token = (
    await core.createNamespacedServiceAccountToken({
      namespace,
      name: 'kubearmor-logging-setup',
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    })
  ).status?.token as string;
  kubeconfig = await writeKubeconfig(
    join(dir, 'setup.kubeconfig'),
    kc.getCurrentCluster()?.server as string,
    token,
  );
});
after(async () => {
  await es?.stop();
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
  await rm(corpus.dir, { recursive: true, force: true });
});

function bootstrapArgs(certs: string, kibanaUrl: string): string[] {
  return [
    'bootstrap',
    '--namespace',
    namespace,
    '--certs-dir',
    certs,
    '--es-url',
    `https://127.0.0.1:${port}`,
    '--kibana-url',
    kibanaUrl,
    '--kubeconfig',
    kubeconfig,
    '--wait-seconds',
    '180',
  ];
}

test('bootstrap, with exactly its Role, makes the Secrets; Elasticsearch starts from them; the key, the token, the templates and the dashboards follow', async () => {
  const certs = join(dir, 'certs');
  await mkdir(certs);
  await makeCertificates(certs, namespace);
  const kibana = await startKibanaStandIn({ notReadyFor: 0 });
  try {
    // As in the cluster: the bootstrap starts first and waits; Elasticsearch starts once its Secrets exist.
    const running = startShipper(bootstrapArgs(certs, kibana.url));
    // It makes them one after another; the encryption keys are the last before it waits.
    for (const name of SECRETS.slice(0, 4)) await waitForSecret(name);
    const password = (await secret('elasticsearch-credentials')).password;
    assert.ok(password !== undefined && password.length >= 24, 'a generated password');
    elasticPassword = password;
    const fromSecret = join(dir, 'from-secret');
    await mkdir(fromSecret);
    const certSecret = await secret('elasticsearch-certs');
    for (const f of ['ca.crt', 'tls.crt', 'tls.key']) {
      assert.equal(certSecret[f], await readFile(join(certs, f), 'utf8'), `${f} as certutil made it`);
      await writeFile(join(fromSecret, f), certSecret[f] as string);
    }
    ca = (await secret('elasticsearch-ca'))['ca.crt'] as string;
    assert.equal(ca, certSecret['ca.crt']);
    assert.equal(Object.keys(await secret('kibana-encryption-keys')).length, 3);
    es = await startSecureElasticsearch(fromSecret, password, port);

    const done = await running.done;
    assert.equal(done.code, 0, done.stderr + done.stdout);
    // It reached Elasticsearch over TLS with the generated password...
    assert.match(done.stdout, /Elasticsearch: answering/);
    // ...made the shipper's key and Kibana's token...
    assert.match(done.stdout, /secret kubearmor-shipper-elasticsearch: API key \S+ created/);
    assert.match(
      done.stdout,
      /secret kibana-elasticsearch-token: service token elastic\/kibana\/\S+ created/,
    );
    // ...installed the templates with the key (no ILM in this distribution, said so)...
    assert.match(done.stdout, /index templates installed: .*kubearmor-alerts.*; lifecycle: /);
    // ...and imported the dashboards.
    assert.equal(kibana.imports.length, 1);
    assert.match(done.stdout, /dashboards: \d+ objects imported/);

    const admin = adminClient();
    const key = await secret('kubearmor-shipper-elasticsearch');
    const keys = await admin.security.getApiKey({ id: key.id as string });
    assert.equal(keys.api_keys[0]?.name, 'kubearmor-shipper');
    assert.deepEqual(Object.keys(keys.api_keys[0]?.role_descriptors ?? {}), ['kubearmor-shipper']);
    const templates = await admin.indices.getIndexTemplate({ name: 'kubearmor-*' });
    assert.ok(templates.index_templates.length >= 4);
    await admin.close();

    // Kibana's token authenticates as the elastic/kibana service account.
    const asKibana = new Client({
      node: es.url,
      auth: { bearer: (await secret('kibana-elasticsearch-token')).token as string },
      tls: { ca },
    });
    assert.equal((await asKibana.security.authenticate()).username, 'elastic/kibana');
    await asKibana.close();

    // A second run keeps every Secret, the key and the token (Elasticsearch still accepts them).
    const again = await runShipper([...bootstrapArgs(certs, kibana.url), '--wait-seconds', '30']);
    assert.equal(again.code, 0, again.stderr);
    for (const name of SECRETS) assert.match(again.stdout, new RegExp(`secret ${name}: kept`));
    assert.equal((await secret('elasticsearch-credentials')).password, password);
    assert.deepEqual(await secret('kubearmor-shipper-elasticsearch'), key);
  } finally {
    kibana.server.close();
  }
});

/** An Elasticsearch call's HTTP status: 200, or the status it was refused with. */
function status(p: Promise<unknown>): Promise<number | undefined> {
  return p.then(
    () => 200,
    (err: { meta?: { statusCode?: number } }) => err.meta?.statusCode,
  );
}

function adminClient(): Client {
  assert.ok(es !== undefined, 'Elasticsearch of the first test');
  return new Client({ node: es.url, auth: { username: 'elastic', password: elasticPassword }, tls: { ca } });
}

test('a key Elasticsearch no longer accepts is replaced on the next run', async () => {
  const admin = adminClient();
  const old = await secret('kubearmor-shipper-elasticsearch');
  await admin.security.invalidateApiKey({ ids: [old.id as string] });
  await admin.close();
  const certs = join(dir, 'certs');
  const kibana = await startKibanaStandIn({ notReadyFor: 0 });
  try {
    const run = await runShipper([...bootstrapArgs(certs, kibana.url), '--wait-seconds', '30']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /secret kubearmor-shipper-elasticsearch: API key \S+ created/);
    assert.match(run.stdout, /secret kibana-elasticsearch-token: kept/);
  } finally {
    kibana.server.close();
  }
  assert.notEqual((await secret('kubearmor-shipper-elasticsearch')).id, old.id);
});

test('the shipper, with the API key of its Secret, ships over verified TLS exactly; the key can do nothing else', async () => {
  assert.ok(es !== undefined, 'Elasticsearch of the first test');
  const caFile = join(dir, 'ca.crt');
  await writeFile(caFile, ca);
  const apiKey = (await secret('kubearmor-shipper-elasticsearch')).apiKey as string;
  const auth = { ES_API_KEY: apiKey };
  const ship = await runShipper(
    ['run', '--once', '--paths', corpus.glob, '--checkpoint-dir', corpus.checkpointDir, '--http-port', '0'],
    { ES_URL: es.url, ES_CA_FILE: caFile, SHIPPER_KUBERNETES_METADATA: 'off', ...auth },
  );
  assert.equal(ship.code, 0, ship.stderr + ship.stdout.slice(-2000));
  assert.equal(stoppedSummary(ship.stdout).documents.indexed, corpus.total);
  const admin = adminClient();
  await admin.indices.refresh({ index: 'kubearmor-*' });
  assert.equal((await admin.count({ index: 'kubearmor-*' })).count, corpus.total);
  await admin.close();

  // Without the CA the certificate cannot be verified: nothing is reached.
  const unverified = await runShipper(['check'], { ES_URL: es.url, ...auth });
  assert.notEqual(unverified.code, 0);
  assert.match(unverified.stderr, /certificate/i);

  // `check` asks Elasticsearch what the key may do: all the shipper needs...
  const checked = await runShipper(['check'], { ES_URL: es.url, ES_CA_FILE: caFile, ...auth });
  assert.equal(checked.code, 0, checked.stderr);
  assert.match(
    checked.stdout,
    /^privileges: ok \(monitor, manage_index_templates; create_doc, create_index on kubearmor-\*\)$/m,
  );
  // Elastic Cloud's way to name the cluster: a Cloud ID (here one that leads to this node), as a
  // flag over the environment's URL.
  const cloudId = loopbackCloudId(Number(new URL(es.url).port), { es: true, kibana: false });
  const viaCloudId = await runShipper(['check', '--es-cloud-id', cloudId], {
    ES_URL: 'https://elasticsearch.invalid:9200',
    ES_CA_FILE: caFile,
    ...auth,
  });
  assert.equal(viaCloudId.code, 0, viaCloudId.stderr);
  assert.match(
    viaCloudId.stdout,
    new RegExp(`^elasticsearch: https://127\\.0\\.0\\.1:${new URL(es.url).port} cluster `, 'm'),
  );
  assert.match(viaCloudId.stdout, /^privileges: ok /m);
  // ...and says what a narrower key lacks (it could not create the next day's index), exit 1.
  const narrow = adminClient();
  const limited = await narrow.security.createApiKey({
    name: 'kubearmor-shipper-narrow',
    role_descriptors: {
      narrow: {
        cluster: ['monitor', 'manage_index_templates'],
        indices: [{ names: ['kubearmor-*'], privileges: ['create_doc'] }],
      },
    },
  });
  await narrow.close();
  const lacking = await runShipper(['check'], {
    ES_URL: es.url,
    ES_CA_FILE: caFile,
    ES_API_KEY: limited.encoded,
  });
  assert.equal(lacking.code, 1, lacking.stdout);
  assert.match(lacking.stdout, /^privileges: missing create_index on kubearmor-\*: /m);

  const asShipper = new Client({ node: es.url, auth: { apiKey }, tls: { ca }, maxRetries: 0 });
  assert.equal(await status(asShipper.cluster.health()), 200);
  assert.equal(await status(asShipper.search({ index: 'kubearmor-*' })), 403, 'read documents');
  assert.equal(
    await status(asShipper.indices.delete({ index: 'kubearmor-alerts-*' })),
    403,
    'delete indices',
  );
  assert.equal(await status(asShipper.index({ index: 'other', document: { a: 1 } })), 403, 'write elsewhere');
  assert.equal(await status(asShipper.security.getUser()), 403, 'read users');
  await asShipper.close();
});

test("the prune CronJob's command, with a key made from its api-key-request.json, prunes our indices and can do nothing else", async () => {
  assert.ok(es !== undefined, 'Elasticsearch of the first test');
  const caFile = join(dir, 'ca.crt');
  await writeFile(caFile, ca);
  const prune = join(repo, 'assets', 'kubernetes', 'prune');
  const admin = adminClient();
  const key = await admin.security.createApiKey(
    JSON.parse(await readFile(join(prune, 'api-key-request.json'), 'utf8')),
  );
  const day = (ago: number) => new Date(Date.now() - ago * 86_400_000).toISOString().slice(0, 10);
  const old = `kubearmor-alerts-${day(40).replaceAll('-', '.')}`;
  const others = `other-alerts-${day(40).replaceAll('-', '.')}`;
  for (const index of [old, others])
    await admin.indices.create({ index, settings: { number_of_replicas: 0 } });

  // The CronJob's own arguments and the shipper's ConfigMap; only where Elasticsearch is differs.
  const cron = parseAllDocuments(await readFile(join(prune, 'cronjob.yaml'), 'utf8'))[0]?.toJS();
  const args = cron.spec.jobTemplate.spec.template.spec.containers[0].args as string[];
  const configMap = parseAllDocuments(
    await readFile(join(repo, 'deployments', 'shipper', 'config.yaml'), 'utf8'),
  )[0]?.toJS();
  const configFile = join(dir, 'prune-shipper.yaml');
  await writeFile(configFile, configMap.data['shipper.yaml']);
  const pruned = await runShipper(
    [...args.slice(0, -1), configFile, '--es-url', es.url, '--es-ca-file', caFile],
    { ES_API_KEY: key.encoded },
  );
  assert.equal(pruned.code, 0, pruned.stderr);
  // It could list them by their creation (written today: kept, as ILM would keep them)...
  assert.match(pruned.stdout, new RegExp(`^kept ${old}: created ${day(0)}, within the 30 days`, 'm'));
  assert.doesNotMatch(pruned.stdout, /other-alerts/);
  // ...and may delete ours once they are due; nothing else.
  const asPrune = new Client({ node: es.url, auth: { apiKey: key.encoded }, tls: { ca }, maxRetries: 0 });
  try {
    assert.equal(await status(asPrune.indices.delete({ index: old })), 200, 'delete ours');
    assert.equal(await status(asPrune.indices.delete({ index: others })), 403, 'delete others');
    assert.equal(await status(asPrune.search({ index: 'kubearmor-*' })), 403, 'read documents');
    assert.equal(
      await status(asPrune.index({ index: 'kubearmor-alerts-x', document: { a: 1 } })),
      403,
      'write documents',
    );
    assert.equal(
      await status(
        asPrune.indices.putIndexTemplate({ name: 'kubearmor-x', index_patterns: ['kubearmor-x-*'] }),
      ),
      403,
      'change templates',
    );
    assert.equal(await status(asPrune.security.getUser()), 403, 'read users');
  } finally {
    await asPrune.close();
    await admin.indices.delete({ index: others });
    await admin.close();
  }
});
