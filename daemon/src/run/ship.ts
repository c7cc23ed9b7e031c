// `run` and `run --once`: the whole data path into Elasticsearch.
//   templates installed → files tailed → records batched → acknowledged → checkpoints saved.
// On SIGTERM/SIGINT: stop reading, give in-flight batches `shutdownGraceMs` to be acknowledged,
// save checkpoints (only what was acknowledged), exit 0.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CheckpointStore } from '../checkpoint/checkpoint-store.js';
import { describeOwner } from '../checkpoint/directory-lock.js';
import { deadLetterFilePath, redactConfig, type ShipperConfig } from '../config/shipper-config.js';
import { unreadableHint } from '../discover/file-discovery.js';
import { startPodWatch } from '../enrich/pod-watch.js';
import { ShipperMetrics } from '../http/shipper-metrics.js';
import { readinessProblems, startStatusServer } from '../http/status-server.js';
import type { Logger } from '../log/logger.js';
import { Counters } from '../metrics/counters.js';
import { LINE_SCAN } from '../parse/kubearmor-record.js';
import { Backoff } from '../ship/backoff.js';
import { BulkShipper } from '../ship/bulk-shipper.js';
import { DeadLetters } from '../ship/dead-letters.js';
import { describeError, ElasticsearchHttp, type ElasticsearchRequester } from '../ship/elasticsearch-http.js';
import { gzipEncoding } from '../ship/gzip-body.js';
import { installTemplates, type SetupResult, withoutLifecycle } from '../ship/index-templates.js';
import { MemoryBudget } from '../ship/memory-budget.js';
import { Tailer } from '../tail/tailer.js';
import { takeCheckpointLock } from './checkpoint-lock.js';
import { RELAY_STDOUT_HINT, SilentRelayWatch } from './silent-relay.js';
import { readDeletedBeforeStop, tailFollow } from './tail-follow.js';
import { tailOnce } from './tail-once.js';
import { tailerOptions } from './tailer-options.js';

export interface ShipOptions {
  once: boolean;
  logger: Logger;
  /** Aborting it is the same as SIGTERM (tests use it; the CLI wires the signals to it). */
  signal: AbortSignal;
  /** Called about once a second with a snapshot of the counters (the demo's progress line). */
  onProgress?: (snapshot: ProgressSnapshot) => void;
}

export interface ProgressSnapshot {
  linesRead: number;
  documentsIndexed: number;
  alreadyPresent: number;
  deadLettered: number;
  lagBytes: number;
  bytesInFlight: number;
}

export interface ShipResult {
  counters: Counters;
  setup: SetupResult | undefined;
  /** Whether the last save of the checkpoints, at the end, was written. */
  checkpointsSaved: boolean;
  /** Paths matched at the end that could not be read (logged): `run --once` did not ship all. */
  unreadablePaths: number;
  /**
   * The checkpoint directory's lock: `not_taken`, another shipper held it (`--once`) or the stop
   * came first; `lost`, another shipper took it over while this one ran (it stopped early).
   */
  checkpointLock: 'held' | 'none' | 'not_taken' | 'lost';
}

export async function ship(config: ShipperConfig, options: ShipOptions): Promise<ShipResult> {
  const { logger } = options;
  const counters = new Counters();
  logger.info(
    {
      config: redactConfig(config),
      lineScan: LINE_SCAN,
      gzip: config.elasticsearch.compression ? gzipEncoding() : 'off',
    },
    'starting',
  );
  // The caller's signal, or the lock taken over by another shipper: either stops this one.
  const stopping = new AbortController();
  const signal = stopping.signal;
  if (options.signal.aborted) stopping.abort();
  else options.signal.addEventListener('abort', () => stopping.abort(), { once: true });
  let lockLost = false;
  const lockRefreshDue = everyHalfMinute();
  const lock = await takeCheckpointLock(config.checkpointDir, {
    once: options.once,
    logger,
    signal,
    node: config.nodeName,
    lock: {
      onLost: (owner) => {
        lockLost = true;
        logger.error(
          { holder: describeOwner(owner, 0) },
          'another shipper took over the checkpoint directory (this one did not refresh its lock in time): stopping, without saving checkpoints over its',
        );
        stopping.abort();
      },
      onRefreshError: (err) => {
        if (lockRefreshDue())
          logger.warn({ error: err.message }, 'cannot refresh the checkpoint directory lock; trying again');
      },
    },
  });
  if (lock.kind === 'not_taken')
    return {
      counters,
      setup: undefined,
      checkpointsSaved: true,
      unreadablePaths: 0,
      checkpointLock: 'not_taken',
    };
  try {
    const result = await shipLocked(config, options, { counters, signal, lockLost: () => lockLost });
    return { ...result, checkpointLock: lockLost ? 'lost' : lock.kind };
  } finally {
    if (lock.kind === 'held') await lock.lock.release();
  }
}

