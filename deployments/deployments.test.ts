// The Kubernetes manifests: valid against Kubernetes' own schemas (offline), accepted by the real
// API server through the real kubectl in both ways users apply them, RBAC as narrow as claimed
// (the API's own access reviews), and the shipper's command and ConfigMap accepted by the CLI.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { shipperRoleDescriptors } from '../daemon/src/install/bootstrap.js';
import {
  adminConfig,
  applyManifest,
  createIfAbsent,
  testKubeconfig,
} from '../daemon/test/support/kubernetes.js';
import { OpenApiValidator, openApiDir } from '../daemon/test/support/openapi-schema.js';
import { runShipper } from '../daemon/test/support/shipper-process.js';

const run = promisify(execFile);
const root = import.meta.dirname;
const NAMESPACE = 'kubearmor-logging';
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form YAML
type Obj = Record<string, any>;

/** YAML files as `kubectl apply -R -f` walks them: each directory's entries by name. */
function manifestFiles(dir = root): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...manifestFiles(path));
    else if (/\.(ya?ml|json)$/.test(name)) out.push(path);
  }
  return out;
}

function objects(): { file: string; obj: Obj }[] {
  const out: { file: string; obj: Obj }[] = [];
  for (const file of manifestFiles())
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const obj = doc.toJS() as Obj | null;
      if (obj !== null) out.push({ file: relative(root, file), obj });
    }
  return out;
}

function find(kind: string, name: string): Obj {
  const o = objects().find((x) => x.obj.kind === kind && x.obj.metadata?.name === name)?.obj;
  assert.ok(o, `${kind} ${name}`);
  return o;
}

function podSpecs(): { where: string; spec: Obj }[] {
  return objects()
    .filter(({ obj }) => obj.spec?.template?.spec !== undefined)
    .map(({ obj }) => ({ where: `${obj.kind} ${obj.metadata.name}`, spec: obj.spec.template.spec }));
}

test('every manifest fits the Kubernetes 1.34 OpenAPI schemas, unknown fields included', () => {
  const validator = new OpenApiValidator(openApiDir());
  const all = objects();
  assert.ok(all.length >= 15, `${all.length} objects`);
  const seen = new Set<string>();
  for (const { file, obj } of all) {
    assert.deepEqual(validator.validate(obj), [], `${file}: ${obj.kind} ${obj.metadata?.name}`);
    if (CLUSTER_SCOPED.has(obj.kind)) assert.equal(obj.metadata.namespace, undefined, `${file} ${obj.kind}`);
    else assert.equal(obj.metadata.namespace, NAMESPACE, `${file}: ${obj.kind} ${obj.metadata.name}`);
    const id = `${obj.kind}/${obj.metadata.namespace}/${obj.metadata.name}`;
    assert.ok(!seen.has(id), `${id} twice`);
    seen.add(id);
  }
});

test('the schema check finds unknown fields, wrong types and missing required fields', () => {
  const validator = new OpenApiValidator(openApiDir());
  const ds = structuredClone(find('DaemonSet', 'kubearmor-shipper'));
  const container = ds.spec.template.spec.containers[0];
  container.imagePullPolicyy = 'Always';
  container.securityContext.readOnlyRootFileSystem = true;
  ds.spec.template.spec.terminationGracePeriodSeconds = '30';
  delete ds.spec.selector;
  assert.deepEqual(validator.validate(ds).sort(), [
    'DaemonSet.spec.selector: required',
    'DaemonSet.spec.template.spec.containers[0].imagePullPolicyy: unknown field',
    'DaemonSet.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem: unknown field',
    'DaemonSet.spec.template.spec.terminationGracePeriodSeconds: not an integer',
  ]);
  assert.deepEqual(validator.validate({ apiVersion: 'apps/v1', kind: 'Daemonset' }), [
    'unknown kind Daemonset in apps/v1',
  ]);
});

test('apply -R -f meets the Namespace first; Kustomization lists every manifest; images are set in one place', () => {
  const all = objects();
  assert.equal(all[0]?.obj.kind, 'Namespace');
  assert.equal(all[0]?.obj.metadata.name, NAMESPACE);
  const kustomization = parse(readFileSync(join(root, 'Kustomization'), 'utf8')) as Obj;
  assert.deepEqual(
    [...kustomization.resources].sort(),
    manifestFiles()
      .map((f) => relative(root, f))
      .filter((f) => !f.endsWith('.test.ts'))
      .sort(),
  );
  assert.equal(kustomization.resources[0], '00-namespace.yaml');
  for (const { where, spec } of podSpecs()) assertKustomizationImages(where, spec, kustomization);
});

