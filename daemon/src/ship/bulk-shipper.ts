// Batches records into `_bulk` requests and sees each one acknowledged, exactly once:
// - each document goes with op `create` and its stable id, so a 409 means it is already indexed
//   (a replay after a crash) and counts as done;
// - a batch is flushed at `maxDocs`, at `maxBytes`, or `maxAgeMs` after its first record, whichever
//   comes first; each record is serialized once, straight into the batch's buffer (reused batch
//   after batch), which is the request body: no per-record string outlives its read, so what waits
//   for Elasticsearch is not V8 heap the garbage collector has to carry; responses are cut down
//   with filter_path;
// - gzipped, a body has its documents grouped by similarity (Type, pod, operation; the relay
//   interleaves every pod's records): alike documents side by side give the compressor repeats a
//   few hundred bytes back instead of ones it finds less often; the encoder (gzip-body.ts) reads
//   the documents where they are, in that order. Order within a request means nothing to
//   Elasticsearch: each item answers for its own document;
// - at most `maxInFlight` requests at a time; items answered 429 or 5xx or refused by the
//   cluster's state (a write block, privileges: item-refusals.ts), and whole requests that fail
//   (network, timeout, 429, 5xx, anything), are retried with exponential backoff and jitter,
//   without limit; an index Elasticsearch will not create on its own is created; items refused
//   for their own content (mapping, parse) go to the dead-letter index with the reason;
// - a record's file is told (`file.ack`) only once Elasticsearch has it, which is what moves the
//   file's checkpoint.
import type { Counters } from '../metrics/counters.js';
import { copyBytes, writeDigits } from '../parse/byte-writer.js';
import type { ShippableRecord } from '../parse/kubearmor-record.js';
import type { RecordConsumer, TailedFile } from '../tail/tailed-file.js';
import type { Backoff } from './backoff.js';
import type { DeadLetters } from './dead-letters.js';
import { describeError, type ElasticsearchRequester } from './elasticsearch-http.js';
import { createGzipBody, type GzipBody } from './gzip-body.js';
import {
  type BulkItemResult,
  createIndices,
  describeItem,
  isMissingIndex,
  isRequestTooLarge,
  itemHandling,
  TOO_LARGE,
} from './item-refusals.js';
import type { MemoryBudget } from './memory-budget.js';

export interface BatchOptions {
  maxDocs: number;
  maxBytes: number;
  maxAgeMs: number;
  maxInFlight: number;
  /** Gzip request bodies. */
  gzip: boolean;
}

/**
 * One document on its way: where its action and source lines are, and whom to tell when it is in.
 * Nothing else: thousands of these wait for each acknowledgement, and every field is heap the
 * garbage collector carries (index and id are in the action line, for the rare paths that need them).
 */
export interface PendingDocument {
  file: TailedFile;
  ticket: number;
  /** Where in the file it starts (a dead letter says so). */
  start: number;
  /** `{"create":…}\n<document>\n` is `buffer[from, to)`. */
  buffer: Buffer;
  from: number;
  to: number;
}

/** The document's two NDJSON lines as text (for the rare paths: dead letters). */
export function documentNdjson(doc: PendingDocument): string {
  return doc.buffer.toString('utf8', doc.from, doc.to);
}

/** The index and id the document was sent with, from its action line. */
export function documentTarget(doc: PendingDocument): { index: string; id: string } {
  const action = doc.buffer.toString('utf8', doc.from, doc.buffer.indexOf(0x0a, doc.from));
  const { _index, _id } = (JSON.parse(action) as { create: { _index: string; _id: string } }).create;
  return { index: _index, id: _id };
}

/** A batch: its documents and the buffer their NDJSON was written into. */
interface Batch {
  docs: PendingDocument[];
  /** Each document's record's similarity (gzipped bodies only). */
  similarity: number[];
  buffer: Buffer;
  used: number;
}

