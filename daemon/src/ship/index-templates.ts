// The indices' mappings, installed as composable templates before anything is indexed.
// - Every field dashboards filter or chart on is a keyword; PIDs, UID and severity are numbers.
// - `dynamic: false` at the top: a field a future KubeArmor adds is kept in _source (visible in
//   Discover) but cannot change the mapping, so it can neither break indexing nor explode the
//   field count; it becomes searchable when this template learns it.
// - Label maps (`labels`, `kubernetes.labels`, `kubernetes.annotations`) and `EventData` are
//   `flattened`: any key, dots and slashes included, is one field, never an object path. OpenSearch
//   has no `flattened`; its counterpart is `flat_object` (2.7+), which takes no `ignore_above`, so
//   there a single label or EventData value over 32 KB gets the document refused (dead-lettered).
// - `index.mapping.ignore_malformed`: a wrong-typed value (a PID that is not a number) leaves that
//   field unindexed instead of rejecting the document.
import type { ElasticsearchRequester } from './elasticsearch-http.js';

/** Bumped whenever the templates change, so `setup` can tell an old installation. */
export const TEMPLATE_VERSION = 1;

type Mapping = Record<string, unknown>;

const keyword = { type: 'keyword', ignore_above: 1024 };
const longKeyword = { type: 'keyword', ignore_above: 4096 };
/** Charted as a keyword, searched as text. */
const keywordAndText = { type: 'keyword', ignore_above: 4096, fields: { text: { type: 'text' } } };
const long = { type: 'long' };
const integer = { type: 'integer' };
const date = { type: 'date' };
const flattened = { type: 'flattened', ignore_above: 1024 };
const flatObject = { type: 'flat_object' };

/** Provenance added by the shipper (see parse/kubearmor-record.ts). */
const logFields: Mapping = {
  properties: {
    file: { properties: { path: longKeyword } },
    offset: long,
    stream: keyword,
    time: { type: 'date_nanos' },
    node: keyword,
    parts: integer,
    flags: keyword,
    level: keyword,
  },
};

/** Pod metadata from the Kubernetes API (the enrichment stage). */
const kubernetesFields: Mapping = {
  properties: {
    namespace: keyword,
    pod: { properties: { name: keyword, uid: keyword, ip: keyword } },
    node: { properties: { name: keyword } },
    container: { properties: { name: keyword, id: keyword, image: keyword } },
    owner: { properties: { kind: keyword, name: keyword } },
    deployment: { properties: { name: keyword } },
    labels: flattened,
    annotations: flattened,
    namespace_labels: flattened,
    metadata: { properties: { partial: { type: 'boolean' }, reason: keyword } },
  },
};

/** KubeArmor's Alert, Log and Message fields (kubearmor.proto), and what the shipper derives. */
export const kubeArmorMappings: Mapping = {
  dynamic: false,
  properties: {
    '@timestamp': date,
    Timestamp: long,
    UpdatedTime: date,
    ClusterName: keyword,
    HostName: keyword,
    HostIP: keyword,
    NamespaceName: keyword,
    Owner: { properties: { Ref: keyword, Name: keyword, Namespace: keyword } },
    PodName: keyword,
    Labels: longKeyword,
    ContainerID: keyword,
    ContainerName: keyword,
    ContainerImage: keyword,
    HostPPID: long,
    HostPID: long,
    PPID: long,
    PID: long,
    UID: long,
    ParentProcessName: longKeyword,
    ProcessName: longKeyword,
    PolicyName: keyword,
    Severity: keyword,
    Tags: longKeyword,
    ATags: keyword,
    Message: keywordAndText,
    Type: keyword,
    Source: keywordAndText,
    Operation: keyword,
    Resource: keywordAndText,
    Data: keywordAndText,
    EventData: flattened,
    Enforcer: keyword,
    Action: keyword,
    Result: keyword,
    Cwd: longKeyword,
    TTY: keyword,
    MaxAlertsPerSec: integer,
    DroppingAlertsInterval: integer,
    ExecEvent: { properties: { ExecID: keyword, ExecutableName: keyword } },
    KubeArmorVersion: keyword,
    NodeID: keyword,
    ProcessHash: keyword,
    ParentHash: keyword,
    ResourceHash: keyword,
    HashAlgo: keyword,
    UserName: keyword,
    Level: keyword,
    severity_num: integer,
    action_base: keyword,
    action_policy: keyword,
    labels: flattened,
    tags: keyword,
    log: logFields,
    kubernetes: kubernetesFields,
  },
};

