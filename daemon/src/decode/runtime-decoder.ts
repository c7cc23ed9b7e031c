// Unwraps the container runtime's log format, one physical line at a time, and rejoins the lines a
// runtime split (CRI `P…P F`, docker json-file's 16 KiB pieces) per stream, so interleaved stdout
// and stderr pieces never mix. One decoder per file.
import { isUtf8 } from 'node:buffer';

export type RuntimeFormat = 'cri' | 'docker' | 'raw';
export type StreamName = 'stdout' | 'stderr' | 'unknown';

/**
 * One log event as the container wrote it. The decoder reuses a single instance for every event,
 * and its content is usually a view of the reader's buffer: a sink must copy what it keeps before
 * returning.
 */
export interface RuntimeEvent {
  format: RuntimeFormat;
  stream: StreamName;
  /** The runtime's timestamp, as written ('' when the format has none or the line had none). */
  time: string;
  /** Where `time`'s bytes are in `content`, when they are there (a whole CRI line); else -1. */
  timeFrom: number;
  timeTo: number;
  /**
   * The message without the runtime's wrapping and without its trailing newline, as UTF-8:
   * `content[contentFrom, contentTo)`. Always valid UTF-8: bytes that were not arrive as U+FFFD
   * (and `invalidUtf8` says so), so the bytes can go into a request as they are.
   */
  content: Buffer;
  contentFrom: number;
  contentTo: number;
  /** Byte offset of the first physical line of the event. */
  start: number;
  /** Byte offset just after the last physical line (its newline included). */
  end: number;
  /** Physical lines joined into this event. */
  parts: number;
  /** The content was cut at the event size limit (or the physical line at the line limit). */
  truncated: boolean;
  /** The bytes were not valid UTF-8; invalid sequences became U+FFFD. */
  invalidUtf8: boolean;
  /** The line could not be unwrapped (not CRI or docker although the file is). */
  undecodable: boolean;
  /**
   * Set on an event whose first pieces were read in the file before this one (see `handOver`): the
   * marker that file gave it. `start` is then where its pieces in this file begin.
   */
  carry: unknown;
}

/** The event's message as text. */
export function eventText(event: RuntimeEvent): string {
  return event.content.toString('utf8', event.contentFrom, event.contentTo);
}

export interface RuntimeEventSink {
  onEvent(event: RuntimeEvent): void;
}

export interface DecoderOptions {
  /** Largest event kept, in bytes of content; longer ones are truncated and flagged. */
  maxEventBytes: number;
}

/** Pieces of a split event waiting for its last piece. */
interface Pending {
  format: 'cri' | 'docker';
  stream: 'stdout' | 'stderr';
  /** Offset of its first piece in this file; -1 when handed over and none has come here yet. */
  start: number;
  /** Its marker when its first pieces were in the file before (see `handOver`). */
  carry: unknown;
  time: string;
  /** CRI pieces, copied out of the reused read buffer. */
  chunks: Buffer[];
  /** Docker pieces (the wrapper is JSON, so they are already strings). */
  texts: string[];
  bytes: number;
  truncated: boolean;
  invalid: boolean;
  parts: number;
}

const SPACE = 0x20;
const CR = 0x0d;
const OPEN_BRACE = 0x7b;
const NO_CONTENT = Buffer.alloc(0);
const STREAMS = ['stdout', 'stderr'] as const;

/** An event still being joined, as the file before hands it over (see `RuntimeDecoder.handOver`). */
export interface OpenEvent {
  readonly stream: 'stdout' | 'stderr';
  /** Offset of its first piece in the file handing it over; -1 if it has none there. */
  readonly start: number;
  /** The marker it got from an earlier handover, if any. */
  readonly carry: unknown;
}

export class RuntimeDecoder {
  private format: RuntimeFormat | undefined;
  private readonly pending: { stdout: Pending | undefined; stderr: Pending | undefined } = {
    stdout: undefined,
    stderr: undefined,
  };
  private readonly event = new DecodedEvent();
  /** The marker of the event being emitted (see `RuntimeEvent.carry`). */
  private emitting: unknown;

  constructor(
    private readonly sink: RuntimeEventSink,
    private readonly options: DecoderOptions,
    format?: RuntimeFormat,
  ) {
    this.format = format;
  }

