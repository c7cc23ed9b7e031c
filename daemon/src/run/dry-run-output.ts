// `run --dry-run`: instead of Elasticsearch, print each record as one JSON line,
// `{"index": …, "id": …, "document": {…}}`. Written records count as acknowledged. Output is
// batched into large writes, and reading waits while stdout is backed up.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { documentId, type ShippableRecord, serializeDocument } from '../parse/kubearmor-record.js';
import type { RecordConsumer, TailedFile } from '../tail/tailed-file.js';

const FLUSH_BYTES = 64 * 1024;

export class DryRunOutput implements RecordConsumer {
  private pending: string[] = [];
  private pendingBytes = 0;
  /**
   * Set when stdout is backed up: resolves at its 'drain'. Listened for at once, not when a reader
   * asks — a 'drain' that came before the question would otherwise be waited for forever.
   */
  private drained: Promise<void> | undefined;
  records = 0;

  constructor(private readonly out: Writable) {}

  onRecord(file: TailedFile, record: ShippableRecord): void {
    const line = `{"index":"${record.index}","id":"${documentId(record)}","document":${serializeDocument(record)}}\n`;
    this.pending.push(line);
    this.pendingBytes += line.length;
    this.records++;
    file.ack(record.ticket);
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  hasCapacity(): boolean {
    return this.drained === undefined;
  }

  async waitForCapacity(): Promise<void> {
    await this.drained;
  }

  /** Writes what is batched; resolves once the stream took it. */
  async end(): Promise<void> {
    this.flush();
    await this.drained;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.out.write(text) && this.drained === undefined) {
      this.drained = once(this.out, 'drain').then(() => {
        this.drained = undefined;
      });
    }
  }
}