/** Every image of the pod spec is one the Kustomization sets, with its tag. */
function assertKustomizationImages(where: string, spec: Obj, kustomization: Obj): void {
  const tags = new Map<string, string>(kustomization.images.map((i: Obj) => [i.name, i.newTag]));
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const [name, tag] = (c.image as string).split(':');
    assert.ok(tags.has(name as string), `${where}: ${c.image} not in Kustomization images`);
    assert.equal(tag, tags.get(name as string), `${where}: ${c.image} differs from the Kustomization's tag`);
  }
}

function assertLockedDown(where: string, spec: Obj): void {
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${where}/${c.name}`);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${where}/${c.name}`);
    assert.notEqual(c.securityContext?.privileged, true, `${where}/${c.name}`);
    const user = c.securityContext?.runAsUser ?? spec.securityContext?.runAsUser;
    if (where === 'DaemonSet kubearmor-shipper') assert.equal(user, 0);
    else assert.ok(user !== undefined && user !== 0, `${where}/${c.name} runs as non-root`);
    assert.ok(c.resources?.limits?.memory, `${where}/${c.name} has a memory limit`);
  }
}

test('pods are locked down: no privilege escalation, capabilities dropped; root only for the shipper', () => {
  for (const { where, spec } of podSpecs()) assertLockedDown(where, spec);
  const shipper = find('DaemonSet', 'kubearmor-shipper').spec.template.spec;
  assert.equal(shipper.containers[0].securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(shipper.tolerations, [{ operator: 'Exists' }], 'on every node, control plane included');
  for (const v of shipper.volumes.filter((v: Obj) => v.hostPath !== undefined)) {
    const mount = shipper.containers[0].volumeMounts.find((m: Obj) => m.name === v.name);
    assert.equal(mount.readOnly === true, v.name !== 'checkpoints', `${v.name}: only checkpoints writable`);
  }
  // No secret in the manifests: every credential is a reference to a Secret the Job makes.
  for (const { file, obj } of objects()) {
    assert.notEqual(obj.kind, 'Secret', file);
    const text = JSON.stringify(obj);
    assert.doesNotMatch(text, /"name":"(ES_PASSWORD|ELASTIC_PASSWORD|ES_API_KEY)","value"/, file);
  }
});

test("the DaemonSet's command and the ConfigMap's file are accepted by the CLI (--print-config)", async () => {
  const ds = find('DaemonSet', 'kubearmor-shipper').spec.template.spec;
  const container = ds.containers[0];
  const mountOf = (volume: string) => container.volumeMounts.find((m: Obj) => m.name === volume)?.mountPath;
  const configMap = find('ConfigMap', 'kubearmor-shipper');
  const args = container.args as string[];
  assert.equal(args[0], 'run');
  const configPath = args[args.indexOf('--config') + 1] as string;
  assert.equal(dirname(configPath), mountOf('config'), 'the config file is in the ConfigMap mount');
  const key = configPath.slice(configPath.lastIndexOf('/') + 1);
  const dir = await mkdtemp(join(tmpdir(), 'deployments-'));
  try {
    await writeFile(join(dir, key), configMap.data[key]);
    const env = Object.fromEntries(
      container.env.map((e: Obj) => [
        e.name,
        e.value ?? `from-${e.valueFrom.fieldRef ? 'downward-api' : 'secret'}`,
      ]),
    );
    const out = await runShipper([...args.slice(0, -1), join(dir, key), '--print-config'], env);
    assert.equal(out.code, 0, out.stderr);
    const config = parse(out.stdout) as Obj;
    assert.equal(config.nodeName, 'from-downward-api');
    assert.equal(config.elasticsearch.apiKey, '[redacted]');
    assert.equal(config.elasticsearch.caFile, `${mountOf('es-ca')}/ca.crt`);
    assert.equal(config.checkpointDir, mountOf('checkpoints'));
    assert.equal(container.livenessProbe.httpGet.port, config.http.port);
    assert.equal(container.readinessProbe.httpGet.port, config.http.port);
    for (const p of config.paths) assert.ok(p.startsWith(`${mountOf('varlog')}/`), p);
    assert.deepEqual(config.elasticsearch.url, ['https://elasticsearch.kubearmor-logging.svc:9200']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // The setup Job's flags are the bootstrap command's: not a usage error (it fails later, on the kubeconfig).
  const job = find('Job', 'kubearmor-logging-setup').spec.template.spec.containers[0];
  const bootstrap = await runShipper([...job.args, '--kubeconfig', '/nonexistent', '--wait-seconds', '1']);
  assert.equal(bootstrap.code, 1, bootstrap.stderr);
});

async function kubectl(...args: string[]): Promise<string> {
  const bin = readFileSync(join(dirname(testKubeconfig()), 'kubectl.bin'), 'utf8').trim();
  const out = await run(bin, ['--kubeconfig', testKubeconfig(), ...args], {
    cwd: dirname(root),
    maxBuffer: 8 << 20,
  });
  return out.stdout;
}

test('kubectl apply -R -f deployments and apply -k deployments: accepted by the real API server (server dry-run, strict fields)', async () => {
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  // A dry run does not create the Namespace the rest goes into.
  await createIfAbsent(() => core.createNamespace({ body: { metadata: { name: NAMESPACE } } }));
  const recursive = await kubectl(
    'apply',
    '-R',
    '-f',
    'deployments',
    '--dry-run=server',
    '--validate=strict',
  );
  const kustomized = await kubectl('apply', '-k', 'deployments', '--dry-run=server', '--validate=strict');
  const count = objects().length;
  assert.equal(recursive.trim().split('\n').length, count, recursive);
  assert.equal(kustomized.trim().split('\n').length, count, kustomized);
  for (const line of [...recursive.trim().split('\n'), ...kustomized.trim().split('\n')])
    assert.match(line, /\((server dry run)\)$/, line);
  // kustomize gives the same objects as the files (its image transformer sets what they already say).
  const built = parseAllDocuments(await kubectl('kustomize', 'deployments')).map((d) => d.toJS() as Obj);
  const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const byKey = new Map(built.map((o) => [key(o), o]));
  for (const { obj } of objects()) assert.deepEqual(byKey.get(key(obj)), obj, key(obj));

  // The three-node overlay: valid, accepted, and really three discovering nodes.
  const overlay = 'assets/kubernetes/elasticsearch-3-nodes';
  const three = await kubectl('apply', '-k', overlay, '--dry-run=server', '--validate=strict');
  assert.equal(three.trim().split('\n').length, count + 1, three);
  const validator = new OpenApiValidator(openApiDir());
  const threeObjects = parseAllDocuments(await kubectl('kustomize', overlay)).map((d) => d.toJS() as Obj);
  for (const o of threeObjects) assert.deepEqual(validator.validate(o), [], key(o));
  const sts = threeObjects.find((o) => o.kind === 'StatefulSet') as Obj;
  assert.equal(sts.spec.replicas, 3);
  const env = sts.spec.template.spec.containers[0].env.map((e: Obj) => e.name);
  assert.ok(!env.includes('discovery.type') && env.includes('cluster.initial_master_nodes'));
  const cm = threeObjects.find(
    (o) => o.kind === 'ConfigMap' && o.metadata.name === 'kubearmor-shipper',
  ) as Obj;
  assert.equal((parse(cm.data['shipper.yaml']) as Obj).elasticsearch.replicas, 1);
});

test("RBAC, by the API server's own access reviews: the shipper reads pods and nothing else; the setup Job only its Secrets", async () => {
  const kc = adminConfig();
  await createIfAbsent(() =>
    kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: NAMESPACE } } }),
  );
  await applyManifest(kc, join(root, 'shipper', 'rbac.yaml'));
  await applyManifest(kc, join(root, 'shipper', 'setup-job.yaml'), undefined, [
    'ServiceAccount',
    'Role',
    'RoleBinding',
  ]);
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const can = async (
    sa: string,
    verb: string,
    resource: string,
    o: { group?: string; namespace?: string; name?: string } = {},
  ) => {
    const review = await authz.createSubjectAccessReview({
      body: {
        spec: {
          user: `system:serviceaccount:${NAMESPACE}:${sa}`,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`, 'system:authenticated'],
          resourceAttributes: {
            verb,
            resource,
            group: o.group ?? '',
            namespace: o.namespace ?? '',
            name: o.name ?? '',
          },
        },
      },
    });
    return review.status?.allowed === true;
  };
  for (const verb of ['get', 'list', 'watch']) {
    assert.equal(await can('kubearmor-shipper', verb, 'pods'), true, `pods ${verb} cluster-wide`);
    assert.equal(await can('kubearmor-shipper', verb, 'pods', { namespace: 'kube-system' }), true);
  }
  for (const [verb, resource, group] of [
    ['get', 'secrets', ''],
    ['list', 'secrets', ''],
    ['get', 'namespaces', ''],
    ['list', 'nodes', ''],
    ['get', 'replicasets', 'apps'],
    ['create', 'pods', ''],
    ['update', 'pods', ''],
    ['patch', 'pods', ''],
    ['delete', 'pods', ''],
    ['create', 'configmaps', ''],
    ['create', 'pods/exec', ''],
    ['create', 'deployments', 'apps'],
    ['delete', 'namespaces', ''],
    ['create', '*', '*'],
    ['update', '*', '*'],
    ['delete', '*', '*'],
  ] as const) {
    assert.equal(
      await can('kubearmor-shipper', verb, resource, { group, namespace: NAMESPACE }),
      false,
      `shipper ${verb} ${resource}`,
    );
    assert.equal(
      await can('kubearmor-shipper', verb, resource, { group }),
      false,
      `shipper ${verb} ${resource} cluster-wide`,
    );
  }
  const job = 'kubearmor-logging-setup';
  assert.equal(await can(job, 'create', 'secrets', { namespace: NAMESPACE }), true);
  assert.equal(
    await can(job, 'get', 'secrets', { namespace: NAMESPACE, name: 'elasticsearch-credentials' }),
    true,
  );
  assert.equal(
    await can(job, 'update', 'secrets', { namespace: NAMESPACE, name: 'kubearmor-shipper-elasticsearch' }),
    true,
  );
  assert.equal(await can(job, 'get', 'secrets', { namespace: NAMESPACE, name: 'someone-elses' }), false);
  assert.equal(await can(job, 'list', 'secrets', { namespace: NAMESPACE }), false);
  assert.equal(await can(job, 'create', 'secrets', { namespace: 'default' }), false);
  assert.equal(await can(job, 'get', 'pods', { namespace: NAMESPACE }), false);
});

test('the image: multi-stage, non-root, exec-form entrypoint; the bundle runs on production dependencies alone and stops on SIGTERM', async () => {
  const dockerfile = readFileSync(join(root, '..', 'Dockerfile'), 'utf8');
  const stages = dockerfile.match(/^FROM node:\d+-bookworm-slim/gm) ?? [];
  assert.ok(stages.length >= 2, 'multi-stage on Node slim');
  // `npm test` runs every test again on the image's Node: the same major as the image's stages.
  const imageMajor = /^FROM node:(\d+)-/m.exec(dockerfile)?.[1];
  const testScript = readFileSync(join(root, '..', 'scripts', 'test.sh'), 'utf8');
  assert.equal(/\$\{TEST_NODE_VERSIONS-(\d+)\./.exec(testScript)?.[1], imageMajor, "scripts/test.sh's Node");
  for (const stage of stages) assert.equal(stage, `FROM node:${imageMajor}-bookworm-slim`);
  const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  assert.match(final, /^USER node$/m);
  assert.match(final, /^ENTRYPOINT \["node", ("--[a-z-]+=\d+", )*"\/app\/dist\/kubearmor-shipper\.js"\]$/m);
  assert.match(dockerfile, /npm ci --omit=dev/);
  assert.match(
    dockerfile,
    /^COPY daemon\/assembly daemon\/assembly$/m,
    'the build stage has the scan source',
  );

  // What the image's last stage holds: package.json, production node_modules, the bundle.
  const app = await mkdtemp(join(tmpdir(), 'image-'));
  try {
    for (const f of ['package.json', 'package-lock.json'])
      await writeFile(join(app, f), readFileSync(join(root, '..', f)));
    await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app });
    await (await import('node:fs/promises')).cp(join(root, '..', 'dist'), join(app, 'dist'), {
      recursive: true,
    });
    const bin = join(app, 'dist', 'kubearmor-shipper.js');
    const version = await run(process.execPath, [bin, '--version'], { cwd: app });
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
    // Elasticsearch unreachable: it waits, retrying; SIGTERM must still end it at once, cleanly.
    const child = (await import('node:child_process')).spawn(
      process.execPath,
      [
        bin,
        'run',
        '--paths',
        join(app, 'none-*.log'),
        '--checkpoint-dir',
        join(app, 'cp'),
        '--es-url',
        'http://127.0.0.1:9',
        '--http-port',
        '0',
      ],
      {
        cwd: app,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, SHIPPER_KUBERNETES_METADATA: 'off' },
      },
    );
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    for (let i = 0; i < 100 && !stdout.includes('starting'); i++)
      await new Promise((r) => setTimeout(r, 100));
    // The bundle found its WebAssembly modules beside it (the build stage compiles them into dist/).
    assert.match(stdout, /"lineScan":"webassembly"/);
    assert.match(stdout, /"gzip":"webassembly"/);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stdout);
  } finally {
    await rm(app, { recursive: true, force: true });
  }
});

test("the optional prune CronJob (assets/kubernetes/prune): valid, accepted by the API server, locked down, with the shipper's image, ConfigMap and CA; its command is the CLI's", async () => {
  const file = join(root, '..', 'assets', 'kubernetes', 'prune', 'cronjob.yaml');
  const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Obj);
  assert.deepEqual(
    docs.map((o) => o.kind),
    ['CronJob'],
  );
  const cron = docs[0] as Obj;
  assert.deepEqual(new OpenApiValidator(openApiDir()).validate(cron), []);
  assert.equal(cron.metadata.namespace, NAMESPACE);
  assert.equal(cron.spec.concurrencyPolicy, 'Forbid', 'two prunes never race');
  assert.equal(cron.spec.timeZone, 'Etc/UTC', 'index names carry UTC days');
  const spec = cron.spec.jobTemplate.spec.template.spec;
  assertLockedDown('CronJob kubearmor-shipper-prune', spec);
  assert.equal(spec.automountServiceAccountToken, false, 'no Kubernetes API token');
  const container = spec.containers[0];
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assertKustomizationImages(
    'CronJob kubearmor-shipper-prune',
    spec,
    parse(readFileSync(join(root, 'Kustomization'), 'utf8')) as Obj,
  );
  // Its own credentials (the shipper's key may not delete), never inline.
  assert.deepEqual(container.envFrom, [{ secretRef: { name: 'kubearmor-shipper-prune' } }]);
  assert.equal(container.env, undefined);
  // The shipper's ConfigMap and CA, mounted where the DaemonSet mounts them, so the paths in the
  // ConfigMap hold in both.
  const ds = find('DaemonSet', 'kubearmor-shipper').spec.template.spec;
  for (const volume of ['config', 'es-ca']) {
    assert.deepEqual(
      spec.volumes.find((v: Obj) => v.name === volume),
      ds.volumes.find((v: Obj) => v.name === volume),
      volume,
    );
    assert.deepEqual(
      container.volumeMounts.find((m: Obj) => m.name === volume),
      ds.containers[0].volumeMounts.find((m: Obj) => m.name === volume),
      volume,
    );
  }
  const args = container.args as string[];
  assert.deepEqual(args, ['prune', '--config', ds.containers[0].args[2]], "the DaemonSet's config file");
  const dir = await mkdtemp(join(tmpdir(), 'prune-cronjob-'));
  try {
    const configFile = join(dir, 'shipper.yaml');
    await writeFile(configFile, find('ConfigMap', 'kubearmor-shipper').data['shipper.yaml']);
    const out = await runShipper([...args.slice(0, -1), configFile, '--print-config'], {
      ES_API_KEY: 'from-secret',
    });
    assert.equal(out.code, 0, out.stderr);
    const config = parse(out.stdout) as Obj;
    assert.equal(config.elasticsearch.apiKey, '[redacted]');
    assert.equal(dirname(config.elasticsearch.caFile), '/etc/kubearmor-shipper/es-ca');
    assert.equal(config.elasticsearch.retentionDays, 30);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  await createIfAbsent(() => core.createNamespace({ body: { metadata: { name: NAMESPACE } } }));
  const applied = await kubectl(
    'apply',
    '-f',
    relative(dirname(root), file),
    '--dry-run=server',
    '--validate=strict',
  );
  assert.equal(applied.trim(), 'cronjob.batch/kubearmor-shipper-prune created (server dry run)');
});

/** The Secrets and ConfigMaps a pod spec refers to (env, envFrom, volumes), sorted. */
function references(spec: Obj): { secrets: string[]; configMaps: string[] } {
  const secrets = new Set<string>();
  const configMaps = new Set<string>();
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef) secrets.add(e.valueFrom.secretKeyRef.name);
      if (e.valueFrom?.configMapKeyRef) configMaps.add(e.valueFrom.configMapKeyRef.name);
    }
    for (const e of c.envFrom ?? []) {
      if (e.secretRef) secrets.add(e.secretRef.name);
      if (e.configMapRef) configMaps.add(e.configMapRef.name);
    }
  }
  for (const v of spec.volumes ?? []) {
    if (v.secret) secrets.add(v.secret.secretName);
    if (v.configMap) configMaps.add(v.configMap.name);
  }
  return { secrets: [...secrets].sort(), configMaps: [...configMaps].sort() };
}

test("the shipper into a cluster you already run (README): exactly the Secrets it has users make, the setup Job's key request, and the OpenSearch switch by the real kubectl", async () => {
  const readme = readFileSync(join(root, '..', 'README.md'), 'utf8');
  const ds = find('DaemonSet', 'kubearmor-shipper');
  assert.deepEqual(references(ds.spec.template.spec), {
    secrets: ['elasticsearch-ca', 'kubearmor-shipper-elasticsearch'],
    configMaps: ['kubearmor-shipper'],
  });
  const env = ds.spec.template.spec.containers[0].env as Obj[];
  assert.equal(env.find((e) => e.name === 'ES_API_KEY')?.valueFrom.secretKeyRef.key, 'apiKey');
  assert.ok(readme.includes('--from-literal=apiKey='), 'the README names the key the DaemonSet reads');
  const request = JSON.parse(
    readFileSync(
      join(root, '..', 'assets', 'kubernetes', 'own-cluster', 'shipper-api-key-request.json'),
      'utf8',
    ),
  );
  assert.deepEqual(request, {
    name: 'kubearmor-shipper',
    role_descriptors: shipperRoleDescriptors('kubearmor'),
  });

  // OpenSearch: the README's `set env`, by the real kubectl, on a DaemonSet in the real API server
  // (a namespace of its own: `npm test` runs this file on two Node versions at once).
  const switchCommand = [
    'set',
    'env',
    'daemonset/kubearmor-shipper',
    'ES_API_KEY-',
    '--from=secret/kubearmor-shipper-opensearch',
  ];
  assert.ok(
    readme.includes(`kubectl -n kubearmor-logging ${switchCommand.join(' ')}`),
    'the README says it so',
  );
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespace = `kal-own-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  try {
    await applyManifest(kc, join(root, 'shipper', 'daemonset.yaml'), undefined, ['DaemonSet'], namespace);
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: 'kubearmor-shipper-opensearch' },
        stringData: { ES_USERNAME: 'shipper', ES_PASSWORD: 'not-a-real-one' },
      },
    });
    await kubectl('-n', namespace, ...switchCommand);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const after = (await apps.readNamespacedDaemonSet({ name: 'kubearmor-shipper', namespace })) as Obj;
    const spec = after.spec.template.spec;
    assert.deepEqual(references(spec), {
      secrets: ['elasticsearch-ca', 'kubearmor-shipper-opensearch'],
      configMaps: ['kubearmor-shipper'],
    });
    const byName = new Map((spec.containers[0].env as Obj[]).map((e) => [e.name, e]));
    assert.equal(byName.has('ES_API_KEY'), false);
    for (const name of ['ES_USERNAME', 'ES_PASSWORD']) {
      const ref = byName.get(name)?.valueFrom?.secretKeyRef;
      assert.equal(ref?.name, 'kubearmor-shipper-opensearch', name);
      assert.equal(ref?.key, name);
    }
    assert.ok(byName.has('NODE_NAME'), 'the rest kept');
  } finally {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
});
