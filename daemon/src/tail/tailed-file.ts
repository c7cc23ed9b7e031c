// One file being read: its identity, its reader, its runtime decoder and the window of records
// sent but not yet acknowledged. Lines flow reader → decoder → record builder → consumer, all
// synchronously inside one read, so nothing per line outlives the read buffer.
import { AckWindow } from '../checkpoint/ack-window.js';
import type { FileCheckpoint } from '../checkpoint/checkpoint-store.js';
import {
  type OpenEvent,
  RuntimeDecoder,
  type RuntimeEvent,
  type RuntimeEventSink,
} from '../decode/runtime-decoder.js';
import type { FileMetadata } from '../enrich/file-metadata.js';
import type { Counters } from '../metrics/counters.js';
import {
  buildRecord,
  documentIdPrefix,
  type RecordOptions,
  type RecordSource,
  type ShippableRecord,
} from '../parse/kubearmor-record.js';
import { type ByteSource, readHead } from './byte-source.js';
import { type FileIdentity, hashHead } from './file-identity.js';
import { LineReader, type LineSink } from './line-reader.js';

/** Receives every record; acknowledges it later with `file.ack(record.ticket)`. */
export interface RecordConsumer {
  /** The record's body is a view of the read buffer: what is kept past the call must be copied. */
  onRecord(file: TailedFile, record: ShippableRecord): void;
  /** False while the consumer holds as much as it may: reading waits for `waitForCapacity`. */
  hasCapacity(): boolean;
  waitForCapacity(): Promise<void>;
}

/**
 * An event whose pieces span a rotation. Its record is its first file's (that file's id prefix and
 * offset, so a replay gives the same id) and is acknowledged there, under `ticket`. Each file with
 * pieces of it holds its checkpoint at them until the event is settled (see `settleCarried`).
 */
export interface CarriedEvent {
  origin: TailedFile;
  start: number;
  ticket: number;
  /** Where its pieces are in each file: `[start, end)`. */
  holds: { file: TailedFile; start: number; end: number }[];
}

export interface TailedFileOptions {
  nodeName: string;
  record: RecordOptions;
  maxEventBytes: number;
  bufferBytes: number;
}

export class TailedFile implements LineSink, RuntimeEventSink {
  readonly reader: LineReader;
  readonly decoder: RuntimeDecoder;
  readonly acks = new AckWindow();
  private readonly recordSource: RecordSource;
  /** A glob path points at this file now (false once rotated away or deleted). */
  current: boolean;
  /** Read to the end of what was there at the last look. */
  atEnd = false;
  /** When it was first seen at its end with no growth (ms), for the rotate-wait grace. */
  atEndSince = 0;
  /** When maintain() last looked at the file (ms). */
  lastLook = 0;
  /** Last size seen. */
  size: number;
  /** Reading is held by the consumer. */
  paused = false;
  /** The source is closed: nothing more will be read. */
  closed = false;
  /** Content was replaced (copy-truncate): this generation is done. */
  retired = false;
  /** Records read: KubeArmor's (alerts, logs, messages), and every other line (see silent-relay.ts). */
  kubearmorRecords = 0;
  relayRecords = 0;
  /** The runtime's time on the last record read ('' if none had one). */
  lastTime = '';
  /** When the shipper took the file up (ms). */
  readonly since = Date.now();
  /** Reading has begun (see Tailer.begin): events of the file before may be handed over until then. */
  begun = false;
  /** Events joined across files that this file has pieces of, until settled. */
  carried: CarriedEvent[] = [];
  /** This file's events joined from pieces, until the checkpoint is past them (see committedOffset). */
  private joined: { start: number; end: number }[] = [];

  constructor(
    readonly key: string,
    public identity: FileIdentity,
    public source: ByteSource,
    /** Real path, and the path it was found under (a symlink, or the same). */
    public realPath: string,
    public path: string,
    /** Rotation order within its directory: older files are read first. */
    readonly order: number,
    startOffset: number,
    size: number,
    current: boolean,
    private readonly consumer: RecordConsumer,
    private readonly counters: Counters,
    private readonly options: TailedFileOptions,
    /** The `kubernetes.*` fields of this file's documents (they change when the pod does). */
    readonly metadata: FileMetadata,
  ) {
    this.current = current;
    this.size = size;
    this.recordSource = {
      path,
      nodeName: options.nodeName,
      idPrefix: documentIdPrefix(options.nodeName, key),
      kubernetes: metadata.current(),
      fileTime: identity.headTime,
    };
    this.decoder = new RuntimeDecoder(this, { maxEventBytes: options.maxEventBytes });
    this.reader = new LineReader(source, startOffset, this, {
      bufferBytes: options.bufferBytes,
      maxLineBytes: options.maxEventBytes + 64 * 1024,
    });
    if (!source.compressed) this.reader.verify = () => this.headUnchanged();
  }

  /** The file still begins with the bytes it was identified by (copy-truncate replaces them). */
  async headUnchanged(): Promise<boolean> {
    try {
      const head = await readHead(this.source, this.identity.fingerprintBytes);
      return head.length === this.identity.fingerprintBytes && hashHead(head) === this.identity.fingerprint;
    } catch {
      return true; // an unreadable head is an I/O problem, not a replacement
    }
  }

  get dir(): string {
    return this.realPath.slice(0, this.realPath.lastIndexOf('/'));
  }

  onLine(
    buf: Buffer,
    from: number,
    to: number,
    offset: number,
    end: number,
    truncated: boolean,
    utf8: boolean,
  ): void {
    this.counters.inc('lines_read');
    this.decoder.pushLine(buf, from, to, offset, end, truncated, utf8);
  }

