// `run --dry-run`: instead of Elasticsearch, print each record as one JSON line,
// `{"index": …, "id": …, "document": {…}}`. Written records count as acknowledged. Output is
// batched into large writes, and reading waits while stdout is backed up.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { type ShippableRecord, serializeDocument } from '../parse/kubearmor-record.js';
import type { RecordConsumer, TailedFile } from '../tail/tailed-file.js';

const FLUSH_BYTES = 64 * 1024;

export class DryRunOutput implements RecordConsumer {
  private pending: string[] = [];
  private pendingBytes = 0;
  private blocked = false;
  records = 0;

  constructor(private readonly out: Writable) {}

  onRecord(file: TailedFile, record: ShippableRecord): void {
    const line = `{"index":"${record.index}","id":"${record.id}","document":${serializeDocument(record)}}\n`;
    this.pending.push(line);
    this.pendingBytes += line.length;
    this.records++;
    file.ack(record.start);
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  hasCapacity(): boolean {
    return !this.blocked;
  }

  async waitForCapacity(): Promise<void> {
    if (this.blocked) await once(this.out, 'drain');
    this.blocked = false;
  }

  /** Writes what is batched; resolves once the stream took it. */
  async end(): Promise<void> {
    this.flush();
    if (this.blocked) await this.waitForCapacity();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.out.write(text)) this.blocked = true;
  }
}
