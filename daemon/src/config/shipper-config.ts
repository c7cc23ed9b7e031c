// The shipper's configuration: defaults, then an optional YAML file (the ConfigMap), then
// environment variables, then command-line flags, validated as one object. An error names the key.
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { CloudIdError, decodeCloudId } from './cloud-id.js';

export const DEFAULT_PATHS = ['/var/log/containers/kubearmor-relay-*.log'];

const positive = z.number().int().positive();
// `es-0:9200` is a URL too (of the scheme `es-0`): only what the shipper can talk to passes.
const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'an http:// or https:// URL');

const ElasticsearchSchema = z.strictObject({
  /**
   * One URL, or several (a list, or commas): the cluster's nodes, tried in turn when the one in
   * use cannot be reached. Always a list once validated.
   */
  url: z
    .preprocess((v) => (typeof v === 'string' ? splitList(v) : v), z.array(httpUrl).min(1))
    .default(['http://127.0.0.1:9200']),
  /** Elastic Cloud's deployment ID, instead of `url` (which it then gives). */
  cloudId: z.string().min(1).optional(),
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  /** An API key, encoded (base64 of `id:key`) as Elasticsearch returns it. */
  apiKey: z.string().min(1).optional(),
  /** PEM file of the CA that signed Elasticsearch's certificate. */
  caFile: z.string().min(1).optional(),
  /** Verify Elasticsearch's TLS certificate. Only turn off for a throwaway test cluster. */
  tlsVerify: z.boolean().default(true),
  compression: z.boolean().default(true),
  requestTimeoutMs: positive.default(60_000),
  shards: positive.default(1),
  replicas: z.number().int().min(0).default(1),
  /** Delete daily indices after this many days (ILM where the cluster has it; else `prune`). */
  retentionDays: positive.default(30),
});

const KubernetesSchema = z.strictObject({
  /** The pod watch: `auto` turns it on inside a cluster or with a kubeconfig ($KUBECONFIG or `kubeconfig`). */
  metadata: z.enum(['auto', 'on', 'off']).default('auto'),
  kubeconfig: z.string().min(1).optional(),
  /** Annotation keys to copy (exact, or a prefix ending in `*`); none by default. */
  annotations: z.array(z.string().min(1)).default([]),
  namespaceLabels: z
    .strictObject({
      enabled: z.boolean().default(false),
      ttlSeconds: positive.default(300),
      negativeTtlSeconds: positive.default(60),
      /** At most this many namespace GETs a second. */
      perSecond: z.number().positive().default(2),
    })
    .default({ enabled: false, ttlSeconds: 300, negativeTtlSeconds: 60, perSecond: 2 }),
  /** Server-side watch timeout; each watch picks a random value between it and twice it. */
  watchTimeoutSeconds: positive.default(300),
  /** How long reading waits at start for the first pod list (then goes on without it). */
  initialSyncTimeoutMs: z.number().int().min(0).default(5000),
  /** A deleted pod no open file needs is forgotten after this (its files may not be found yet). */
  deletedPodGraceSeconds: positive.default(300),
  requestTimeoutMs: positive.default(30_000),
});

