// Documents Elasticsearch rejects for good (mapping or parse errors) are not dropped: they go to
// `<prefix>-deadletter-YYYY.MM.DD` (the day of the index they were meant for) under their own id,
// with the original document, where it came from and Elasticsearch's reason. If Elasticsearch
// refuses that too, they go to a local NDJSON file, kept under a size bound by rotating it once.
import { appendFile, rename, stat } from 'node:fs/promises';
import type { Counters } from '../metrics/counters.js';
import type { Backoff } from './backoff.js';
import { documentNdjson, documentTarget, type PendingDocument } from './bulk-shipper.js';
import type { ElasticsearchRequester } from './elasticsearch-http.js';
import {
  type BulkItemResult,
  createIndices,
  describeItem,
  isMissingIndex,
  isRequestTooLarge,
  itemHandling,
  TOO_LARGE,
} from './item-refusals.js';

export interface Rejected {
  doc: PendingDocument;
  item: BulkItemResult;
}

/** A dead letter on its way to the dead-letter index. */
interface DeadLetterEntry {
  index: string;
  id: string;
  text: string;
}

export class DeadLetters {
  constructor(
    private readonly es: ElasticsearchRequester,
    private readonly prefix: string,
    private readonly file: string,
    private readonly fileMaxBytes: number,
    private readonly counters: Counters,
    private readonly backoff: Backoff,
    private readonly stopped: () => boolean = () => false,
    /** Something failed and will be tried again (for the log: a dead letter waiting stalls its batch). */
    private readonly onRetry?: (error: unknown, attempt: number) => void,
  ) {}

  /**
   * Stores the rejected documents; resolves once each is in the dead-letter index or the file.
   * Like the main path, what may pass later (a 429 or 5xx item, a refusal by the cluster's state,
   * a failed request, a failed write of the file) is tried again with backoff, without limit; only
   * what the index refuses for good (the dead letter's own content, or its size) goes to the file.
   * Each is counted once, where it ended up. Resolves to false, with some not stored, only when
   * shipping stopped: those stay unacknowledged.
   */
  async store(rejected: readonly Rejected[]): Promise<boolean> {
    return this.storeEntries(
      rejected.map((r) => {
        const target = documentTarget(r.doc);
        return { index: this.indexFor(target.index), id: target.id, text: this.deadLetterDocument(r) };
      }),
    );
  }

  private async storeEntries(entries: DeadLetterEntry[]): Promise<boolean> {
    let toIndex = entries;
    let toFile: string[] = [];
    let retryReason = '';
    for (let attempt = 0; ; attempt++) {
      try {
        if (toIndex.length > 0) {
          let body = '';
          for (const { index, id, text } of toIndex) {
            body += `{"create":{"_index":"${index}","_id":"${id}"}}\n${text}\n`;
          }
          const response = (await this.es.request('POST', '/_bulk', {
            body,
            query: { filter_path: 'items.*.status,items.*.error.type,items.*.error.reason' },
          })) as { items?: Record<string, BulkItemResult>[] };
          const items = response.items ?? [];
          const again: DeadLetterEntry[] = [];
          let example: BulkItemResult | undefined;
          const missing = new Set<string>();
          toIndex.forEach((entry, i) => {
            const item = Object.values(items[i] ?? {})[0];
            const handling = itemHandling(item);
            if (handling === 'indexed' || handling === 'already_present')
              this.counters.inc('dead_letters', 'index');
            else if (handling === 'retry') {
              again.push(entry);
              example ??= item;
              if (isMissingIndex(item)) missing.add(entry.index);
            } else toFile.push(withFileReason(entry, item ?? { status: 0 }));
          });
          toIndex = again;
          if (again.length > 0) {
            await createIndices(this.es, missing);
            retryReason = `the dead-letter index refused ${again.length} item(s) for now: ${describeItem(example)}`;
          }
        }
        if (toFile.length > 0) {
          await this.toFile(toFile);
          toFile = [];
        }
        if (toIndex.length === 0) return true;
        this.onRetry?.(new Error(retryReason), attempt);
      } catch (err) {
        if (isRequestTooLarge(err)) {
          // A proxy's limit: a dead letter is bigger than its document (escaped, with its
          // reasons), so a batch that passed can come back too large as dead letters. In halves,
          // as the main path does; one alone that is still too large goes to the file.
          if (toIndex.length > 1) {
            const half = toIndex.length >>> 1;
            const [first, rest] = [toIndex.slice(0, half), toIndex.slice(half)];
            toIndex = [];
            if (!(await this.storeEntries(first)) || !(await this.storeEntries(rest))) return false;
          } else {
            for (const entry of toIndex) toFile.push(withFileReason(entry, TOO_LARGE));
            toIndex = [];
          }
          continue;
        }
        this.onRetry?.(err, attempt);
      }
      if (this.stopped()) return false;
      await this.backoff.wait(attempt);
    }
  }

  private indexFor(target: string): string {
    const day =
      /-(\d{4}\.\d{2}\.\d{2})$/.exec(target)?.[1] ?? new Date().toISOString().slice(0, 10).replace(/-/g, '.');
    return `${this.prefix}-deadletter-${day}`;
  }

  private deadLetterDocument({ doc, item }: Rejected): string {
    const ndjson = documentNdjson(doc);
    const source = ndjson.slice(ndjson.indexOf('\n') + 1, -1);
    return JSON.stringify({
      '@timestamp': new Date().toISOString(),
      error: { status: item.status, type: item.error?.type, reason: item.error?.reason },
      target: documentTarget(doc),
      log: { file: { path: doc.file.path }, offset: doc.start },
      event: { original: source },
    });
  }

  private async toFile(lines: string[]): Promise<void> {
    const text = `${lines.join('\n')}\n`;
    const size = await stat(this.file).then(
      (s) => s.size,
      () => 0,
    );
    if (size + text.length > this.fileMaxBytes / 2 && size > 0) {
      // Keep the newest half of the bound; the older half is overwritten (and counted).
      await stat(`${this.file}.1`).then(
        (s) => this.counters.inc('bytes_lost', 'dead_letter_file_rotated', s.size),
        () => undefined,
      );
      await rename(this.file, `${this.file}.1`);
    }
    // Readable by root only, like the kubelet's logs (0640): these are the events themselves, on
    // the node's disk.
    await appendFile(this.file, text, { mode: 0o600 });
    this.counters.inc('dead_letters', 'file', lines.length);
  }
}

/** A dead letter for the file: with why the dead-letter index did not take it. */
function withFileReason(entry: DeadLetterEntry, item: BulkItemResult): string {
  return JSON.stringify({
    ...JSON.parse(entry.text),
    dead_letter_error: { status: item.status, ...item.error },
  });
}