export interface ShipperEvents {
  /** A bulk request's round trip, for the latency histogram. */
  onBulkLatency?(seconds: number): void;
  /** A request failed as a whole and will be retried. */
  onRequestError?(error: unknown, attempt: number): void;
  /**
   * Elasticsearch refused `count` items for now (429, 5xx, or the cluster's state: see
   * item-refusals.ts); they will be retried. `example` is one refusal in its words.
   */
  onItemsRetried?(count: number, example: string, attempt: number): void;
  /** A request of `bytes` (its body as sent) with `documents` was refused as too large (413). */
  onTooLarge?(bytes: number, documents: number): void;
  /** Elasticsearch answered (any answer): it is reachable. */
  onReachable?(): void;
  /** Elasticsearch took documents (indexed, already there, or stored as dead letters). */
  onAccepted?(): void;
}

const ACTION_END = Buffer.from('"}}\n');
/** The action line's end and the id's offset: at most 11 base-36 digits for any safe integer. */
const ACTION_END_BYTES = ACTION_END.length + 11;
const CREATED: BulkItemResult = Object.freeze({ status: 201 });
const FILTER_PATH = 'errors,items.*.status,items.*.error.type,items.*.error.reason';

export class BulkShipper implements RecordConsumer {
  private batch: Batch;
  private batchTimer: NodeJS.Timeout | undefined;
  /** Full batches waiting for a free request slot. */
  private readonly queue: Batch[] = [];
  /** Buffers of acknowledged batches, for the next ones. */
  private readonly spare: Buffer[] = [];
  private readonly bufferBytes: number;
  private inFlight = 0;
  /** Documents added and not yet done (acknowledged, or stored as dead letters). */
  private notDone = 0;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  private readonly gzipBody: GzipBody | undefined;
  private readonly actionStarts = new Map<string, { idPrefix: string; bytes: Buffer }>();

  constructor(
    private readonly es: ElasticsearchRequester,
    private readonly options: BatchOptions,
    private readonly budget: MemoryBudget,
    private readonly deadLetters: DeadLetters,
    private readonly counters: Counters,
    private readonly backoff: Backoff,
    private readonly events: ShipperEvents = {},
  ) {
    // Room for a full batch plus the record that crosses the limit.
    this.bufferBytes = options.maxBytes + 256 * 1024;
    this.batch = this.newBatch(0);
    this.gzipBody = options.gzip ? createGzipBody() : undefined;
  }

  onRecord(file: TailedFile, record: ShippableRecord): void {
    const actionStart = this.actionStart(record);
    const worst =
      actionStart.length +
      ACTION_END_BYTES +
      (record.bodyTo - record.bodyFrom) +
      record.tailTo +
      record.suffix.length +
      1;
    if (this.batch.buffer.length - this.batch.used < worst) {
      this.flush();
      if (this.batch.buffer.length < worst) this.batch = this.newBatch(worst);
    }
    const b = this.batch;
    const buffer = b.buffer;
    const from = b.used;
    // `{"create":{"_index":"…","_id":"<prefix>-<offset in base 36>"}}\n`, then the document.
    let at = copyBytes(actionStart, 0, actionStart.length, buffer, from);
    at = writeDigits(record.start, 36, buffer, at);
    for (let i = 0; i < ACTION_END.length; i++) buffer[at++] = ACTION_END[i] as number;
    at = copyBytes(record.body, record.bodyFrom, record.bodyTo, buffer, at);
    at = copyBytes(record.tail, 0, record.tailTo, buffer, at);
    at = copyBytes(record.suffix, 0, record.suffix.length, buffer, at);
    buffer[at++] = 0x0a;
    b.used = at;
    this.budget.take(at - from);
    this.notDone++;
    b.docs.push({ file, ticket: record.ticket, start: record.start, buffer: b.buffer, from, to: at });
    if (this.gzipBody !== undefined) b.similarity.push(record.similarity);
    if (b.docs.length >= this.options.maxDocs || b.used >= this.options.maxBytes) this.flush();
    else if (this.batchTimer === undefined) {
      this.batchTimer = setTimeout(() => this.flush(), this.options.maxAgeMs);
    }
  }

  /**
   * The action line up to the id's offset, `{"create":{"_index":"<index>","_id":"<prefix>-`: made
   * once per index and file (records of a file alternate between a few indices, a day at a time).
   */
  private actionStart(record: ShippableRecord): Buffer {
    const known = this.actionStarts.get(record.index);
    if (known !== undefined && known.idPrefix === record.idPrefix) return known.bytes;
    if (this.actionStarts.size >= 64) this.actionStarts.clear();
    const bytes = Buffer.from(`{"create":{"_index":"${record.index}","_id":"${record.idPrefix}-`, 'latin1');
    this.actionStarts.set(record.index, { idPrefix: record.idPrefix, bytes });
    return bytes;
  }