/** Lines of the relay log that are not KubeArmor records. */
export const relayMappings: Mapping = {
  dynamic: false,
  properties: {
    '@timestamp': date,
    message: { type: 'text', fields: { keyword: longKeyword } },
    relay: { properties: { reason: keyword } },
    log: logFields,
    kubernetes: kubernetesFields,
  },
};

/** Documents Elasticsearch rejected, kept with the reason and where they came from. */
export const deadLetterMappings: Mapping = {
  dynamic: false,
  properties: {
    '@timestamp': date,
    error: { properties: { status: integer, type: keyword, reason: { type: 'text' } } },
    target: { properties: { index: keyword, id: keyword } },
    log: logFields,
    event: { properties: { original: { type: 'text', index: false } } },
  },
};

export type IndexKind = 'alerts' | 'logs' | 'messages' | 'relay' | 'deadletter';
export const INDEX_KINDS: readonly IndexKind[] = ['alerts', 'logs', 'messages', 'relay', 'deadletter'];

/** The search engine that answers: Elasticsearch, or OpenSearch (its 2.x forked from Elasticsearch 7.10). */
export type Distribution = 'elasticsearch' | 'opensearch';

export interface TemplateOptions {
  prefix: string;
  distribution: Distribution;
  shards: number;
  replicas: number;
  /** ILM policy to attach, when the cluster has ILM. */
  lifecyclePolicy?: string | undefined;
}

export function mappingsFor(kind: IndexKind, distribution: Distribution = 'elasticsearch'): Mapping {
  const mapping =
    kind === 'relay' ? relayMappings : kind === 'deadletter' ? deadLetterMappings : kubeArmorMappings;
  return distribution === 'opensearch' ? withFlatObjects(mapping) : mapping;
}

/** The mapping with every `flattened` field made OpenSearch's `flat_object`. */
function withFlatObjects(mapping: Mapping): Mapping {
  const out: Mapping = {};
  for (const key in mapping) {
    const value = mapping[key];
    out[key] =
      value === flattened
        ? flatObject
        : typeof value === 'object' && value !== null && !Array.isArray(value)
          ? withFlatObjects(value as Mapping)
          : value;
  }
  return out;
}

/** The index templates to install: name → body. */
export function indexTemplates(options: TemplateOptions): { name: string; body: Mapping }[] {
  return INDEX_KINDS.map((kind) => {
    const settings: Mapping = {
      number_of_shards: options.shards,
      number_of_replicas: options.replicas,
      'mapping.ignore_malformed': true,
      'mapping.total_fields.limit': 2000,
    };
    if (options.lifecyclePolicy !== undefined) settings['lifecycle.name'] = options.lifecyclePolicy;
    return {
      name: `${options.prefix}-${kind}`,
      body: {
        index_patterns: [`${options.prefix}-${kind}-*`],
        priority: 200,
        template: { settings: { index: settings }, mappings: mappingsFor(kind, options.distribution) },
        _meta: { managed_by: 'kubearmor-shipper', version: TEMPLATE_VERSION },
      },
    };
  });
}

/**
 * Which engine answers `GET /`: OpenSearch names itself in `version.distribution`. A refusal (4xx
 * but 401) is taken for Elasticsearch: its integ-test distribution has no `GET /` (405), and API
 * keys without `monitor` may not read it (403).
 */
export async function detectDistribution(es: ElasticsearchRequester): Promise<Distribution> {
  try {
    const root = (await es.request('GET', '/')) as { version?: { distribution?: unknown } } | null;
    return root?.version?.distribution === 'opensearch' ? 'opensearch' : 'elasticsearch';
  } catch (err) {
    const status = (err as { meta?: { statusCode?: number } }).meta?.statusCode;
    if (status !== undefined && status >= 400 && status < 500 && status !== 401) return 'elasticsearch';
    throw err;
  }
}

/** ILM is there; it is not (the test distribution, OpenSearch-like clusters); or these credentials may not tell. */
export type Lifecycle = 'ilm' | 'none' | 'forbidden';

/** Whether the cluster manages index lifecycles (ILM). Clusters without it answer 4xx. */
export async function detectLifecycle(es: ElasticsearchRequester): Promise<Lifecycle> {
  try {
    await es.request('GET', '/_ilm/status');
    return 'ilm';
  } catch (err) {
    const status = (err as { meta?: { statusCode?: number } }).meta?.statusCode;
    // 401 is wrong credentials: an error, not an answer about ILM.
    if (status === 403) return 'forbidden';
    if (status !== undefined && status >= 400 && status < 500 && status !== 401) return 'none';
    throw err;
  }
}