  get detectedFormat(): RuntimeFormat | undefined {
    return this.format;
  }

  /**
   * The earliest byte offset an event still being joined started at, or undefined. A checkpoint
   * must never pass it: resuming there re-reads the whole event.
   */
  openEventStart(): number | undefined {
    let min: number | undefined;
    for (const p of [this.pending.stdout, this.pending.stderr]) {
      if (p !== undefined && p.start >= 0 && (min === undefined || p.start < min)) min = p.start;
    }
    return min;
  }

  hasOpenEvents(): boolean {
    return this.pending.stdout !== undefined || this.pending.stderr !== undefined;
  }

  /** An event handed over by the file before (see `handOver`) still waits for its last piece here. */
  hasHandedOverEvents(): boolean {
    return this.pending.stdout?.carry !== undefined || this.pending.stderr?.carry !== undefined;
  }

  /**
   * Moves the events still being joined to `next`, the decoder of the file that took over at a
   * rotation: a runtime may write an event's first pieces before the rotation and its last after.
   * `mark` gives each event moved its marker, which its RuntimeEvent carries (see `carry`). An
   * event `next` cannot take (another format, or that stream already has one) stays here.
   */
  handOver(next: RuntimeDecoder, mark: (open: OpenEvent) => unknown): void {
    for (const stream of STREAMS) {
      const p = this.pending[stream];
      if (p === undefined || next.pending[stream] !== undefined) continue;
      if (next.format !== undefined && next.format !== p.format) continue;
      this.pending[stream] = undefined;
      p.carry = mark(p);
      p.start = -1;
      next.format ??= p.format;
      next.pending[stream] = p;
    }
  }

  /**
   * Emits the events still being joined, flagged truncated: their file ended (rotated away or
   * deleted) before their last piece came, and they must not disappear.
   */
  flush(end: number): void {
    for (const stream of STREAMS) {
      const p = this.pending[stream];
      if (p === undefined) continue;
      this.pending[stream] = undefined;
      this.emitPending(stream, p, end, true);
    }
  }

  /**
   * One physical line: `buf[from, to)` without its newline, found at byte `offset` of the file and
   * ending (newline included) at `end`. `lineTruncated` says the reader cut an over-long line;
   * `utf8` that the line is known to be valid UTF-8 (false: check it here).
   */
  pushLine(
    buf: Buffer,
    from: number,
    to: number,
    offset: number,
    end: number,
    lineTruncated: boolean,
    utf8 = false,
  ): void {
    if (to > from && buf[to - 1] === CR) to--;
    if (this.format === undefined) {
      if (to === from) {
        this.emitRaw(buf, from, to, offset, end, lineTruncated, 'raw');
        return;
      }
      this.format = detectFormat(buf, from, to);
    }
    switch (this.format) {
      case 'cri':
        this.pushCri(buf, from, to, offset, end, lineTruncated, utf8);
        return;
      case 'docker':
        this.pushDocker(buf, from, to, offset, end, lineTruncated);
        return;
      default:
        this.emitRaw(buf, from, to, offset, end, lineTruncated, 'raw');
        return;
    }
  }

