// Monotonic counters with at most one label, cheap enough for the hot path (one Map lookup).
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
  | 'files_released'
  | 'rotations'
  | 'truncations'
  | 'checkpoint_problems'
  | 'documents'
  | 'dead_letters'
  | 'bulk_requests'
  | 'bulk_request_errors'
  | 'kubernetes_lists'
  | 'kubernetes_watch_reconnects'
  | 'kubernetes_api_errors'
  | 'namespace_label_fetches';

export class Counters {
  private readonly values = new Map<string, number>();

  inc(name: CounterName, label = '', by = 1): void {
    if (by === 0) return;
    const key = label === '' ? name : `${name}\u0000${label}`;
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  get(name: CounterName, label = ''): number {
    return this.values.get(label === '' ? name : `${name}\u0000${label}`) ?? 0;
  }

  /** Every counter of one name, by label (unlabelled under ''). */
  byLabel(name: CounterName): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, value] of this.values) {
      const sep = key.indexOf('\u0000');
      const n = sep < 0 ? key : key.slice(0, sep);
      if (n === name) out[sep < 0 ? '' : key.slice(sep + 1)] = value;
    }
    return out;
  }

  total(name: CounterName): number {
    let sum = 0;
    for (const value of Object.values(this.byLabel(name))) sum += value;
    return sum;
  }
}