export const ConfigSchema = z.strictObject({
  paths: z.array(z.string().min(1)).min(1).default(DEFAULT_PATHS),
  exclude: z.array(z.string().min(1)).default([]),
  checkpointDir: z.string().min(1).default('/var/lib/kubearmor-shipper'),
  startAt: z.enum(['beginning', 'end']).default('beginning'),
  nodeName: z.string().min(1).default(hostname()),
  indexPrefix: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower case letters, digits, ".", "_" or "-"')
    .default('kubearmor'),
  maxEventBytes: positive.default(1 << 20),
  elasticsearch: ElasticsearchSchema.default(ElasticsearchSchema.parse({})),
  kubernetes: KubernetesSchema.default(KubernetesSchema.parse({})),
  batch: z
    .strictObject({
      maxDocs: positive.default(2000),
      maxBytes: positive.default(2 << 20),
      maxAgeMs: positive.default(1000),
      maxInFlight: positive.max(16).default(2),
    })
    .default({ maxDocs: 2000, maxBytes: 2 << 20, maxAgeMs: 1000, maxInFlight: 2 }),
  retry: z
    .strictObject({ initialMs: positive.default(500), maxMs: positive.default(30_000) })
    .default({ initialMs: 500, maxMs: 30_000 }),
  /**
   * Bytes of records read but not yet acknowledged; past it, reading waits. The default holds the
   * requests in flight, the batch being filled and one waiting (2 + 1 + 1 batches of 2 MiB): more
   * only queues batches behind the same two requests (16 MiB shipped no faster, ~15 MiB larger).
   */
  memoryBudgetBytes: positive.default(8 << 20),
  /** Rejected documents Elasticsearch would not take even in the dead-letter index. */
  deadLetterFileMaxBytes: positive.default(50 << 20),
  http: z
    .strictObject({
      enabled: z.boolean().default(true),
      host: z.string().default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(2021),
    })
    .default({ enabled: true, host: '0.0.0.0', port: 2021 }),
  scanIntervalMs: positive.default(2000),
  rotateWaitMs: positive.default(5000),
  shutdownGraceMs: positive.default(20_000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
});

export type ShipperConfig = z.infer<typeof ConfigSchema>;

/** A raw, partial configuration from one source (file, environment, flags). */
export type RawConfig = Record<string, unknown>;

export class ConfigError extends Error {}

const SECRET_KEYS = new Set(['password', 'apiKey']);

/** The environment variables the shipper reads, and where each one goes. */
export const ENVIRONMENT: Record<string, { path: string[]; type: 'string' | 'list' | 'boolean' | 'number' }> =
  {
    ES_URL: { path: ['elasticsearch', 'url'], type: 'string' },
    ES_CLOUD_ID: { path: ['elasticsearch', 'cloudId'], type: 'string' },
    ES_USERNAME: { path: ['elasticsearch', 'username'], type: 'string' },
    ES_PASSWORD: { path: ['elasticsearch', 'password'], type: 'string' },
    ES_API_KEY: { path: ['elasticsearch', 'apiKey'], type: 'string' },
    ES_CA_FILE: { path: ['elasticsearch', 'caFile'], type: 'string' },
    ES_TLS_VERIFY: { path: ['elasticsearch', 'tlsVerify'], type: 'boolean' },
    NODE_NAME: { path: ['nodeName'], type: 'string' },
    SHIPPER_KUBERNETES_METADATA: { path: ['kubernetes', 'metadata'], type: 'string' },
    SHIPPER_PATHS: { path: ['paths'], type: 'list' },
    SHIPPER_EXCLUDE: { path: ['exclude'], type: 'list' },
    SHIPPER_CHECKPOINT_DIR: { path: ['checkpointDir'], type: 'string' },
    SHIPPER_INDEX_PREFIX: { path: ['indexPrefix'], type: 'string' },
    SHIPPER_LOG_LEVEL: { path: ['logLevel'], type: 'string' },
    SHIPPER_HTTP_PORT: { path: ['http', 'port'], type: 'number' },
  };

function setPath(target: RawConfig, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null || typeof next !== 'object') node[key] = {};
    node = node[key] as RawConfig;
  }
  node[path[path.length - 1] as string] = value;
}

export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** The part of the configuration set by environment variables. */
export function configFromEnv(env: NodeJS.ProcessEnv): RawConfig {
  const out: RawConfig = {};
  for (const [name, { path, type }] of Object.entries(ENVIRONMENT)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (type === 'list') value = splitList(raw);
    else if (type === 'boolean') {
      if (!/^(true|false)$/i.test(raw)) throw new ConfigError(`${name} must be true or false, not "${raw}"`);
      value = raw.toLowerCase() === 'true';
    } else if (type === 'number') {
      value = Number(raw);
      if (!Number.isFinite(value)) throw new ConfigError(`${name} must be a number, not "${raw}"`);
    }
    setPath(out, path, value);
  }
  return out;
}