/** What becomes of old indices when no lifecycle policy is attached; undefined when ILM sees to it. */
export function withoutLifecycle(
  lifecycle: Lifecycle,
  retentionDays: number,
  distribution: Distribution = 'elasticsearch',
): string | undefined {
  const prune = `\`kubearmor-shipper prune --older-than ${retentionDays}d\``;
  switch (lifecycle) {
    case 'ilm':
      return undefined;
    case 'none':
      return distribution === 'opensearch'
        ? `OpenSearch has no ILM and the shipper manages no ISM policy: old indices stay until ${prune} deletes them (or an ISM policy you attach does)`
        : `this cluster has no ILM: old indices stay until ${prune} deletes them`;
    case 'forbidden':
      return `these credentials may not read ILM (403), so no lifecycle policy is attached: grant them the manage_ilm cluster privilege, or old indices stay until ${prune} deletes them`;
  }
}

export interface SetupResult {
  distribution: Distribution;
  lifecycle: Lifecycle;
  templates: string[];
  policy: string | undefined;
}

/** Installs (or updates) the lifecycle policy, where possible, and the index templates. */
export async function installTemplates(
  es: ElasticsearchRequester,
  options: Omit<TemplateOptions, 'lifecyclePolicy' | 'distribution'> & { retentionDays: number },
): Promise<SetupResult> {
  const distribution = await detectDistribution(es);
  const lifecycle = await detectLifecycle(es);
  let policy: string | undefined;
  if (lifecycle === 'ilm') {
    policy = `${options.prefix}-retention`;
    await es.request('PUT', `/_ilm/policy/${policy}`, {
      body: JSON.stringify({
        policy: {
          _meta: { managed_by: 'kubearmor-shipper' },
          phases: {
            hot: { actions: {} },
            delete: { min_age: `${options.retentionDays}d`, actions: { delete: {} } },
          },
        },
      }),
    });
  }
  const templates = indexTemplates({ ...options, distribution, lifecyclePolicy: policy });
  for (const t of templates) {
    await es.request('PUT', `/_index_template/${t.name}`, { body: JSON.stringify(t.body) });
  }
  return { distribution, lifecycle, templates: templates.map((t) => t.name), policy };
}

/** What `prune` found: what it deletes, and what it keeps although its name is past retention. */
export interface PruneCandidates {
  /** Named for a day more than `days` days ago and created more than `days` days ago. */
  past: string[];
  /**
   * Named for a day past retention but created within it: old records shipped lately (a backfill,
   * a node whose clock was behind). Kept until `days` after creation, as an ILM policy would keep
   * them, so evidence written today is never deleted by the next prune.
   */
  writtenLately: { index: string; created: Date | undefined }[];
}

/** Our daily indices past `days` days of retention, by their name's day and their creation. */
export async function indicesOlderThan(
  es: ElasticsearchRequester,
  prefix: string,
  days: number,
  now = new Date(),
): Promise<PruneCandidates> {
  const cutoff = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - days * 86_400_000;
  const createdBefore = now.getTime() - days * 86_400_000;
  const rows = (await es.request('GET', `/_cat/indices/${prefix}-*`, {
    query: { format: 'json', h: 'index,creation.date' },
  })) as { index?: string; 'creation.date'?: string }[];
  const found: PruneCandidates = { past: [], writtenLately: [] };
  for (const row of rows) {
    const name = row.index ?? '';
    const m = /-(\d{4})\.(\d{2})\.(\d{2})$/.exec(name);
    if (m === null || !INDEX_KINDS.some((k) => name.startsWith(`${prefix}-${k}-`))) continue;
    if (Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) >= cutoff) continue;
    // A creation date the cluster does not give is taken for recent: never delete on a guess.
    const created = Number(row['creation.date'] ?? Number.NaN);
    if (Number.isFinite(created) && created < createdBefore) found.past.push(name);
    else
      found.writtenLately.push({
        index: name,
        created: Number.isFinite(created) ? new Date(created) : undefined,
      });
  }
  found.past.sort();
  found.writtenLately.sort((a, b) => (a.index < b.index ? -1 : 1));
  return found;
}

/** `prune`: deletes our daily indices past retention (see `indicesOlderThan`), unless a dry run. */
export async function pruneIndices(
  es: ElasticsearchRequester,
  prefix: string,
  days: number,
  options: { dryRun?: boolean; now?: Date } = {},
): Promise<PruneCandidates> {
  const found = await indicesOlderThan(es, prefix, days, options.now);
  if (options.dryRun !== true) for (const index of found.past) await es.request('DELETE', `/${index}`);
  return found;
}