  private pushCri(
    buf: Buffer,
    from: number,
    to: number,
    offset: number,
    end: number,
    cut: boolean,
    utf8: boolean,
  ): void {
    // <time> <stdout|stderr> <P|F> <content>; a bare `F` with no content is an empty line.
    const s1 = buf.indexOf(SPACE, from);
    const s2 = s1 < 0 || s1 >= to ? -1 : buf.indexOf(SPACE, s1 + 1);
    const flagAt = s2 + 1;
    const stream = s2 < 0 || s2 >= to ? 'unknown' : streamAt(buf, s1 + 1, s2);
    const flag = flagAt < to ? buf[flagAt] : undefined;
    const flagEnds = flagAt + 1 === to || (flagAt + 1 < to && buf[flagAt + 1] === SPACE);
    if (stream === 'unknown' || (flag !== 0x50 && flag !== 0x46) || !flagEnds) {
      this.emitRaw(buf, from, to, offset, end, cut, 'cri', true);
      return;
    }
    const contentFrom = Math.min(flagAt + 2, to);
    const partial = flag === 0x50; // 'P'
    let pending = this.pending[stream];
    if (
      pending !== undefined &&
      !partial &&
      awaitsFirstPieceHere(pending) &&
      buf[contentFrom] === OPEN_BRACE &&
      startsAnotherEvent(buf.toString('utf8', contentFrom, to), Buffer.concat(pending.chunks).toString())
    ) {
      this.pending[stream] = undefined;
      this.emitPending(stream, pending, offset, true);
      pending = undefined;
    }
    if (partial || pending !== undefined) {
      const p = pending ?? this.openPending('cri', stream, offset, buf.toString('latin1', from, s1));
      if (p.start < 0) p.start = offset;
      this.appendPending(p, buf, contentFrom, to, cut);
      if (partial) return;
      this.pending[stream] = undefined;
      this.emitPending(stream, p, end, p.truncated);
      return;
    }
    let contentTo = to;
    let truncated = cut;
    if (contentTo - contentFrom > this.options.maxEventBytes) {
      contentTo = contentFrom + this.options.maxEventBytes;
      truncated = true;
    }
    if (utf8 && !truncated) {
      // The time is read from the line's bytes only if someone asks for it (see DecodedEvent).
      this.emit(
        'cri',
        stream,
        undefined,
        buf,
        contentFrom,
        contentTo,
        offset,
        end,
        1,
        false,
        false,
        false,
        from,
        s1,
      );
      return;
    }
    const time = buf.toString('latin1', from, s1);
    this.emitBytes('cri', stream, time, buf, contentFrom, contentTo, offset, end, 1, truncated);
  }

  private openPending(
    format: Pending['format'],
    stream: 'stdout' | 'stderr',
    start: number,
    time: string,
  ): Pending {
    const p: Pending = {
      format,
      stream,
      start,
      carry: undefined,
      time,
      chunks: [],
      texts: [],
      bytes: 0,
      truncated: false,
      invalid: false,
      parts: 0,
    };
    this.pending[stream] = p;
    return p;
  }

  private appendPending(p: Pending, buf: Buffer, from: number, to: number, cut: boolean): void {
    p.parts++;
    if (cut) p.truncated = true;
    const room = this.options.maxEventBytes - p.bytes;
    if (to - from > room) {
      to = from + Math.max(0, room);
      p.truncated = true;
    }
    if (to > from) {
      // The read buffer is reused: pieces must be copied.
      p.chunks.push(Buffer.from(buf.subarray(from, to)));
      p.bytes += to - from;
    }
  }

  private pushDocker(buf: Buffer, from: number, to: number, offset: number, end: number, cut: boolean): void {
    const invalid = !isUtf8(buf.subarray(from, to));
    let wrapper: unknown;
    try {
      wrapper = JSON.parse(buf.toString('utf8', from, to));
    } catch {
      wrapper = undefined;
    }
    const w = wrapper as { log?: unknown; stream?: unknown; time?: unknown } | null | undefined;
    if (w === undefined || w === null || typeof w !== 'object' || typeof w.log !== 'string') {
      this.emitRaw(buf, from, to, offset, end, cut, 'docker', true);
      return;
    }
    const stream: StreamName = w.stream === 'stdout' || w.stream === 'stderr' ? w.stream : 'unknown';
    const time = typeof w.time === 'string' ? w.time : '';
    const log = w.log;
    // A piece without its newline is one of docker's 16 KiB splits.
    const complete = log.endsWith('\n');
    let piece = complete ? log.slice(0, log.endsWith('\r\n') ? -2 : -1) : log;
    if (stream === 'unknown') {
      this.emitText('docker', stream, time, piece, offset, end, 1, cut, invalid, false);
      return;
    }
    let p = this.pending[stream];
    if (
      p !== undefined &&
      complete &&
      awaitsFirstPieceHere(p) &&
      piece.charCodeAt(0) === OPEN_BRACE &&
      startsAnotherEvent(piece, p.texts.join(''))
    ) {
      this.pending[stream] = undefined;
      this.emitPending(stream, p, offset, true);
      p = undefined;
    }
    if (p === undefined && complete) {
      let truncated = cut;
      if (
        piece.length > this.options.maxEventBytes / 4 &&
        Buffer.byteLength(piece) > this.options.maxEventBytes
      ) {
        piece = truncateText(piece, this.options.maxEventBytes);
        truncated = true;
      }
      this.emitText('docker', stream, time, piece, offset, end, 1, truncated, invalid, false);
      return;
    }
    p ??= this.openPending('docker', stream, offset, time);
    if (p.start < 0) p.start = offset;
    p.parts++;
    if (cut) p.truncated = true;
    if (invalid) p.invalid = true;
    const room = this.options.maxEventBytes - p.bytes;
    const size = Buffer.byteLength(piece);
    if (size > room) {
      piece = truncateText(piece, Math.max(0, room));
      p.truncated = true;
    }
    if (piece.length > 0) {
      p.texts.push(piece);
      p.bytes += Math.min(size, Math.max(0, room));
    }
    if (!complete) return;
    this.pending[stream] = undefined;
    this.emitPending(stream, p, end, p.truncated);
  }

