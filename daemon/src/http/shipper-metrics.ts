// Prometheus metrics, read from the pipeline's own counters when scraped (the hot path only bumps
// plain counters), plus the bulk latency histogram and Node's process metrics. prom-client is
// loaded by `create`, only when the endpoint runs (~50 ms and ~10 MB less for `--no-http` runs).
import type { Histogram, Registry } from 'prom-client';
import type { PodWatchState } from '../enrich/pod-watch.js';
import type { CounterName, Counters } from '../metrics/counters.js';

export interface PipelineState {
  bytesInFlight(): number;
  /** Per file: bytes on disk not yet acknowledged. */
  fileLag(): { path: string; bytes: number }[];
  checkpointAgeSeconds(): number;
  filesOpen(): number;
  /** Paths the globs match that cannot be read (a link into a directory not mounted, too many open files). */
  filesUnreadable(): number;
  /** KubeArmor relay logs that have shown only the relay's own lines for five minutes (see silent-relay.ts). */
  relayLogsWithoutEvents(): number;
  elasticsearchUp(): boolean;
  podWatch(): PodWatchState;
}

const PREFIX = 'kubearmor_shipper_';

type PromClient = typeof import('prom-client');

/**
 * Every pipeline counter, exported as `<name>_total`: help text and label. A record over the
 * counter names, so a counter added to the pipeline cannot be left off the endpoint.
 */
export const COUNTER_METRICS: { readonly [K in CounterName]: readonly [help: string, label?: string] } = {
  lines_read: ['Physical lines read from log files'],
  bytes_read: ['Bytes read from log files'],
  records: ['Records made from log lines, by kind (alert, log, message, relay)', 'kind'],
  bad_lines: ['Lines that are not KubeArmor records, by reason (kept as relay records)', 'reason'],
  record_flags: ['Records flagged (truncated, invalid_utf8, unknown_type, timestamp_fallback)', 'flag'],
  documents: ['Documents by outcome: indexed, already_present (409), retried, dead_lettered', 'result'],
  dead_letters: ['Rejected documents stored, by where (index or file)', 'where'],
  item_errors: [
    "Documents Elasticsearch refused, by its error.type: retried, or dead-lettered if the document's own fault",
    'type',
  ],
  bulk_requests: ['Bulk requests answered by Elasticsearch'],
  bulk_request_errors: ['Bulk requests that failed as a whole (retried), by status or error', 'kind'],
  elasticsearch_node_changes: [
    'Moves to the next Elasticsearch URL after the node in use could not serve (refused, reset, timed out, 502/503/504), by the URL moved to',
    'to',
  ],
  bytes_lost: ['Bytes that could not be read, by reason', 'reason'],
  bytes_skipped_long_lines: [
    'Bytes of lines past maxEventBytes + 64 KiB, skipped unread (the line is indexed cut, flagged truncated)',
  ],
  rotations: ['Files rotated away or deleted while being read'],
  truncations: ['Files truncated in place (copy-truncate)'],
  files_opened: ['Files opened'],
  file_open_errors: ['Files that could not be opened, by error code (tried again at the next scan)', 'code'],
  files_released: ['Files read to their end and let go'],
  checkpoint_problems: ['Checkpoint files found missing entries or corrupt at start'],
  checkpoint_save_errors: [
    'Checkpoint saves that failed (retried at the next save; checkpoint_age_seconds grows)',
  ],
  kubernetes_lists: ['Pod lists of this node from the Kubernetes API'],
  kubernetes_watch_reconnects: [
    'Pod watch reconnections, by reason (closed, expired, error, watchdog)',
    'reason',
  ],
  kubernetes_api_errors: ['Failed pod list/watch calls, by HTTP status or "request"', 'status'],
  namespace_label_fetches: ['Namespace label reads, by outcome (ok, error)', 'outcome'],
};

export class ShipperMetrics {
  readonly registry: Registry;
  readonly bulkLatency: Histogram;

  static async create(counters: Counters, state: PipelineState): Promise<ShipperMetrics> {
    return new ShipperMetrics(await import('prom-client'), counters, state);
  }

  private constructor(prom: PromClient, counters: Counters, state: PipelineState) {
    const { Counter, collectDefaultMetrics, Gauge, Histogram } = prom;
    this.registry = new prom.Registry();
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    const registry = this.registry;
    /** A gauge of one value, read when scraped. */
    const gauge = (name: string, help: string, read: () => number) => {
      new Gauge({
        name: `${PREFIX}${name}`,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    };
    for (const [name, [help, label]] of Object.entries(COUNTER_METRICS) as [
      CounterName,
      (typeof COUNTER_METRICS)[CounterName],
    ][]) {
      new Counter({
        name: `${PREFIX}${name}_total`,
        help,
        labelNames: label === undefined ? [] : [label],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [value, n] of Object.entries(counters.byLabel(name))) {
            if (label === undefined || value === '') this.inc(n);
            else this.inc({ [label]: value }, n);
          }
        },
      });
    }
    this.bulkLatency = new Histogram({
      name: `${PREFIX}bulk_latency_seconds`,
      help: 'Round trip of bulk requests',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    gauge('bytes_in_flight', 'Bytes of records read and not yet acknowledged by Elasticsearch', () =>
      state.bytesInFlight(),
    );
    new Gauge({
      name: `${PREFIX}file_lag_bytes`,
      help: 'Bytes of each file not yet acknowledged',
      labelNames: ['path'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { path, bytes } of state.fileLag()) this.set({ path }, bytes);
      },
    });
    gauge('checkpoint_age_seconds', 'Seconds since the checkpoints were last saved', () =>
      state.checkpointAgeSeconds(),
    );
    gauge('files_open', 'Files being read or awaiting acknowledgements', () => state.filesOpen());
    gauge(
      'files_unreadable',
      'Paths the globs match that cannot be read (a link into a directory not mounted, too many open files): see the log',
      () => state.filesUnreadable(),
    );
    gauge(
      'relay_logs_without_events',
      "KubeArmor relay logs read for five minutes with only the relay's own lines (its ENABLE_STDOUT_* off?): see the log",
      () => state.relayLogsWithoutEvents(),
    );
    gauge('elasticsearch_up', '1 when Elasticsearch answered recently', () =>
      state.elasticsearchUp() ? 1 : 0,
    );
    gauge(
      'kubernetes_watch_up',
      '1 while the pod watch is connected (absent metadata is then really absent)',
      () => (state.podWatch().watching ? 1 : 0),
    );
    gauge(
      'kubernetes_watch_silence_seconds',
      'Seconds since the pod watch last received an event, a bookmark or connected',
      () => state.podWatch().secondsSinceActivity,
    );
    new Gauge({
      name: `${PREFIX}kubernetes_pods_cached`,
      help: 'Pods in the metadata cache: live, and deleted but kept for files not yet drained',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const { pods } = state.podWatch();
        this.set({ state: 'live' }, pods.live);
        this.set({ state: 'deleted' }, pods.deleted);
      },
    });
    gauge(
      'kubernetes_namespaces_cached',
      'Namespaces whose labels are cached (namespaceLabels.enabled)',
      () => state.podWatch().namespaces,
    );
  }
}
