import { mkdir, readFile, stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { savedObjects, toNdjson } from '../../dashboards/saved-objects.js';
import { CheckpointStore, DRY_RUN_FILE_NAME } from './checkpoint/checkpoint-store.js';
import { describeOwner, lockHolder } from './checkpoint/directory-lock.js';
import { CloudIdError, decodeCloudId } from './config/cloud-id.js';
import {
  ConfigError,
  configFromEnv,
  configFromFile,
  DEFAULT_PATHS,
  layerConfig,
  type RawConfig,
  redactConfig,
  type ShipperConfig,
  splitList,
  validateConfig,
} from './config/shipper-config.js';
import { importSavedObjects } from './dashboards/kibana-import.js';
import {
  type DiscoveredFile,
  FileDiscovery,
  type UnreachablePath,
  unreadableHint,
} from './discover/file-discovery.js';
import { generateRelayLogs } from './generate/kubelet-log-writer.js';
import { bootstrap } from './install/bootstrap.js';
import { kubernetesSecretStore } from './install/kubernetes-secrets.js';
import { createLogger } from './log/logger.js';
import { Counters } from './metrics/counters.js';
import { LINE_SCAN } from './parse/kubearmor-record.js';
import { DryRunOutput } from './run/dry-run-output.js';
import { type ProgressSnapshot, ship } from './run/ship.js';
import { describeRelayLog, isRelayLog, summarizeRelayLog } from './run/silent-relay.js';
import { formatSummary } from './run/summary.js';
import { tailFollow } from './run/tail-follow.js';
import { tailOnce } from './run/tail-once.js';
import { tailerOptions } from './run/tailer-options.js';
import { describeError, ElasticsearchHttp } from './ship/elasticsearch-http.js';
import { gzipEncoding } from './ship/gzip-body.js';
import {
  detectDistribution,
  detectLifecycle,
  installTemplates,
  pruneIndices,
  withoutLifecycle,
} from './ship/index-templates.js';
import { Tailer } from './tail/tailer.js';
import { VERSION } from './version.js';

const USAGE = `kubearmor-shipper ${VERSION}
Ships KubeArmor alerts, logs and messages from container log files into Elasticsearch.

Usage:
  kubearmor-shipper run [options]              the daemon: follow the files, ship, until SIGTERM
  kubearmor-shipper run --once [options]       ship everything complete now, wait for every
                                               acknowledgement, save positions, exit
  kubearmor-shipper run [--once] --dry-run     print one JSON document per record instead
  kubearmor-shipper setup [options]            install the index templates (and ILM policy)
  kubearmor-shipper check [options]            validate the config, reach Elasticsearch, report
  kubearmor-shipper prune --older-than <N>d    delete daily indices older than N days
  kubearmor-shipper generate --out <dir> …     write realistic relay log files (CRI)
  kubearmor-shipper dashboards import --kibana-url <url> | --cloud-id <id> [--space <id>]
                                               import the Kibana dashboards (auth: $KIBANA_USERNAME
                                               and $KIBANA_PASSWORD, or $KIBANA_API_KEY)
  kubearmor-shipper dashboards export          print the dashboards' NDJSON
  kubearmor-shipper bootstrap --namespace <ns> --certs-dir <dir> --es-url <url> [--kibana-url <url>]
                                               the Kubernetes setup Job: credentials into Secrets,
                                               the shipper's API key, Kibana's token, templates,
                                               dashboards (see deployments/shipper/setup-job.yaml)
  kubearmor-shipper --version | --help

Configuration (later wins): defaults, --config <file.yaml> (or $SHIPPER_CONFIG), environment
variables, flags. --print-config prints the result, secrets redacted, and exits.
  --paths <glob,…>         files to read (default ${DEFAULT_PATHS.join(',')}); may repeat  [$SHIPPER_PATHS]
  --exclude <glob,…>       files to leave alone; may repeat                        [$SHIPPER_EXCLUDE]
  --checkpoint-dir <dir>   where positions are kept (default /var/lib/kubearmor-shipper) [$SHIPPER_CHECKPOINT_DIR]
  --start-at <where>       with no checkpoint at all: beginning (default) or end
  --node-name <name>       this node's name (default: the host name)               [$NODE_NAME]
  --index-prefix <p>       indices <p>-alerts-YYYY.MM.DD, … (default kubearmor)    [$SHIPPER_INDEX_PREFIX]
  --max-event-bytes <n>    longer events are truncated and flagged (default 1048576)
  --es-url <url>[,<url>…]  Elasticsearch (default http://127.0.0.1:9200); several  [$ES_URL]
                           nodes of one cluster: the next when one can't be reached
  --es-cloud-id <id>       Elastic Cloud's deployment ID, instead of --es-url       [$ES_CLOUD_ID]
  --es-username <u>        basic auth, with $ES_PASSWORD                           [$ES_USERNAME]
  --es-api-key <key>       API key (base64 id:key)                                 [$ES_API_KEY]
  --es-ca-file <pem>       CA of Elasticsearch's certificate                       [$ES_CA_FILE]
  --es-insecure            do not verify Elasticsearch's certificate (tests only)  [$ES_TLS_VERIFY=false]
  --es-replicas <n>        replicas of new indices (default 1)
  --http-port <port>       /metrics, /healthz, /readyz (default 2021; 0 picks one)  [$SHIPPER_HTTP_PORT]
  --no-http                no status server
  --log-level <level>      fatal, error, warn, info (default), debug, trace        [$SHIPPER_LOG_LEVEL]
  --progress               a progress line on stderr every second

prune:    --older-than <N>d (default: elasticsearch.retentionDays), --dry-run lists only
generate: --out <dir> [--lines N] [--seed N] [--rotate-bytes N] [--max-files N] [--start <time>]
          [--relay-stdout off]: a relay as KubeArmor installs it, printing only its own log
`;

const CONFIG_OPTIONS = {
  config: { type: 'string' },
  'print-config': { type: 'boolean', default: false },
  paths: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  'checkpoint-dir': { type: 'string' },
  'start-at': { type: 'string' },
  'node-name': { type: 'string' },
  'index-prefix': { type: 'string' },
  'max-event-bytes': { type: 'string' },
  'es-url': { type: 'string' },
  'es-cloud-id': { type: 'string' },
  'es-username': { type: 'string' },
  'es-api-key': { type: 'string' },
  'es-ca-file': { type: 'string' },
  'es-insecure': { type: 'boolean' },
  'es-replicas': { type: 'string' },
  'http-port': { type: 'string' },
  'no-http': { type: 'boolean' },
  'log-level': { type: 'string' },
} as const;

class UsageError extends Error {}
/** `--print-config` was given: the configuration is printed, and the command goes no further. */
class ConfigPrinted extends Error {}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await runCommand(rest);
      case 'setup':
        return await setupCommand(rest);
      case 'check':
        return await checkCommand(rest);
      case 'prune':
        return await pruneCommand(rest);
      case 'generate':
        return await generateCommand(rest);
      case 'dashboards':
        return await dashboardsCommand(rest);
      case 'bootstrap':
        return await bootstrapCommand(rest);
      case '--version':
      case 'version':
        process.stdout.write(`${VERSION}\n`);
        return 0;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE);
        return 0;
      default:
        process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigPrinted) return 0;
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${(err as Error).message}\n\nSee kubearmor-shipper --help\n`);
      return 2;
    }
    throw err;
  }
}

function number(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new ConfigError(`--${flag} must be a number, not "${value}"`);
  return n;
}

type ConfigFlags = {
  [K in keyof typeof CONFIG_OPTIONS]?: (typeof CONFIG_OPTIONS)[K]['type'] extends 'boolean'
    ? boolean
    : (typeof CONFIG_OPTIONS)[K] extends { multiple: true }
      ? string[]
      : string;
};

/** Defaults < YAML file < environment < flags, validated. */
async function loadConfig(flags: ConfigFlags): Promise<ShipperConfig> {
  const file = flags.config ?? process.env.SHIPPER_CONFIG;
  const fromFile = file === undefined ? {} : await configFromFile(file);
  const fromFlags: RawConfig = {};
  const es: RawConfig = {};
  const http: RawConfig = {};
  if (flags.paths !== undefined) fromFlags.paths = flags.paths.flatMap(splitList);
  if (flags.exclude !== undefined) fromFlags.exclude = flags.exclude.flatMap(splitList);
  if (flags['checkpoint-dir'] !== undefined) fromFlags.checkpointDir = flags['checkpoint-dir'];
  if (flags['start-at'] !== undefined) fromFlags.startAt = flags['start-at'];
  if (flags['node-name'] !== undefined) fromFlags.nodeName = flags['node-name'];
  if (flags['index-prefix'] !== undefined) fromFlags.indexPrefix = flags['index-prefix'];
  if (flags['max-event-bytes'] !== undefined)
    fromFlags.maxEventBytes = number('max-event-bytes', flags['max-event-bytes']);
  if (flags['log-level'] !== undefined) fromFlags.logLevel = flags['log-level'];
  if (flags['es-url'] !== undefined) es.url = flags['es-url'];
  if (flags['es-cloud-id'] !== undefined) es.cloudId = flags['es-cloud-id'];
  if (flags['es-username'] !== undefined) es.username = flags['es-username'];
  if (flags['es-api-key'] !== undefined) es.apiKey = flags['es-api-key'];
  if (flags['es-ca-file'] !== undefined) es.caFile = flags['es-ca-file'];
  if (flags['es-insecure'] === true) es.tlsVerify = false;
  if (flags['es-replicas'] !== undefined) es.replicas = number('es-replicas', flags['es-replicas']);
  if (flags['http-port'] !== undefined) http.port = number('http-port', flags['http-port']);
  if (flags['no-http'] === true) http.enabled = false;
  if (Object.keys(es).length > 0) fromFlags.elasticsearch = es;
  if (Object.keys(http).length > 0) fromFlags.http = http;
  const config = validateConfig(layerConfig(fromFile, configFromEnv(process.env), fromFlags));
  // Here, for every command that takes the configuration: none goes on to act (a `prune` that
  // deleted) once asked only to print it.
  if (flags['print-config'] === true) {
    await printConfig(config);
    throw new ConfigPrinted();
  }
  return config;
}

async function printConfig(config: ShipperConfig): Promise<void> {
  const { stringify: toYaml } = await import('yaml');
  process.stdout.write(toYaml(redactConfig(config)));
}

/** AbortController fired by SIGTERM or SIGINT; `release` removes the handlers. */
function signalController(): { signal: AbortSignal; release: () => void } {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return {
    signal: stop.signal,
    release: () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}

async function runCommand(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    options: {
      ...CONFIG_OPTIONS,
      once: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      progress: { type: 'boolean', default: false },
    },
  });
  const config = await loadConfig(values);
  await mkdir(config.checkpointDir, { recursive: true });
  if (values['dry-run']) return dryRun(config, values.once);

  const logger = createLogger(config.logLevel, config.nodeName);
  const { signal, release } = signalController();
  try {
    const started = Date.now();
    const result = await ship(config, {
      once: values.once,
      logger,
      signal,
      ...(values.progress ? { onProgress: (p: ProgressSnapshot) => progressLine(p, started) } : {}),
    });
    if (values.progress && process.stderr.isTTY) process.stderr.write('\n');
    // Another shipper on the checkpoint directory: logged, and this one did not (or no longer) ship.
    if (result.checkpointLock === 'lost' || (result.checkpointLock === 'not_taken' && !signal.aborted))
      return 1;
    // A last save that failed is logged; the next start sends again what came since (409s).
    if ((result.setup === undefined && !signal.aborted) || !result.checkpointsSaved) return 1;
    // `--once` promises everything the paths match: one it could not read is a failure.
    return values.once && result.unreadablePaths > 0 ? 1 : 0;
  } finally {
    release();
  }
}

let lastLines = 0;
function progressLine(p: ProgressSnapshot, started: number): void {
  const rate = p.linesRead - lastLines;
  lastLines = p.linesRead;
  const secs = Math.round((Date.now() - started) / 1000);
  // One line rewritten in place on a terminal, one line per second otherwise.
  process.stderr.write(
    `${process.stderr.isTTY ? '\r' : ''}${secs}s  ${rate} lines/s  read ${p.linesRead}  indexed ${p.documentsIndexed}  already there ${p.alreadyPresent}` +
      `  dead-lettered ${p.deadLettered}  lag ${(p.lagBytes / 1048576).toFixed(1)} MiB${process.stderr.isTTY ? '   ' : '\n'}`,
  );
}

async function dryRun(config: ShipperConfig, once: boolean): Promise<number> {
  const store = new CheckpointStore(config.checkpointDir, DRY_RUN_FILE_NAME);
  const loaded = await store.load();
  const counters = new Counters();
  if (loaded.status !== 'ok' && loaded.status !== 'missing') {
    counters.inc('checkpoint_problems');
    process.stderr.write(`checkpoints: ${loaded.status}\n`);
  }
  const output = new DryRunOutput(process.stdout);
  const tailer = new Tailer(tailerOptions(config), output, counters, loaded.files);
  try {
    if (once) {
      await tailOnce(tailer);
    } else {
      const { signal, release } = signalController();
      await tailFollow(tailer, {
        scanIntervalMs: config.scanIntervalMs,
        pollIntervalMs: 250,
        checkpointIntervalMs: 1000,
        signal,
        saveCheckpoints: () => output.end().then(() => store.save(tailer.checkpoints())),
      });
      release();
    }
    await output.end();
  } finally {
    await tailer.close();
  }
  const checkpoints = tailer.checkpoints();
  await store.save(checkpoints);
  process.stderr.write(
    formatSummary(counters, { checkpointPath: store.path, checkpointFiles: checkpoints.length }),
  );
  const unreadable = tailer.unreadablePaths();
  writeUnreadable(process.stderr, unreadable);
  return once && unreadable.length > 0 ? 1 : 0;
}

function writeUnreadable(out: NodeJS.WritableStream, paths: readonly UnreachablePath[]): void {
  for (const u of paths)
    out.write(`unreadable: ${u.path} → ${u.target} (${u.code}): ${unreadableHint(u.code)}\n`);
}

/** What the shipper needs of its credentials: without any of these, shipping stalls (retried without end). */
const REQUIRED_PRIVILEGES = {
  cluster: ['monitor', 'manage_index_templates'],
  index: ['create_doc', 'create_index'],
};

/**
 * Asks Elasticsearch whether these credentials (a user, or an API key within its role
 * descriptors) hold what the shipper needs. A cluster without security allows everything.
 */
async function checkPrivileges(
  es: ElasticsearchHttp,
  prefix: string,
): Promise<{ line: string; missing: boolean }> {
  const names = [`${prefix}-*`];
  let answer: { cluster?: Record<string, boolean>; index?: Record<string, Record<string, boolean>> };
  try {
    answer = (await es.request('POST', '/_security/user/_has_privileges', {
      body: JSON.stringify({
        cluster: REQUIRED_PRIVILEGES.cluster,
        index: [{ names, privileges: REQUIRED_PRIVILEGES.index }],
      }),
      headers: { 'content-type': 'application/json' },
    })) as typeof answer;
  } catch (err) {
    // No security API (disabled, or a distribution without it): every request is allowed.
    const e = err as { meta?: { statusCode?: number; body?: unknown } };
    const status = e.meta?.statusCode ?? 0;
    const text = JSON.stringify(e.meta?.body ?? '');
    if (
      status === 400 ||
      status === 404 ||
      status === 405 ||
      /security must be|not enabled|disabled/i.test(text)
    )
      return { line: 'not checked: this cluster has no security (every request is allowed)', missing: false };
    return { line: `not checked (${describeError(err)})`, missing: false };
  }
  const missing = [
    ...REQUIRED_PRIVILEGES.cluster.filter((p) => answer.cluster?.[p] !== true).map((p) => `${p} (cluster)`),
    ...REQUIRED_PRIVILEGES.index
      .filter((p) => answer.index?.[names[0] as string]?.[p] !== true)
      .map((p) => `${p} on ${names[0]}`),
  ];
  if (missing.length === 0)
    return {
      line: `ok (${REQUIRED_PRIVILEGES.cluster.join(', ')}; ${REQUIRED_PRIVILEGES.index.join(', ')} on ${names[0]})`,
      missing: false,
    };
  return { line: `missing ${missing.join(', ')}: the shipper would retry without end`, missing: true };
}

async function setupCommand(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...args], strict: true, options: CONFIG_OPTIONS });
  const config = await loadConfig(values);
  const es = new ElasticsearchHttp(config.elasticsearch, warnOnStderr);
  try {
    const result = await installTemplates(es, {
      prefix: config.indexPrefix,
      shards: config.elasticsearch.shards,
      replicas: config.elasticsearch.replicas,
      retentionDays: config.elasticsearch.retentionDays,
    });
    process.stdout.write(`installed index templates: ${result.templates.join(', ')}\n`);
    process.stdout.write(
      `lifecycle: ${
        withoutLifecycle(result.lifecycle, config.elasticsearch.retentionDays, result.distribution) ??
        `ILM policy ${result.policy} deletes indices after ${config.elasticsearch.retentionDays} days`
      }\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`setup failed: ${describeError(err)}\n`);
    return 1;
  } finally {
    es.close();
  }
}

