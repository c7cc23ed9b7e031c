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
import type { CounterCell, Counters } from '../metrics/counters.js';
import {
  buildRecord,
  documentIdPrefix,
  type RecordKind,
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
 * An event joined from pieces. Each file with pieces of it holds its checkpoint at their start
 * until every such file is past them (see `settleHeld`): a checkpoint between them would make a
 * restart ship the last pieces as a record of their own.
 */
export interface HeldEvent {
  /** Where its pieces are in each file: `[start, end)`. */
  holds: { file: TailedFile; start: number; end: number }[];
}

/**
 * An event whose pieces span a rotation. Its record is its first file's (that file's id prefix and
 * offset, so a replay gives the same id) and is acknowledged there, under `ticket`.
 */
interface CarriedEvent extends HeldEvent {
  origin: TailedFile;
  start: number;
  ticket: number;
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
  /**
   * The runtime's time on the last relay record read ('' if none had one): what SilentRelayWatch
   * asks of a file with no KubeArmor record. Not taken from every record: it would make a string
   * of each line's time (see runtime-decoder.ts's DecodedEvent).
   */
  lastTime = '';
  /** When the shipper took the file up (ms). */
  readonly since = Date.now();
  /** Reading has begun (see Tailer.begin): events of the file before may be handed over until then. */
  begun = false;
  /** Events joined from pieces that this file has pieces of, until settled. */
  held: HeldEvent[] = [];

  private readonly linesRead: CounterCell;
  private readonly recordsByKind: Record<RecordKind, CounterCell>;

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
    // Counted per line and per record: the cells themselves, no look-up each time.
    this.linesRead = counters.cell('lines_read');
    this.recordsByKind = {
      alert: counters.cell('records', 'alert'),
      log: counters.cell('records', 'log'),
      message: counters.cell('records', 'message'),
      relay: counters.cell('records', 'relay'),
    };
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

  /**
   * The rotation it belongs to: its directory and its name while current (`…/ctr/0.log`), set by
   * the tailer. A restarted container's runs (`0.log`, `1.log`) share a directory, not a rotation.
   */
  rotation = '';

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
    this.linesRead.value++;
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
    // A line of the other stream between its pieces may be acknowledged after it.
    if (event.parts > 1) this.hold({ holds: [] }, event.start, event.end);
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

  private hold(event: HeldEvent, start: number, end: number): void {
    event.holds.push({ file: this, start, end });
    this.held.push(event);
  }

  private deliver(event: RuntimeEvent, ticket: number): void {
    this.recordSource.kubernetes = this.metadata.current();
    const record = buildRecord(event, this.recordSource, this.options.record);
    this.recordsByKind[record.kind].value++;
    if (record.kind === 'relay') {
      this.relayRecords++;
      if (event.time !== '') this.lastTime = event.time;
    } else this.kubearmorRecords++;
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
    // The descriptor it read through is the caller's: it may go on reading the inode's new content.
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
   * Where reading may resume without losing or repeating an unacknowledged record, nor stopping
   * between an event's pieces (but for the events in `settling`: see `settleHeld`).
   */
  committedOffset(settling?: ReadonlySet<HeldEvent>): number {
    let offset = this.reader.consumed;
    const open = this.decoder.openEventStart();
    if (open !== undefined && open < offset) offset = open;
    const unacked = this.acks.earliestUnacked();
    if (unacked !== undefined && unacked < offset) offset = unacked;
    for (const e of this.held) {
      if (settling?.has(e)) continue;
      for (const h of e.holds) if (h.file === this && h.start < offset) offset = h.start;
    }
    return offset;
  }

  /** Nothing more to read, every record acknowledged, and nothing held for another file. */
  get finished(): boolean {
    return this.closed && this.acks.pending === 0 && this.held.length === 0;
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
 * Lets go of the events joined from pieces whose every file's checkpoint is past their pieces. The
 * files of one such event must restart all before its pieces (and join them again, to the same id)
 * or all past them: with one before and one past, a restart would make its pieces in the one
 * before a record of their own. So an event is let go only once no file of it would stop before
 * its pieces without it; those that go, go together (two events may each hold a file the other
 * needs past it). Each file's offset is computed once per pass.
 */
export function settleHeld(files: Iterable<TailedFile>): void {
  const settling = new Set<HeldEvent>();
  for (const f of files) for (const e of f.held) settling.add(e);
  if (settling.size === 0) return;
  for (let changed = true; changed; ) {
    changed = false;
    const offsets = new Map<TailedFile, number>();
    const offsetOf = (f: TailedFile): number => {
      let o = offsets.get(f);
      if (o === undefined) {
        o = f.committedOffset(settling);
        offsets.set(f, o);
      }
      return o;
    };
    for (const e of settling) {
      if (e.holds.every((h) => offsetOf(h.file) >= h.end)) continue;
      settling.delete(e);
      changed = true;
    }
  }
  const touched = new Set<TailedFile>();
  for (const e of settling) for (const h of e.holds) touched.add(h.file);
  for (const f of touched) f.held = f.held.filter((e) => !settling.has(e));
}
