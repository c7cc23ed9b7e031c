// Monotonic counters with at most one label, cheap enough for the hot path (two Map lookups).
// The dry-run summary and the Prometheus endpoint both read them.

export type CounterName =
  | 'bytes_read'
  | 'lines_read'
  | 'records'
  | 'bad_lines'
  | 'record_flags'
  | 'bytes_lost'
  | 'bytes_skipped_long_lines'
  | 'files_opened'
  | 'file_open_errors'
  | 'files_released'
  | 'rotations'
  | 'truncations'
  | 'checkpoint_problems'
  | 'checkpoint_save_errors'
  | 'documents'
  | 'dead_letters'
  | 'item_errors'
  | 'bulk_requests'
  | 'bulk_request_errors'
  | 'elasticsearch_node_changes'
  | 'kubernetes_lists'
  | 'kubernetes_watch_reconnects'
  | 'kubernetes_api_errors'
  | 'namespace_label_fetches';

export class Counters {
  // By name, then label: both keys are constant strings, so a count allocates nothing.
  private readonly values = new Map<CounterName, Map<string, number>>();

  inc(name: CounterName, label = '', by = 1): void {
    if (by === 0) return;
    let byLabel = this.values.get(name);
    if (byLabel === undefined) {
      byLabel = new Map();
      this.values.set(name, byLabel);
    }
    byLabel.set(label, (byLabel.get(label) ?? 0) + by);
  }

  get(name: CounterName, label = ''): number {
    return this.values.get(name)?.get(label) ?? 0;
  }

  /** Every counter of one name, by label (unlabelled under ''). */
  byLabel(name: CounterName): Record<string, number> {
    return Object.fromEntries(this.values.get(name) ?? []);
  }

  total(name: CounterName): number {
    let sum = 0;
    for (const value of this.values.get(name)?.values() ?? []) sum += value;
    return sum;
  }
}