  private newBatch(atLeast: number): Batch {
    const buffer =
      atLeast <= this.bufferBytes
        ? (this.spare.pop() ?? Buffer.allocUnsafeSlow(this.bufferBytes))
        : Buffer.allocUnsafeSlow(atLeast);
    return { docs: [], similarity: [], buffer, used: 0 };
  }

  hasCapacity(): boolean {
    return this.budget.hasRoom();
  }

  waitForCapacity(): Promise<void> {
    return this.budget.waitForRoom();
  }

  /**
   * Documents read and not yet acknowledged, counted one by one as they are done: after `stop`,
   * the requests given up on no longer count as in flight, but their documents are still not done.
   */
  get pendingDocuments(): number {
    return this.notDone;
  }

  /** Sends what is batched now, without waiting for the age limit. */
  flush(): void {
    if (this.batchTimer !== undefined) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
    }
    if (this.batch.docs.length === 0) return;
    if (this.gzipBody !== undefined) this.batch.docs = groupedBySimilarity(this.batch);
    this.queue.push(this.batch);
    this.batch = this.newBatch(0);
    this.pump();
  }

  /** Resolves once everything handed over so far is acknowledged (or `stop` was called). */
  async drain(): Promise<void> {
    this.flush();
    if (this.inFlight === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Gives up on what is not acknowledged yet (shutdown after the grace period): it stays unacknowledged. */
  stop(): void {
    this.stopped = true;
    this.backoff.cancel();
    if (this.batchTimer !== undefined) clearTimeout(this.batchTimer);
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private pump(): void {
    while (!this.stopped && this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.shift() as Batch;
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        // Every document of it is done (or shipping stopped): its buffer serves the next batch.
        if (
          !this.stopped &&
          batch.buffer.length === this.bufferBytes &&
          this.spare.length < this.options.maxInFlight + 1
        )
          this.spare.push(batch.buffer);
        if (this.inFlight === 0 && this.queue.length === 0 && this.batch.docs.length === 0) {
          for (const w of this.idleWaiters.splice(0)) w();
        }
        this.pump();
      });
    }
  }

  /** Sends one batch until every document in it is in Elasticsearch (or dead-lettered). */
  private send(batch: Batch): Promise<void> {
    return this.sendDocuments(batch.docs, batch);
  }

  /** Sends documents (`batch`: all of that batch's) until each is in Elasticsearch (or dead-lettered). */
  private async sendDocuments(first: PendingDocument[], batch?: Batch): Promise<void> {
    let docs = first;
    let attempt = 0;
    while (docs.length > 0 && !this.stopped) {
      let items: BulkItemResult[];
      let bodyBytes = 0;
      try {
        // Uncompressed, the whole batch is the buffer as written; a retry of some of it, their
        // pieces. Gzipped, the encoder reads the documents where they are, in the batch's order.
        let body: Buffer;
        if (this.gzipBody !== undefined) body = await this.gzipBody.encode(docs);
        else if (docs === batch?.docs) body = batch.buffer.subarray(0, batch.used);
        else body = Buffer.concat(docs.map((d) => d.buffer.subarray(d.from, d.to)));
        bodyBytes = body.length;
        items = await this.bulk(docs, body);
      } catch (err) {
        this.counters.inc('bulk_request_errors', requestErrorKind(err));
        if (!isRequestTooLarge(err)) {
          this.events.onRequestError?.(err, attempt);
          await this.backoff.wait(attempt++);
          continue;
        }
        // Refused for its size: a proxy's limit in front of Elasticsearch (nginx's is 1 MiB), or
        // its http.max_content_length. In halves, one after the other, down to one document,
        // which is then too large to pass at all: a dead letter, with the reason.
        this.events.onTooLarge?.(bodyBytes, docs.length);
        if (docs.length > 1) {
          const half = docs.length >>> 1;
          await this.sendDocuments(docs.slice(0, half));
          await this.sendDocuments(docs.slice(half));
          return;
        }
        items = [TOO_LARGE];
      }
      const retry: PendingDocument[] = [];
      const rejected: { doc: PendingDocument; item: BulkItemResult }[] = [];
      let indexed = 0;
      let present = 0;
      let example: BulkItemResult | undefined;
      const missingIndices = new Set<string>();
      for (let i = 0; i < docs.length; i++) {
        const doc = docs[i] as PendingDocument;
        const item = items[i];
        const handling = itemHandling(item);
        if (handling === 'indexed') {
          indexed++;
          this.done(doc);
          continue;
        }
        if (handling === 'already_present') {
          present++;
          this.done(doc);
          continue;
        }
        this.counters.inc(
          'item_errors',
          item?.error?.type ?? (item === undefined ? 'no_item' : String(item.status)),
        );
        if (handling === 'reject') {
          rejected.push({ doc, item: item as BulkItemResult });
          continue;
        }
        retry.push(doc);
        // One that is not a 429 says more: a block or a privilege the operator has to fix.
        if (example === undefined || example.status === 429) example = item;
        if (isMissingIndex(item)) missingIndices.add(documentTarget(doc).index);
      }
      this.counters.inc('documents', 'indexed', indexed);
      this.counters.inc('documents', 'already_present', present);
      if (indexed + present > 0) this.events.onAccepted?.();
      this.counters.inc('documents', 'retried', retry.length);
      if (rejected.length > 0) {
        // Not stored only when shipping stopped: they stay unacknowledged, read again next time.
        if (!(await this.deadLetters.store(rejected))) return;
        this.counters.inc('documents', 'dead_lettered', rejected.length);
        for (const { doc } of rejected) this.done(doc);
        this.events.onAccepted?.();
      }
      docs = retry;
      if (docs.length === 0) break;
      let why = describeItem(example);
      if (missingIndices.size > 0) {
        try {
          await createIndices(this.es, missingIndices);
          why += `; created ${[...missingIndices].join(', ')}`;
        } catch (err) {
          why += `; creating ${[...missingIndices].join(', ')} failed: ${describeError(err)}`;
        }
      }
      this.events.onItemsRetried?.(docs.length, why, attempt);
      await this.backoff.wait(attempt++);
    }
  }

  private async bulk(docs: PendingDocument[], body: Buffer): Promise<BulkItemResult[]> {
    const started = performance.now();
    // Uncompressed, the batch buffer itself is sent: a request settles only once it no longer
    // holds its body, so the buffer's reuse after the acknowledgement is safe.
    const response = (await this.es.request('POST', '/_bulk', {
      body,
      query: { filter_path: FILTER_PATH },
      ...(this.gzipBody !== undefined ? { headers: { 'content-encoding': 'gzip' } } : {}),
    })) as { errors?: boolean; items?: Record<string, BulkItemResult>[] };
    this.events.onBulkLatency?.((performance.now() - started) / 1000);
    this.events.onReachable?.();
    this.counters.inc('bulk_requests');
    if (response.errors === false) return new Array<BulkItemResult>(docs.length).fill(CREATED);
    return (response.items ?? []).map((item) => Object.values(item)[0] ?? { status: 0 });
  }

  private done(doc: PendingDocument): void {
    this.notDone--;
    doc.file.ack(doc.ticket);
    this.budget.give(doc.to - doc.from);
  }
}

/** The batch's documents, those of equal similarity together, each group where its first one was. */
export function groupedBySimilarity(batch: {
  docs: PendingDocument[];
  similarity: number[];
}): PendingDocument[] {
  const groups = new Map<number, PendingDocument[]>();
  const { docs, similarity } = batch;
  for (let i = 0; i < docs.length; i++) {
    const key = similarity[i] as number;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [docs[i] as PendingDocument]);
    else group.push(docs[i] as PendingDocument);
  }
  if (groups.size === 1 || groups.size === docs.length) return docs;
  const ordered: PendingDocument[] = [];
  for (const group of groups.values()) for (const doc of group) ordered.push(doc);
  return ordered;
}

/** A label for a failed request: its HTTP status, or the kind of error. */
export function requestErrorKind(err: unknown): string {
  const status = (err as { meta?: { statusCode?: number } }).meta?.statusCode;
  if (typeof status === 'number') return String(status);
  return (err as { name?: string }).name ?? 'error';
}