/** For the one-shot commands: a deprecation Elasticsearch reports, on stderr. */
function warnOnStderr(warning: string): void {
  process.stderr.write(`elasticsearch warns: ${warning}\n`);
}

/**
 * The checkpoint file's age and size, and who holds the directory, read only (`load` would set a
 * corrupt file aside under a running daemon).
 */
async function checkpointState(dir: string): Promise<string> {
  const store = new CheckpointStore(dir);
  const saved = await stat(store.path).then(
    async (s) => {
      const files = await readFile(store.path, 'utf8').then(
        (text) => `${(JSON.parse(text) as { files: unknown[] }).files.length} files`,
        () => 'unreadable',
      );
      return `${store.path} saved ${Math.round((Date.now() - s.mtimeMs) / 1000)} s ago (${files})`;
    },
    () => `none yet in ${dir}`,
  );
  const holder = await lockHolder(dir);
  const held =
    holder === undefined
      ? 'no shipper holds the directory'
      : holder.error !== undefined
        ? `its lock cannot be read (${holder.error}): a shipper runs there without one`
        : holder.stale
          ? `a stale lock (${describeOwner(holder.owner, holder.ageMs)}): the next shipper takes it over`
          : `held by ${describeOwner(holder.owner, holder.ageMs)}`;
  return `${saved}; ${held}`;
}