/** At most one line every 30 s for each kind of problem while it lasts (many batches share one). */
function everyHalfMinute(): () => boolean {
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    const now = Date.now();
    if (now - last < 30_000) return false;
    last = now;
    return true;
  };
}

async function shipLocked(
  config: ShipperConfig,
  options: ShipOptions,
  run: { counters: Counters; signal: AbortSignal; lockLost: () => boolean },
): Promise<Omit<ShipResult, 'checkpointLock'>> {
  const { logger } = options;
  const { counters, signal } = run;
  const store = new CheckpointStore(config.checkpointDir);
  const loaded = await store.load();
  if (loaded.status === 'missing')
    logger.info({ path: store.path }, 'no checkpoints yet: reading from the start');
  else if (loaded.status !== 'ok') {
    counters.inc('checkpoint_problems');
    logger.warn({ path: store.path, status: loaded.status }, 'checkpoint file problem: treated as empty');
  }

  const client = new ElasticsearchHttp(
    config.elasticsearch,
    (warning) =>
      logger.warn({ warning }, 'Elasticsearch warns (a deprecation: a later version may refuse this call)'),
    (change) => {
      counters.inc('elasticsearch_node_changes', change.to);
      logger.warn(change, 'Elasticsearch node cannot serve: going on with the next URL');
    },
  );
  const budget = new MemoryBudget(config.memoryBudgetBytes);
  // Below this the budget, not maxInFlight, limits the requests in flight.
  const fullPipe = (config.batch.maxInFlight + 2) * config.batch.maxBytes;
  if (config.memoryBudgetBytes < fullPipe)
    logger.warn(
      { memoryBudgetBytes: config.memoryBudgetBytes, atLeast: fullPipe },
      'memoryBudgetBytes is below (batch.maxInFlight + 2) × batch.maxBytes: fewer requests will be in flight than batch.maxInFlight allows',
    );
  const backoff = new Backoff(config.retry.initialMs, config.retry.maxMs);
  let lastReachable = 0;
  let lastAccepted = Date.now();
  let lastLoop = Date.now();
  let lastSaved = Date.now();
  let setup: SetupResult | undefined;
  const retrying = (message: string) => {
    const due = everyHalfMinute();
    return (err: unknown, attempt: number) => {
      if (due()) logger.warn({ attempt, error: describeError(err) }, message);
    };
  };
  const itemsRetryDue = everyHalfMinute();
  const tooLargeDue = everyHalfMinute();
  const deadLetters = new DeadLetters(
    client,
    config.indexPrefix,
    deadLetterFilePath(config),
    config.deadLetterFileMaxBytes,
    counters,
    backoff,
    () => signal.aborted,
    retrying('storing dead letters failed; retrying with backoff'),
  );
  let metrics: ShipperMetrics | undefined;
  const shipper = new BulkShipper(
    client,
    { ...config.batch, gzip: config.elasticsearch.compression },
    budget,
    deadLetters,
    counters,
    backoff,
    {
      onBulkLatency: (s) => metrics?.bulkLatency.observe(s),
      onReachable: () => {
        lastReachable = Date.now();
      },
      onAccepted: () => {
        lastAccepted = Date.now();
      },
      onRequestError: retrying('bulk request failed; retrying with backoff'),
      onTooLarge: (bytes, documents) => {
        if (tooLargeDue())
          logger.warn(
            { bytes, documents, batchMaxBytes: config.batch.maxBytes },
            'a bulk request was refused as too large (413: a proxy in front of Elasticsearch, or its http.max_content_length); sending it in halves: set batch.maxBytes lower',
          );
      },
      onItemsRetried: (documents, error, attempt) => {
        if (itemsRetryDue())
          logger.warn(
            { documents, attempt, error },
            'Elasticsearch refused documents for now; retrying with backoff',
          );
      },
    },
  );
  const podWatch = await startPodWatch(config, logger, counters);
  const tailer = new Tailer(
    { ...tailerOptions(config), metadata: podWatch.provider },
    shipper,
    counters,
    loaded.files,
  );

  const lag = () =>
    tailer.trackedFiles().map((f) => ({
      path: f.path,
      bytes: Math.max(0, Math.max(f.size, f.reader.position) - f.committedOffset()),
    }));
  const silentRelays = new SilentRelayWatch();
  let server: Server | undefined;
  if (config.http.enabled) {
    metrics = await ShipperMetrics.create(counters, {
      bytesInFlight: () => budget.bytes,
      fileLag: lag,
      checkpointAgeSeconds: () => (Date.now() - lastSaved) / 1000,
      filesOpen: () => tailer.trackedFiles().length,
      filesUnreadable: () => tailer.unreadablePaths().length,
      relayLogsWithoutEvents: () => silentRelays.stillSilent(tailer.trackedFiles()),
      elasticsearchUp: () => Date.now() - lastReachable < 30_000,
      podWatch: podWatch.state,
    });
    server = await startStatusServer(config.http.host, config.http.port, metrics.registry, {
      liveProblems: () =>
        Date.now() - lastLoop > 60_000 ? ['the main loop has not turned for a minute'] : [],
      readyProblems: () =>
        readinessProblems({
          templatesInstalled: setup !== undefined,
          now: Date.now(),
          lastAnswer: lastReachable,
          lastAccepted,
          waitingDocuments: shipper.pendingDocuments,
        }),
    });
    // The port it got (with `--http-port 0`, one the system chose).
    const { port } = server.address() as AddressInfo;
    logger.info({ host: config.http.host, port }, 'status endpoint listening');
  }
  const pinger = setInterval(() => {
    if (Date.now() - lastReachable < 10_000) return;
    client.request('GET', '/_cluster/health', { query: { timeout: '5s' } }).then(
      () => {
        lastReachable = Date.now();
      },
      () => undefined,
    );
  }, 5000);
  let savedText = '';
  const saveErrorDue = everyHalfMinute();
  /**
   * False if the file could not be written (the disk full, the directory gone read-only). That is
   * not fatal: shipping goes on and the next save tries again. A crash loop would stop shipping
   * while kubelet goes on rotating and deleting files; a restart only re-sends (409s).
   */
  const saveCheckpoints = async (): Promise<boolean> => {
    // The directory is another shipper's now: its checkpoints are not ours to overwrite.
    if (run.lockLost()) return false;
    const checkpoints = tailer.checkpoints();
    const text = JSON.stringify(checkpoints.map((c) => [c.key, c.offset, c.released, c.path]));
    if (text !== savedText) {
      try {
        await store.save(checkpoints);
      } catch (err) {
        counters.inc('checkpoint_save_errors');
        if (saveErrorDue())
          logger.error(
            {
              path: store.path,
              error: describeError(err),
              lastSavedSecondsAgo: Math.round((Date.now() - lastSaved) / 1000),
            },
            'cannot save checkpoints; shipping goes on and the next save tries again (a restart now sends again what came since the last save: Elasticsearch answers 409)',
          );
        return false;
      }
      savedText = text;
    }
    lastSaved = Date.now();
    return true;
  };
  // Each unreadable path once, while it stays so: nothing of it is shipped until someone fixes it.
  const reportedUnreadable = new Set<string>();
  const reportUnreadable = () => {
    const now = new Set<string>();
    for (const u of tailer.unreadablePaths()) {
      now.add(u.path);
      if (reportedUnreadable.has(u.path)) continue;
      reportedUnreadable.add(u.path);
      logger.warn(
        { path: u.path, target: u.target, code: u.code },
        `a matched path cannot be read (nothing of it is shipped): ${unreadableHint(u.code)}`,
      );
    }
    for (const path of reportedUnreadable) if (!now.has(path)) reportedUnreadable.delete(path);
    return now.size;
  };
  const reportSilentRelays = () => {
    for (const silent of silentRelays.silent(tailer.trackedFiles()))
      logger.warn(
        silent,
        `the KubeArmor relay's log holds no KubeArmor event, only its own lines: ${RELAY_STDOUT_HINT}`,
      );
  };
  const progress = setInterval(() => {
    lastLoop = Date.now();
    reportUnreadable();
    reportSilentRelays();
    options.onProgress?.({
      linesRead: counters.get('lines_read'),
      documentsIndexed: counters.get('documents', 'indexed'),
      alreadyPresent: counters.get('documents', 'already_present'),
      deadLettered: counters.get('documents', 'dead_lettered'),
      lagBytes: lag().reduce((n, f) => n + f.bytes, 0),
      bytesInFlight: budget.bytes,
    });
  }, 1000);

  try {
    setup = await installUntilDone(client, config, logger, backoff, signal);
    if (setup === undefined) return { counters, setup, checkpointsSaved: true, unreadablePaths: 0 };
    lastReachable = Date.now();
    lastAccepted = Date.now();
    const advice = withoutLifecycle(setup.lifecycle, config.elasticsearch.retentionDays, setup.distribution);
    if (advice !== undefined) logger.warn({ retentionDays: config.elasticsearch.retentionDays }, advice);
    logger.info(
      {
        distribution: setup.distribution,
        lifecycle: setup.lifecycle,
        templates: setup.templates,
        policy: setup.policy,
      },
      'index templates installed',
    );

    // A few seconds at most for the first pod list, so early documents are complete.
    await Promise.race([podWatch.ready, aborted(signal)]);
    if (options.once) {
      await Promise.race([tailOnce(tailer), aborted(signal)]);
    } else {
      await tailFollow(tailer, {
        scanIntervalMs: config.scanIntervalMs,
        pollIntervalMs: 250,
        checkpointIntervalMs: 1000,
        signal,
        saveCheckpoints: async () => {
          await saveCheckpoints();
        },
        onTurn: () => {
          lastLoop = Date.now();
        },
      });
    }
    // Reading has stopped: wait for what is in flight (all of it for --once, a grace period on a signal).
    if (signal.aborted) {
      const graceEnds = Date.now() + config.shutdownGraceMs;
      logger.info({ graceMs: config.shutdownGraceMs, pending: shipper.pendingDocuments }, 'stopping');
      // Three quarters of the grace at most for the deleted files, the rest for acknowledgements.
      const deleted = await readDeletedBeforeStop(tailer, Date.now() + (config.shutdownGraceMs * 3) / 4);
      if (deleted > 0)
        logger.info(
          { files: deleted, pending: shipper.pendingDocuments },
          'read what was left of the files deleted while held open (no restart could)',
        );
      const graceOver = new Promise<void>((resolve) =>
        setTimeout(resolve, Math.max(0, graceEnds - Date.now())).unref(),
      );
      await Promise.race([shipper.drain(), graceOver]);
    } else {
      await shipper.drain();
    }
    shipper.stop();
    const checkpointsSaved = await saveCheckpoints();
    const unreadable = reportUnreadable();
    reportSilentRelays();
    logger.info(
      {
        lines: counters.get('lines_read'),
        records: counters.byLabel('records'),
        badLines: counters.byLabel('bad_lines'),
        flags: counters.byLabel('record_flags'),
        documents: counters.byLabel('documents'),
        deadLetters: counters.byLabel('dead_letters'),
        nodeChanges: counters.total('elasticsearch_node_changes'),
        bytesLost: counters.byLabel('bytes_lost'),
        bytesSkippedLongLines: counters.get('bytes_skipped_long_lines'),
        unacknowledged: shipper.pendingDocuments,
        checkpointsSaved,
        unreadablePaths: unreadable,
      },
      'stopped',
    );
    return { counters, setup, checkpointsSaved, unreadablePaths: unreadable };
  } finally {
    clearInterval(pinger);
    clearInterval(progress);
    shipper.stop();
    await tailer.close();
    await podWatch.stop();
    client.close();
    if (server !== undefined) await new Promise((resolve) => server.close(resolve));
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Installs the templates, retrying while Elasticsearch is unreachable. Undefined if stopped first. */
async function installUntilDone(
  client: ElasticsearchRequester,
  config: ShipperConfig,
  logger: Logger,
  backoff: Backoff,
  signal: AbortSignal,
): Promise<SetupResult | undefined> {
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      return await installTemplates(client, {
        prefix: config.indexPrefix,
        shards: config.elasticsearch.shards,
        replicas: config.elasticsearch.replicas,
        retentionDays: config.elasticsearch.retentionDays,
      });
    } catch (err) {
      if (attempt === 0 || attempt % 10 === 0) {
        logger.warn({ attempt, error: describeError(err) }, 'cannot install index templates yet; retrying');
      }
      await Promise.race([backoff.wait(attempt), aborted(signal)]);
    }
  }
  return undefined;
}