  onZeros(offset: number, bytes: number): void {
    // A hole where data was lost (see LineReader): pieces of an event before it are not joined
    // with a line after it.
    this.counters.inc('bytes_lost', 'zero_filled', bytes);
    this.decoder.flush(offset);
  }

  onEvent(event: RuntimeEvent): void {
    if (event.carry !== undefined) {
      this.onCarriedEvent(event, event.carry as CarriedEvent);
      return;
    }
    if (event.parts > 1) this.joined.push({ start: event.start, end: event.end });
    this.deliver(event, this.acks.add(event.start));
  }

  /**
   * Hands the events still being joined to the file that followed this one at a rotation (see
   * RuntimeDecoder.handOver); this file holds its checkpoint at their pieces until they settle.
   */
  handOverTo(next: TailedFile): void {
    this.decoder.handOver(next.decoder, (open) => this.carry(open));
  }

  private carry(open: OpenEvent): CarriedEvent {
    let carried = open.carry as CarriedEvent | undefined;
    // Its record is acknowledged here, where it began.
    carried ??= { origin: this, start: open.start, ticket: this.acks.add(open.start), holds: [] };
    // The pieces here end at most where this file was read to.
    if (open.start >= 0) this.hold(carried, open.start, this.reader.consumed);
    return carried;
  }

  private onCarriedEvent(event: RuntimeEvent, carried: CarriedEvent): void {
    this.hold(carried, event.start, event.end);
    event.start = carried.start;
    carried.origin.deliver(event, carried.ticket);
  }

  private hold(carried: CarriedEvent, start: number, end: number): void {
    carried.holds.push({ file: this, start, end });
    this.carried.push(carried);
  }

  private deliver(event: RuntimeEvent, ticket: number): void {
    this.recordSource.kubernetes = this.metadata.current();
    const record = buildRecord(event, this.recordSource, this.options.record);
    this.counters.inc('records', record.kind);
    if (record.kind === 'relay') this.relayRecords++;
    else this.kubearmorRecords++;
    if (event.time !== '') this.lastTime = event.time;
    if (record.reason !== undefined) this.counters.inc('bad_lines', record.reason);
    for (const flag of record.flags) this.counters.inc('record_flags', flag);
    record.ticket = ticket;
    this.consumer.onRecord(this, record);
  }

  /**
   * The same content now lives in another file (a copy-truncate's copy): continue reading there,
   * at the same offsets, under the same key, so ids and checkpoints carry on.
   */
  moveTo(source: ByteSource, dev: number, ino: number, realPath: string): void {
    void this.source.close();
    this.source = source;
    this.reader.source = source;
    this.reader.invalidated = false;
    this.reader.verify = source.compressed ? undefined : () => this.headUnchanged();
    this.identity = { ...this.identity, dev, ino };
    this.realPath = realPath;
    this.current = false;
    this.atEnd = false;
  }

  ack(ticket: number): void {
    this.acks.ack(ticket);
  }

  /**
   * Where reading may resume without losing or repeating an unacknowledged record, or an event
   * joined across files (but for those in `settling`: see `settleCarried`).
   */
  committedOffset(settling?: ReadonlySet<CarriedEvent>): number {
    let offset = this.reader.consumed;
    const open = this.decoder.openEventStart();
    if (open !== undefined && open < offset) offset = open;
    const unacked = this.acks.earliestUnacked();
    if (unacked !== undefined && unacked < offset) offset = unacked;
    for (const c of this.carried) {
      if (settling?.has(c)) continue;
      for (const h of c.holds) if (h.file === this && h.start < offset) offset = h.start;
    }
    if (this.joined.length > 0) offset = this.outsideJoined(offset, settling === undefined);
    return offset;
  }

  /**
   * Never between the pieces of an event: a line of the other stream written between them may be
   * acknowledged after the event, and resuming at it would make the event's last pieces a record
   * of their own. Events the offset is past are forgotten (`prune`: offsets only grow).
   */
  private outsideJoined(offset: number, prune: boolean): number {
    for (let moved = true; moved; ) {
      moved = false;
      for (const j of this.joined) {
        if (j.start < offset && offset < j.end) {
          offset = j.start;
          moved = true;
        }
      }
    }
    if (prune) this.joined = this.joined.filter((j) => j.end > offset);
    return offset;
  }

  /** Nothing more to read, every record acknowledged, and nothing held for another file. */
  get finished(): boolean {
    return this.closed && this.acks.pending === 0 && this.carried.length === 0;
  }

  checkpoint(now: string): FileCheckpoint {
    return {
      key: this.key,
      dev: this.identity.dev,
      ino: this.identity.ino,
      fingerprint: this.identity.fingerprint,
      fingerprintBytes: this.identity.fingerprintBytes,
      path: this.realPath,
      offset: this.committedOffset(),
      size: Math.max(this.size, this.reader.position),
      released: this.finished,
      updatedAt: now,
    };
  }
}

/**
 * Lets go of the events joined across files whose every file's checkpoint is past their pieces.
 * The files of one such event must restart all before its pieces (and join them again, to the same
 * id) or all past them: with one before and one past, a restart would make its pieces in the one
 * before a record of their own. So an event is let go only once no file of it would stop before its
 * pieces without it; those that go, go together (two events may each hold a file the other needs
 * past it).
 */
export function settleCarried(files: Iterable<TailedFile>): void {
  const settling = new Set<CarriedEvent>();
  for (const f of files) for (const c of f.carried) settling.add(c);
  if (settling.size === 0) return;
  for (let changed = true; changed; ) {
    changed = false;
    for (const c of settling) {
      if (c.holds.every((h) => h.file.committedOffset(settling) >= h.end)) continue;
      settling.delete(c);
      changed = true;
    }
  }
  for (const c of settling) for (const h of c.holds) h.file.carried = h.file.carried.filter((x) => x !== c);
}
