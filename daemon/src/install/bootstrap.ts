// `kubearmor-shipper bootstrap`: the install-time step of the Kubernetes deployment (the setup
// Job). Every credential is made here, at install, and kept in Secrets; none is in the manifests.
// Idempotent: what exists is kept, except an API key or token Elasticsearch no longer accepts
// (its data was wiped), which is replaced.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientOptions } from '@elastic/elasticsearch';
import { savedObjects, toNdjson } from '../../../dashboards/saved-objects.js';
import { importSavedObjects } from '../dashboards/kibana-import.js';
import { describeError, ElasticsearchHttp } from '../ship/elasticsearch-http.js';
import { installTemplates } from '../ship/index-templates.js';

/** Secrets of one namespace, data decoded. */
export interface SecretStore {
  get(name: string): Promise<Record<string, string> | undefined>;
  /** False if it exists already (another run made it first). */
  create(name: string, data: Record<string, string>): Promise<boolean>;
  replace(name: string, data: Record<string, string>): Promise<void>;
}

export const SECRET_NAMES = {
  credentials: 'elasticsearch-credentials',
  certificates: 'elasticsearch-certs',
  ca: 'elasticsearch-ca',
  kibanaKeys: 'kibana-encryption-keys',
  kibanaToken: 'kibana-elasticsearch-token',
  shipperKey: 'kubearmor-shipper-elasticsearch',
} as const;

/**
 * What the shipper's API key may do: write documents into and create its indices, install its
 * templates and lifecycle policy, read cluster health. Not: read documents, delete anything.
 */
export function shipperRoleDescriptors(prefix: string): Record<string, unknown> {
  return {
    'kubearmor-shipper': {
      cluster: ['monitor', 'manage_index_templates', 'manage_ilm'],
      indices: [
        {
          names: [`${prefix}-*`],
          privileges: ['create_doc', 'create_index', 'auto_configure', 'view_index_metadata'],
        },
      ],
    },
  };
}

export interface BootstrapOptions {
  secrets: SecretStore;
  /** ca.crt, tls.crt, tls.key made by elasticsearch-certutil (used only if no Secret holds them yet). */
  certsDir: string;
  esUrl: string;
  /** Dashboards are imported when given. */
  kibanaUrl?: string | undefined;
  indexPrefix: string;
  replicas: number;
  retentionDays: number;
  /** How long to wait for Elasticsearch, then Kibana, to answer. */
  waitMs: number;
  log: (line: string) => void;
}