async function checkCommand(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...args], strict: true, options: CONFIG_OPTIONS });
  const config = await loadConfig(values);
  process.stdout.write(`config: ok (${config.paths.join(', ')} → ${config.elasticsearch.url.join(', ')})\n`);
  process.stdout.write(
    `shipper: ${VERSION} on Node ${process.versions.node}, line scan: ${LINE_SCAN}, gzip: ${config.elasticsearch.compression ? gzipEncoding() : 'off'}\n`,
  );
  const discovery = new FileDiscovery(config.paths, config.exclude);
  const files = await discovery.scan();
  const relayGlob = config.paths.some((p) => p.includes('kubearmor-relay'));
  process.stdout.write(
    `files: ${files.length} matched now${files.length === 0 && relayGlob ? NO_FILES_HINT : ''}\n`,
  );
  writeUnreadable(process.stdout, discovery.unreachable());
  await writeRelayLogs(files);
  process.stdout.write(`checkpoints: ${await checkpointState(config.checkpointDir)}\n`);
  const { reachable, unreachable } = await probeNodes(config);
  if (reachable === undefined) return 1;
  const es = new ElasticsearchHttp({ ...config.elasticsearch, url: reachable }, warnOnStderr);
  try {
    const health = (await es.request('GET', '/_cluster/health')) as {
      cluster_name: string;
      status: string;
      number_of_nodes: number;
    };
    const nodes = (await es.request('GET', '/_nodes/plugins')) as {
      nodes: Record<string, { version: string; modules?: { name: string }[] }>;
    };
    const versions = [...new Set(Object.values(nodes.nodes).map((n) => n.version))];
    const distribution = await detectDistribution(es);
    const modules = [
      ...new Set(Object.values(nodes.nodes).flatMap((n) => (n.modules ?? []).map((m) => m.name))),
    ].sort();
    process.stdout.write(
      `${distribution}: ${reachable} cluster "${health.cluster_name}" status ${health.status}, ` +
        `${health.number_of_nodes} node(s), version ${versions.join(', ')}\n`,
    );
    process.stdout.write(`modules: ${modules.join(', ') || '(none listed)'}\n`);
    const lifecycle = await detectLifecycle(es);
    process.stdout.write(
      `lifecycle: ${
        withoutLifecycle(lifecycle, config.elasticsearch.retentionDays, distribution) ??
        `ILM available; setup attaches a policy that deletes indices after ${config.elasticsearch.retentionDays} days`
      }\n`,
    );
    const templates = (await es
      .request('GET', `/_index_template/${config.indexPrefix}-*`)
      .catch(() => ({ index_templates: [] }))) as { index_templates: { name: string }[] };
    const names = templates.index_templates.map((t) => t.name).sort();
    process.stdout.write(
      `templates: ${names.length > 0 ? names.join(', ') : 'none installed yet (run `setup`, or `run` installs them)'}\n`,
    );
    const privileges =
      distribution === 'opensearch'
        ? {
            // Its security plugin, when installed, has no _has_privileges: nothing to ask.
            line: `not checked: OpenSearch has no API to ask; the shipper needs to put index templates, and to create and write ${config.indexPrefix}-* indices`,
            missing: false,
          }
        : await checkPrivileges(es, config.indexPrefix);
    process.stdout.write(`privileges: ${privileges.line}\n`);
    // A node the shipper cannot reach is one it cannot go on with.
    return privileges.missing || unreachable > 0 ? 1 : 0;
  } catch (err) {
    process.stderr.write(`cannot reach Elasticsearch at ${reachable}: ${describeError(err)}\n`);
    return 1;
  } finally {
    es.close();
  }
}

