// Monotonic counters with at most one label, cheap enough for the hot path (two Map lookups, or
// none through a `cell` a caller keeps: what is counted per line or per record).
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

/** One counter's value: `value += n` counts. Shows in the readings only once counted. */
export interface CounterCell {
  value: number;
}

export class Counters {
  // By name, then label: both keys are constant strings, so a count allocates nothing.
  private readonly values = new Map<CounterName, Map<string, CounterCell>>();

  inc(name: CounterName, label = '', by = 1): void {
    if (by === 0) return;
    this.cell(name, label).value += by;
  }

  /** The counter itself, for a caller that counts it line after line. */
  cell(name: CounterName, label = ''): CounterCell {
    let byLabel = this.values.get(name);
    if (byLabel === undefined) {
      byLabel = new Map();
      this.values.set(name, byLabel);
    }
    let cell = byLabel.get(label);
    if (cell === undefined) {
      cell = { value: 0 };
      byLabel.set(label, cell);
    }
    return cell;
  }

  get(name: CounterName, label = ''): number {
    return this.values.get(name)?.get(label)?.value ?? 0;
  }

  /** Every counter of one name that counted, by label (unlabelled under ''). */
  byLabel(name: CounterName): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [label, cell] of this.values.get(name) ?? []) if (cell.value !== 0) out[label] = cell.value;
    return out;
  }

  total(name: CounterName): number {
    let sum = 0;
    for (const cell of this.values.get(name)?.values() ?? []) sum += cell.value;
    return sum;
  }
}