function secret(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

async function ensure(
  secrets: SecretStore,
  name: string,
  make: () => Promise<Record<string, string>> | Record<string, string>,
  log: (line: string) => void,
): Promise<Record<string, string>> {
  const existing = await secrets.get(name);
  if (existing !== undefined) {
    log(`secret ${name}: kept`);
    return existing;
  }
  const data = await make();
  if (await secrets.create(name, data)) {
    log(`secret ${name}: created`);
    return data;
  }
  return (await secrets.get(name)) as Record<string, string>;
}

async function put(secrets: SecretStore, name: string, data: Record<string, string>): Promise<void> {
  if (!(await secrets.create(name, data))) await secrets.replace(name, data);
}

async function newClient(options: ClientOptions) {
  const { Client } = await import('@elastic/elasticsearch');
  return new Client(options);
}

/** Whether Elasticsearch accepts these credentials. */
async function accepted(
  url: string,
  ca: string,
  auth: { apiKey: string } | { bearer: string },
): Promise<boolean> {
  const client = await newClient({ node: url, auth, tls: { ca }, maxRetries: 0, requestTimeout: 10_000 });
  try {
    await client.security.authenticate();
    return true;
  } catch (err) {
    const status = (err as { meta?: { statusCode?: number } }).meta?.statusCode;
    if (status === 401 || status === 403) return false;
    throw err;
  } finally {
    await client.close();
  }
}

/**
 * Keeps the credential in Secret `name` if Elasticsearch accepts it; otherwise makes a new one
 * (none yet, or Elasticsearch lost it with its data) and stores it.
 */
async function ensureAccepted(
  o: BootstrapOptions,
  ca: string,
  name: string,
  authOf: (data: Record<string, string>) => { apiKey: string } | { bearer: string } | undefined,
  make: () => Promise<{ data: Record<string, string>; what: string }>,
): Promise<void> {
  const existing = await o.secrets.get(name);
  const auth = existing === undefined ? undefined : authOf(existing);
  if (auth !== undefined && (await accepted(o.esUrl, ca, auth))) {
    o.log(`secret ${name}: kept (Elasticsearch accepts it)`);
    return;
  }
  const made = await make();
  await put(o.secrets, name, made.data);
  o.log(`secret ${name}: ${made.what}`);
}

export async function bootstrap(o: BootstrapOptions): Promise<void> {
  const { secrets, log } = o;
  const credentials = await ensure(
    secrets,
    SECRET_NAMES.credentials,
    () => ({ username: 'elastic', password: secret(24) }),
    log,
  );
  const certificates = await ensure(
    secrets,
    SECRET_NAMES.certificates,
    async () => ({
      'ca.crt': await readFile(join(o.certsDir, 'ca.crt'), 'utf8'),
      'tls.crt': await readFile(join(o.certsDir, 'tls.crt'), 'utf8'),
      'tls.key': await readFile(join(o.certsDir, 'tls.key'), 'utf8'),
    }),
    log,
  );
  const ca = certificates['ca.crt'] as string;
  // Clients get the CA alone; kept equal to the certificates' CA.
  const caSecret = await ensure(secrets, SECRET_NAMES.ca, () => ({ 'ca.crt': ca }), log);
  if (caSecret['ca.crt'] !== ca) {
    await secrets.replace(SECRET_NAMES.ca, { 'ca.crt': ca });
    log(`secret ${SECRET_NAMES.ca}: replaced (the CA changed)`);
  }
  await ensure(
    secrets,
    SECRET_NAMES.kibanaKeys,
    () => ({ security: secret(32), savedObjects: secret(32), reporting: secret(32) }),
    log,
  );

  const admin = await newClient({
    node: o.esUrl,
    auth: { username: credentials.username as string, password: credentials.password as string },
    tls: { ca },
    maxRetries: 0,
    requestTimeout: 30_000,
  });
  try {
    await waitFor('Elasticsearch', o.waitMs, log, () =>
      admin.cluster.health({ wait_for_status: 'yellow', timeout: '5s' }),
    );

    await ensureAccepted(
      o,
      ca,
      SECRET_NAMES.shipperKey,
      (data) => (data.apiKey === undefined ? undefined : { apiKey: data.apiKey }),
      async () => {
        const key = await admin.security.createApiKey({
          name: 'kubearmor-shipper',
          role_descriptors: shipperRoleDescriptors(o.indexPrefix) as never,
          metadata: { managed_by: 'kubearmor-shipper bootstrap' },
        });
        return {
          data: { apiKey: key.encoded, id: key.id },
          what: `API key ${key.id} created (create documents, manage templates on ${o.indexPrefix}-*)`,
        };
      },
    );
    await ensureAccepted(
      o,
      ca,
      SECRET_NAMES.kibanaToken,
      (data) => (data.token === undefined ? undefined : { bearer: data.token }),
      async () => {
        const token = await admin.security.createServiceToken({
          namespace: 'elastic',
          service: 'kibana',
          name: `kubearmor-${Date.now().toString(36)}`,
        });
        return {
          data: { token: token.token.value },
          what: `service token elastic/kibana/${token.token.name} created`,
        };
      },
    );

    // The templates go in with the shipper's own key: proof that it has what it needs.
    const key = (await secrets.get(SECRET_NAMES.shipperKey))?.apiKey as string;
    const shipper = new ElasticsearchHttp({
      url: o.esUrl,
      apiKey: key,
      ca,
      tlsVerify: true,
      requestTimeoutMs: 30_000,
    });
    try {
      const setup = await installTemplates(shipper, {
        prefix: o.indexPrefix,
        shards: 1,
        replicas: o.replicas,
        retentionDays: o.retentionDays,
      });
      log(
        `index templates installed: ${setup.templates.join(', ')}; lifecycle: ${setup.lifecycle} (${setup.distribution})`,
      );
    } finally {
      shipper.close();
    }
  } finally {
    await admin.close();
  }

  if (o.kibanaUrl !== undefined) {
    const outcome = await importSavedObjects(toNdjson(savedObjects()), {
      kibanaUrl: o.kibanaUrl,
      auth: { username: credentials.username as string, password: credentials.password as string },
      waitMs: o.waitMs,
      log,
    });
    for (const e of outcome.errors) log(`dashboards: failed ${e.type} ${e.id}: ${e.error}`);
    if (!outcome.ok) throw new Error('the dashboards import had errors');
    log(`dashboards: ${outcome.imported.length} objects imported into ${o.kibanaUrl}`);
  }
}

async function waitFor(
  what: string,
  waitMs: number,
  log: (line: string) => void,
  probe: () => Promise<unknown>,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  let last = '';
  for (let attempt = 0; ; attempt++) {
    try {
      await probe();
      log(`${what}: answering`);
      return;
    } catch (err) {
      last = describeError(err);
      if (Date.now() > deadline) throw new Error(`${what} did not answer in ${waitMs / 1000} s: ${last}`);
      if (attempt % 10 === 0) log(`${what}: waiting (${last})`);
      await sleep(Math.min(5000, 500 * 2 ** Math.min(attempt, 4)));
    }
  }
}