// The relay is a Deployment of one pod: its log is on one node, and the other nodes' shippers have nothing to read.
const NO_FILES_HINT =
  ' (the relay runs as one pod: its log is only on its node, `kubectl -n kubearmor get pods -l kubearmor-app=kubearmor-relay -o wide`)';

/** What the end of each matched relay log holds (the first ten): events, or only the relay's own lines. */
async function writeRelayLogs(files: readonly DiscoveredFile[]): Promise<void> {
  for (const f of files.filter((file) => isRelayLog(file.path, file.realPath)).slice(0, 10)) {
    const line = await summarizeRelayLog(f.realPath).then(
      (summary) => describeRelayLog(f.path, summary),
      (err: unknown) => `relay log: ${f.path}: cannot be read (${describeError(err)})`,
    );
    process.stdout.write(`${line}\n`);
  }
}

/**
 * With several URLs, asks each node on its own, and says which answer; the first that does is the
 * one `check` goes on with. With one, that one (its errors come with the first real request).
 */
async function probeNodes(config: ShipperConfig): Promise<{ reachable?: string; unreachable: number }> {
  const urls = config.elasticsearch.url;
  if (urls.length === 1) return { reachable: urls[0] as string, unreachable: 0 };
  let reachable: string | undefined;
  let unreachable = 0;
  for (const url of urls) {
    const node = new ElasticsearchHttp({ ...config.elasticsearch, url }, warnOnStderr);
    try {
      // The node that answers at that URL (not `GET /`: some distributions answer it 405).
      const local = (await node.request('GET', '/_nodes/_local', {
        query: { filter_path: 'nodes.*.name,nodes.*.version' },
      })) as { nodes?: Record<string, { name?: string; version?: string }> };
      const answered = Object.values(local.nodes ?? {})[0];
      process.stdout.write(`url: ${url} answers (node "${answered?.name}", version ${answered?.version})\n`);
      reachable ??= url;
    } catch (err) {
      unreachable++;
      process.stdout.write(`url: ${url} failed: ${describeError(err)}\n`);
    } finally {
      node.close();
    }
  }
  if (reachable === undefined)
    process.stderr.write(`cannot reach Elasticsearch at any of ${urls.join(', ')}\n`);
  return reachable === undefined ? { unreachable } : { reachable, unreachable };
}