  /** A joined event, from its first piece's offset to `end`. */
  private emitPending(stream: 'stdout' | 'stderr', p: Pending, end: number, truncated: boolean): void {
    // A handed-over event with no piece here yet (flushed) holds nothing in this file.
    const start = p.start < 0 ? end : p.start;
    this.emitting = p.carry;
    try {
      if (p.format === 'docker') {
        const text = p.texts.join('');
        this.emitText('docker', stream, p.time, text, start, end, p.parts, truncated, p.invalid, false);
        return;
      }
      const joined = p.chunks.length === 1 ? (p.chunks[0] as Buffer) : Buffer.concat(p.chunks, p.bytes);
      this.emitBytes('cri', stream, p.time, joined, 0, joined.length, start, end, p.parts, truncated);
    } finally {
      this.emitting = undefined;
    }
  }

  private emitRaw(
    buf: Buffer,
    from: number,
    to: number,
    offset: number,
    end: number,
    cut: boolean,
    format: RuntimeFormat,
    undecodable = false,
  ): void {
    let contentTo = to;
    if (contentTo - from > this.options.maxEventBytes) {
      contentTo = from + this.options.maxEventBytes;
      cut = true;
    }
    this.emitBytes(
      format,
      undecodable ? 'unknown' : 'stdout',
      '',
      buf,
      from,
      contentTo,
      offset,
      end,
      1,
      cut,
      undecodable,
    );
  }

  private emitBytes(
    format: RuntimeFormat,
    stream: StreamName,
    time: string,
    buf: Buffer,
    from: number,
    to: number,
    start: number,
    end: number,
    parts: number,
    truncated: boolean,
    undecodable = false,
  ): void {
    const view = buf.subarray(from, to);
    if (isUtf8(view)) {
      this.emit(format, stream, time, buf, from, to, start, end, parts, truncated, false, undecodable);
      return;
    }
    // A cut can split a multi-byte character: that is truncation, not invalid input.
    const invalid = !(truncated && isUtf8(trimPartialCodePoint(view)));
    const text = buf.toString('utf8', from, to);
    this.emitText(format, stream, time, text, start, end, parts, truncated, invalid, undecodable);
  }

  private emitText(
    format: RuntimeFormat,
    stream: StreamName,
    time: string,
    text: string,
    start: number,
    end: number,
    parts: number,
    truncated: boolean,
    invalidUtf8: boolean,
    undecodable: boolean,
  ): void {
    const bytes = Buffer.from(text, 'utf8');
    this.emit(
      format,
      stream,
      time,
      bytes,
      0,
      bytes.length,
      start,
      end,
      parts,
      truncated,
      invalidUtf8,
      undecodable,
    );
  }

  private emit(
    format: RuntimeFormat,
    stream: StreamName,
    /** Undefined: `content[timeFrom, timeTo)`, decoded when asked for. */
    time: string | undefined,
    content: Buffer,
    contentFrom: number,
    contentTo: number,
    start: number,
    end: number,
    parts: number,
    truncated: boolean,
    invalidUtf8: boolean,
    undecodable: boolean,
    timeFrom = -1,
    timeTo = -1,
  ): void {
    const e = this.event;
    e.format = format;
    e.stream = stream;
    e.setTime(time, timeFrom, timeTo);
    e.content = content;
    e.contentFrom = contentFrom;
    e.contentTo = contentTo;
    e.start = start;
    e.end = end;
    e.parts = parts;
    e.truncated = truncated;
    e.invalidUtf8 = invalidUtf8;
    e.undecodable = undecodable;
    e.carry = this.emitting;
    this.sink.onEvent(e);
  }
}