export async function configFromFile(path: string): Promise<RawConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the config file ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  // Loaded when a file is read: a run without one starts ~50 ms sooner.
  const { parse: parseYaml } = await import('yaml');
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${path} is not valid YAML: ${(err as Error).message}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw new ConfigError(`${path} must hold a mapping of settings`);
  return data as RawConfig;
}

/** Merges sources, later ones winning key by key (objects merge, lists and values replace). */
export function mergeConfig(...sources: RawConfig[]): RawConfig {
  const out: RawConfig = {};
  for (const source of sources) {
    for (const [key, value] of Object.entries(source)) {
      const prev = out[key];
      if (isPlainObject(value) && isPlainObject(prev)) out[key] = mergeConfig(prev, value);
      else if (value !== undefined) out[key] = value;
    }
  }
  return out;
}

/**
 * The sources merged as mergeConfig does, except that `elasticsearch.url` and `cloudId` are one
 * setting spelled two ways: the later source's spelling replaces the earlier's (a Cloud ID in the
 * environment wins over the ConfigMap's URL). One source giving both is an error.
 */
export function layerConfig(...sources: RawConfig[]): RawConfig {
  const merged = mergeConfig(...sources);
  const last = sources
    .map((source) => source.elasticsearch)
    .findLast((es) => isPlainObject(es) && (es.url !== undefined || es.cloudId !== undefined)) as
    | RawConfig
    | undefined;
  // Both in that source: left for validateConfig to refuse.
  if (last !== undefined && (last.url === undefined) !== (last.cloudId === undefined))
    delete (merged.elasticsearch as RawConfig)[last.url === undefined ? 'url' : 'cloudId'];
  return merged;
}

function isPlainObject(v: unknown): v is RawConfig {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Validates a merged configuration; the error lists every bad key by its dotted name. */
export function validateConfig(raw: RawConfig): ShipperConfig {
  const rawEs = isPlainObject(raw.elasticsearch) ? raw.elasticsearch : {};
  if (rawEs.url !== undefined && rawEs.cloudId !== undefined) {
    throw new ConfigError(
      'invalid configuration:\n  elasticsearch.url and elasticsearch.cloudId both name the cluster: give one',
    );
  }
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(top level)';
      if (issue.code === 'unrecognized_keys') {
        const prefix = issue.path.length > 0 ? `${issue.path.join('.')}.` : '';
        return `unknown setting ${issue.keys.map((k) => `"${prefix}${k}"`).join(', ')}`;
      }
      return `${key}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const config = result.data;
  const es = config.elasticsearch;
  if (es.cloudId !== undefined) {
    try {
      es.url = [decodeCloudId(es.cloudId).elasticsearchUrl];
    } catch (err) {
      if (!(err instanceof CloudIdError)) throw err;
      throw new ConfigError(
        `invalid configuration:\n  elasticsearch.cloudId: not a Cloud ID: ${err.message}`,
      );
    }
  }
  if ((es.username === undefined) !== (es.password === undefined)) {
    throw new ConfigError(
      'invalid configuration:\n  elasticsearch.username and elasticsearch.password go together',
    );
  }
  if (es.apiKey !== undefined && es.username !== undefined) {
    throw new ConfigError(
      'invalid configuration:\n  use elasticsearch.apiKey or username/password, not both',
    );
  }
  return config;
}

/** The configuration with secrets replaced, for printing and logging. */
export function redactConfig(config: ShipperConfig): RawConfig {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!isPlainObject(v)) return v;
    const out: RawConfig = {};
    for (const [k, value] of Object.entries(v))
      out[k] = SECRET_KEYS.has(k) && value !== undefined ? '[redacted]' : walk(value);
    return out;
  };
  return walk(config) as RawConfig;
}

/** Where rejected documents go when Elasticsearch refuses them in the dead-letter index too. */
export function deadLetterFilePath(config: ShipperConfig): string {
  return join(config.checkpointDir, 'deadletter.ndjson');
}