async function pruneCommand(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    options: {
      ...CONFIG_OPTIONS,
      'older-than': { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  const config = await loadConfig(values);
  let days = config.elasticsearch.retentionDays;
  if (values['older-than'] !== undefined) {
    const m = /^(\d+)d$/.exec(values['older-than']);
    if (m === null || Number(m[1]) < 1) throw new UsageError('--older-than takes days, like 30d');
    days = Number(m[1]);
  }
  const es = new ElasticsearchHttp(config.elasticsearch, warnOnStderr);
  try {
    const dryRun = values['dry-run'] === true;
    const { past, writtenLately } = await pruneIndices(es, config.indexPrefix, days, { dryRun });
    for (const { index, created } of writtenLately)
      process.stdout.write(
        `kept ${index}: ${created === undefined ? 'its creation date unknown' : `created ${created.toISOString().slice(0, 10)}, within the ${days} days`} (old records shipped lately: a backfill, or a node's clock behind)\n`,
      );
    if (past.length === 0)
      process.stdout.write(`no ${config.indexPrefix}-* index is past ${days} days of retention\n`);
    for (const index of past) process.stdout.write(`${dryRun ? 'would delete' : 'deleted'} ${index}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`prune failed: ${describeError(err)}\n`);
    return 1;
  } finally {
    es.close();
  }
}

async function generateCommand(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    options: {
      out: { type: 'string' },
      lines: { type: 'string' },
      seed: { type: 'string' },
      'rotate-bytes': { type: 'string' },
      'max-files': { type: 'string' },
      start: { type: 'string' },
      'relay-stdout': { type: 'string', default: 'on' },
    },
  });
  if (values.out === undefined) throw new UsageError('--out is required');
  const relayStdout = values['relay-stdout'];
  if (relayStdout !== 'on' && relayStdout !== 'off')
    throw new UsageError(`--relay-stdout is on or off, not "${relayStdout}"`);
  const start = values.start === undefined ? Date.now() - 3600_000 : Date.parse(values.start);
  if (Number.isNaN(start)) throw new UsageError(`--start is not a time: ${values.start}`);
  const positive = (name: string, value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n <= 0)
      throw new UsageError(`--${name} must be a positive integer, not "${value}"`);
    return n;
  };
  const result = await generateRelayLogs({
    out: values.out,
    records: positive('lines', values.lines, 10_000),
    seed: positive('seed', values.seed, 1),
    rotateBytes:
      values['rotate-bytes'] === undefined ? undefined : positive('rotate-bytes', values['rotate-bytes'], 1),
    maxFiles: positive('max-files', values['max-files'], 5),
    startMs: start,
    relayStdout: relayStdout === 'on',
  });
  const c = result.counts;
  const deleted = result.deleted.alert + result.deleted.log + result.deleted.message + result.deleted.relay;
  process.stderr.write(
    `wrote ${result.lines} relay lines with ${result.rotations} rotations; ` +
      `${deleted > 0 ? `rotation deleted the oldest ${deleted}; ` : ''}` +
      `on disk in ${result.files.length} files: ${c.alert} alerts, ${c.log} logs, ${c.message} messages, ${c.relay} relay lines\n` +
      `read them with: kubearmor-shipper run --once --dry-run --paths '${result.glob}' --checkpoint-dir <dir>\n`,
  );
  return 0;
}

async function dashboardsCommand(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'export') {
    process.stdout.write(toNdjson(savedObjects()));
    return 0;
  }
  if (sub !== 'import') throw new UsageError('usage: kubearmor-shipper dashboards import|export');
  const { values } = parseArgs({
    args: [...rest],
    strict: true,
    options: {
      'kibana-url': { type: 'string' },
      'cloud-id': { type: 'string' },
      space: { type: 'string' },
      username: { type: 'string' },
      file: { type: 'string' },
      'wait-seconds': { type: 'string', default: '300' },
    },
  });
  const kibanaUrl = kibanaUrlOf(values['kibana-url'], values['cloud-id']);
  const username = values.username ?? process.env.KIBANA_USERNAME;
  const password = process.env.KIBANA_PASSWORD;
  const apiKey = process.env.KIBANA_API_KEY;
  if (username !== undefined && password === undefined)
    throw new UsageError('a username needs $KIBANA_PASSWORD');
  const waitSeconds = Number(values['wait-seconds']);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0)
    throw new UsageError('--wait-seconds must be a number of seconds');
  const ndjson = values.file === undefined ? toNdjson(savedObjects()) : await readFile(values.file, 'utf8');
  try {
    const outcome = await importSavedObjects(ndjson, {
      kibanaUrl,
      space: values.space,
      auth:
        apiKey !== undefined
          ? { apiKey }
          : username !== undefined
            ? { username, password: password as string }
            : undefined,
      waitMs: waitSeconds * 1000,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    for (const o of outcome.imported)
      process.stdout.write(`imported ${o.type} ${o.id}${o.title ? ` (${o.title})` : ''}\n`);
    for (const e of outcome.errors) process.stderr.write(`failed ${e.type} ${e.id}: ${e.error}\n`);
    process.stdout.write(
      outcome.ok
        ? `${outcome.imported.length} objects imported into ${kibanaUrl}${values.space ? ` (space ${values.space})` : ''}\n`
        : 'the import had errors\n',
    );
    return outcome.ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
}

/**
 * Kibana's URL: `--kibana-url` or the Kibana of `--cloud-id`, else `$KIBANA_URL`, else the Kibana
 * of `$ES_CLOUD_ID` (the shipper's own setting, so one Cloud ID in the environment serves both).
 */
function kibanaUrlOf(url: string | undefined, cloudId: string | undefined): string {
  if (url !== undefined && cloudId !== undefined)
    throw new UsageError('give --kibana-url or --cloud-id, not both');
  const given = url ?? (cloudId === undefined ? process.env.KIBANA_URL : undefined);
  if (given !== undefined) return given.replace(/\/+$/, '');
  const id = cloudId ?? process.env.ES_CLOUD_ID;
  const from = cloudId === undefined ? '$ES_CLOUD_ID' : '--cloud-id';
  if (id === undefined)
    throw new UsageError('--kibana-url (or $KIBANA_URL) or --cloud-id (or $ES_CLOUD_ID) is required');
  let kibana: string | undefined;
  try {
    kibana = decodeCloudId(id).kibanaUrl;
  } catch (err) {
    if (err instanceof CloudIdError) throw new UsageError(`${from} is not a Cloud ID: ${err.message}`);
    throw err;
  }
  if (kibana === undefined)
    throw new UsageError(`the Cloud ID of ${from} names no Kibana: give --kibana-url`);
  return kibana;
}

async function bootstrapCommand(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    options: {
      namespace: { type: 'string' },
      'certs-dir': { type: 'string' },
      'es-url': { type: 'string' },
      'kibana-url': { type: 'string' },
      kubeconfig: { type: 'string' },
      'index-prefix': { type: 'string', default: 'kubearmor' },
      'es-replicas': { type: 'string', default: '0' },
      'retention-days': { type: 'string', default: '30' },
      'wait-seconds': { type: 'string', default: '900' },
    },
  });
  const namespace = values.namespace;
  const certsDir = values['certs-dir'];
  const esUrl = values['es-url'];
  if (namespace === undefined || certsDir === undefined || esUrl === undefined)
    throw new UsageError('bootstrap needs --namespace, --certs-dir and --es-url');
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  try {
    await bootstrap({
      secrets: await kubernetesSecretStore(namespace, values.kubeconfig),
      certsDir,
      esUrl,
      kibanaUrl: values['kibana-url'],
      indexPrefix: values['index-prefix'],
      replicas: number('es-replicas', values['es-replicas']) as number,
      retentionDays: number('retention-days', values['retention-days']) as number,
      waitMs: (number('wait-seconds', values['wait-seconds']) as number) * 1000,
      log,
    });
    log('bootstrap done');
    return 0;
  } catch (err) {
    process.stderr.write(`bootstrap failed: ${describeError(err)}\n`);
    return 1;
  }
}