/**
 * The decoder's one event. Its `time` is decoded from the line's bytes only when read: a usual
 * record's tail takes the bytes as they are (kubearmor-record.ts), and a string per line was ~1.5 %
 * of the data path.
 */
class DecodedEvent implements RuntimeEvent {
  format: RuntimeFormat = 'raw';
  stream: StreamName = 'unknown';
  timeFrom = -1;
  timeTo = -1;
  content: Buffer = NO_CONTENT;
  contentFrom = 0;
  contentTo = 0;
  start = 0;
  end = 0;
  parts = 1;
  truncated = false;
  invalidUtf8 = false;
  undecodable = false;
  carry: unknown = undefined;
  #timeText: string | undefined = '';

  get time(): string {
    this.#timeText ??= this.content.toString('latin1', this.timeFrom, this.timeTo);
    return this.#timeText;
  }

  set time(text: string) {
    this.#timeText = text;
  }

  setTime(text: string | undefined, from: number, to: number): void {
    this.#timeText = text;
    this.timeFrom = from;
    this.timeTo = to;
  }
}

function streamAt(buf: Buffer, from: number, to: number): StreamName {
  if (to - from !== 6) return 'unknown';
  // "stdout" / "stderr": compare bytes, no string made.
  if (buf[from] !== 0x73 || buf[from + 1] !== 0x74 || buf[from + 2] !== 0x64) return 'unknown';
  if (buf[from + 3] === 0x6f && buf[from + 4] === 0x75 && buf[from + 5] === 0x74) return 'stdout';
  if (buf[from + 3] === 0x65 && buf[from + 4] === 0x72 && buf[from + 5] === 0x72) return 'stderr';
  return 'unknown';
}

/** Decides a file's format from its first non-empty line. */
export function detectFormat(buf: Buffer, from: number, to: number): RuntimeFormat {
  if (buf[from] === OPEN_BRACE) {
    try {
      const w = JSON.parse(buf.toString('utf8', from, to)) as { log?: unknown };
      if (w !== null && typeof w === 'object' && typeof w.log === 'string') return 'docker';
    } catch {
      // not docker json-file
    }
    return 'raw';
  }
  const s1 = buf.indexOf(SPACE, from);
  if (s1 < 0 || s1 >= to) return 'raw';
  // RFC 3339 timestamps start with four digits and a dash.
  if (s1 - from < 20 || buf[from + 4] !== 0x2d) return 'raw';
  const s2 = buf.indexOf(SPACE, s1 + 1);
  if (s2 < 0 || s2 >= to || streamAt(buf, s1 + 1, s2) === 'unknown') return 'raw';
  const flag = buf[s2 + 1];
  return flag === 0x50 || flag === 0x46 ? 'cri' : 'raw';
}

/** Drops an incomplete UTF-8 sequence at the very end (at most 3 bytes). */
function trimPartialCodePoint(view: Buffer): Buffer {
  let i = view.length - 1;
  let back = 0;
  while (i >= 0 && back < 3 && ((view[i] as number) & 0xc0) === 0x80) {
    i--;
    back++;
  }
  if (i >= 0 && (view[i] as number) >= 0xc0) return view.subarray(0, i);
  return view;
}

/** Cuts a string to at most `maxBytes` of UTF-8, never inside a surrogate pair. */
function truncateText(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  return trimPartialCodePoint(bytes.subarray(0, maxBytes)).toString('utf8');
}

/**
 * An event handed over at a rotation (`handOver`) whose first line in the new file is whole and is
 * a JSON object by itself (`{`, checked first), while the event's first pieces joined to it are
 * not JSON: that line is another event. The file that held the event's last pieces was deleted
 * unread (kubelet deleting the oldest files while the shipper was behind), and the file after it
 * took the hand-over. Joined, the line would vanish inside a broken record. Checked only for a
 * handed-over event's first piece here, so at most once per rotation.
 */
function startsAnotherEvent(line: string, head: string): boolean {
  return isJson(line) && !isJson(head + line);
}

/** Handed over at a rotation, with none of its pieces in this file yet. */
function awaitsFirstPieceHere(p: Pending): boolean {
  return p.carry !== undefined && p.start < 0;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
