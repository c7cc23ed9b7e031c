// Splits a byte source into lines with one reusable buffer and a newline scan. Offsets are bytes.
// An incomplete last line stays in the buffer until its newline arrives. A line longer than the
// limit is cut: its first `maxLineBytes` are delivered (flagged) once its end is found, the rest is
// skipped and counted, and the file never stalls.
// A run of NUL bytes is not content but a hole: after an unclean shutdown a log file can keep its
// size and lose its last data, which reads back as zeros, and the runtime's next line is written
// right after them (moby/moby#29511). A run ends the line before it and is skipped (`onZeros`),
// so the record after it is read as the record it is, not hidden in the garbage of a longer line.
// Runtimes never write a NUL of their own (docker's JSON escapes it; CRI lines begin with a time),
// so only a container printing raw NULs loses them (its line comes in pieces).
import { isUtf8 } from 'node:buffer';
import type { ByteSource } from './byte-source.js';

const NO_BUFFER = Buffer.alloc(0);

export interface LineSink {
  /**
   * `buf[from, to)` is the line without its newline; it starts at file byte `offset`, ends (newline
   * included) at `end`. `utf8`: the line is known to be valid UTF-8 (false: not checked).
   */
  onLine(
    buf: Buffer,
    from: number,
    to: number,
    offset: number,
    end: number,
    truncated: boolean,
    utf8: boolean,
  ): void;
  /**
   * `bytes` NUL bytes at file byte `offset` were skipped: what came before them is a line of its
   * own, what comes after starts a new one (see `LineReader`).
   */
  onZeros?(offset: number, bytes: number): void;
}

export interface LineReaderOptions {
  /** Initial (and usual) buffer size. */
  bufferBytes: number;
  /** Longest line kept whole; the buffer grows up to this for long lines, then cuts. */
  maxLineBytes: number;
}

const LF = 0x0a;

export class LineReader {
  private buf: Buffer;
  /** Bytes `buf[0, carry)` are the start of an incomplete line beginning at `consumed`. */
  private carry = 0;
  /** Next byte to read from the source. */
  private pos: number;
  /** End of the last complete line handled: a restart from here loses and repeats nothing. */
  private done: number;
  /** Set while skipping the rest of an over-long line; holds its kept beginning. */
  private longPrefix: Buffer | undefined;
  private longStart = 0;
  /** Bytes of over-long lines skipped since `takeSkippedBytes` last took them. */
  skippedBytes = 0;
  /** Whether the content read is still the file's (see TailedFile); a false answer stops reading. */
  verify: (() => Promise<boolean>) | undefined;
  /** The last read found the content replaced; nothing from it was delivered. */
  invalidated = false;

  constructor(
    /** Replaced when the content moves to another file (see TailedFile.moveTo). */
    public source: ByteSource,
    startOffset: number,
    private readonly sink: LineSink,
    private readonly options: LineReaderOptions,
  ) {
    // Allocated at the first read, released when the file has been idle (see releaseBuffer): a
    // node with a hundred container logs should not hold a hundred read buffers.
    this.buf = NO_BUFFER;
    this.pos = startOffset;
    this.done = startOffset;
  }

  /** Next byte to be read. */
  get position(): number {
    return this.pos;
  }

  /** End of the last complete line delivered (or skipped). */
  get consumed(): number {
    return this.done;
  }

  /** The bytes skipped so far, counted once: the tailer takes them after every read. */
  takeSkippedBytes(): number {
    const n = this.skippedBytes;
    this.skippedBytes = 0;
    return n;
  }

  /** Bytes held for a line not complete yet. */
  get pendingBytes(): number {
    return this.pos - this.done;
  }

  /** Bytes of memory this reader holds. */
  get memoryBytes(): number {
    return this.buf.length + (this.longPrefix?.length ?? 0);
  }

  /** Forgets everything buffered and continues at `offset` (after a truncation). */
  reset(offset: number): void {
    this.carry = 0;
    this.longPrefix = undefined;
    this.pos = offset;
    this.done = offset;
    if (this.buf.length > this.options.bufferBytes) this.buf = Buffer.allocUnsafe(this.options.bufferBytes);
  }

  /**
   * Gives the read buffer back if nothing is held in it (an idle file), or in any case once the
   * file is done (`closed`); the next read takes a new one.
   */
  releaseBuffer(closed = false): void {
    if (closed || (this.carry === 0 && this.longPrefix === undefined)) this.buf = NO_BUFFER;
  }

  /** Reads once (at most one buffer) and delivers the complete lines in it. Resolves to the bytes read; 0 at the end. */
  async readChunk(): Promise<number> {
    if (this.buf.length === 0) this.buf = Buffer.allocUnsafe(this.options.bufferBytes);
    if (this.longPrefix === undefined && this.carry === this.buf.length) this.makeRoom();
    const base = this.done;
    const n = await this.source.read(this.buf, this.carry, this.buf.length - this.carry, this.pos);
    if (n === 0) return 0;
    // Checked after the read: if the file was replaced in place before it, the check sees that too.
    if (this.verify !== undefined && !(await this.verify())) {
      this.invalidated = true;
      return 0;
    }
    this.pos += n;
    const total = this.carry + n;
    let lineStart = 0;
    let scanFrom = this.carry;
    if (this.longPrefix !== undefined) {
      const nl = this.buf.indexOf(LF, 0);
      if (nl < 0 || nl >= total) {
        // Still inside the long line: `done` stays at its start until it ends.
        this.skippedBytes += total;
        this.carry = 0;
        return n;
      }
      const prefix = this.longPrefix;
      this.longPrefix = undefined;
      this.skippedBytes += nl;
      const end = this.pos - total + nl + 1;
      this.sink.onLine(prefix, 0, prefix.length, this.longStart, end, true, false);
      this.done = end;
      lineStart = nl + 1;
      scanFrom = lineStart;
      return this.scan(total, lineStart, scanFrom, end, n);
    }
    return this.scan(total, lineStart, scanFrom, base, n);
  }

  private scan(total: number, lineStart: number, scanFrom: number, base: number, n: number): number {
    // `base` is the file offset of buf[lineStart].
    const first = lineStart;
    const buf = this.buf;
    let nl = buf.indexOf(LF, scanFrom);
    // One UTF-8 check for all the complete lines of the read instead of one per line (a piece cut
    // at a NUL stays valid).
    const last = nl >= 0 && nl < total ? buf.lastIndexOf(LF, total - 1) : -1;
    const utf8 = last >= 0 && isUtf8(buf.subarray(lineStart, last));
    // One search per read: almost always none.
    let zero = zeroBefore(buf, lineStart, total);
    for (;;) {
      if (zero >= 0 && (zero < nl || nl < 0 || nl >= total)) {
        // A piece past the read's last newline was not in the UTF-8 check.
        if (zero > lineStart)
          this.sink.onLine(
            buf,
            lineStart,
            zero,
            base + (lineStart - first),
            base + (zero - first),
            false,
            utf8 && zero <= last,
          );
        let after = zero + 1;
        while (after < total && buf[after] === 0) after++;
        this.sink.onZeros?.(base + (zero - first), after - zero);
        lineStart = after;
        zero = zeroBefore(buf, after, total);
        continue;
      }
      if (nl < 0 || nl >= total) break;
      this.sink.onLine(buf, lineStart, nl, base + (lineStart - first), base + (nl + 1 - first), false, utf8);
      lineStart = nl + 1;
      nl = buf.indexOf(LF, lineStart);
    }
    this.done = base + (lineStart - first);
    this.carry = total - lineStart;
    if (this.carry > 0 && lineStart > 0) buf.copy(buf, 0, lineStart, total);
    if (buf.length > this.options.bufferBytes && this.carry <= this.options.bufferBytes >> 1) {
      const small = Buffer.allocUnsafe(this.options.bufferBytes);
      buf.copy(small, 0, 0, this.carry);
      this.buf = small;
    }
    return n;
  }

  /** The buffer is full with one incomplete line: grow it, or past the limit start cutting the line. */
  private makeRoom(): void {
    if (this.buf.length < this.options.maxLineBytes) {
      const bigger = Buffer.allocUnsafe(Math.min(this.buf.length * 2, this.options.maxLineBytes));
      this.buf.copy(bigger, 0, 0, this.carry);
      this.buf = bigger;
      return;
    }
    this.longPrefix = this.buf;
    this.longStart = this.done;
    this.buf = Buffer.allocUnsafe(this.options.bufferBytes);
    this.carry = 0;
  }
}

/** The first NUL byte of `buf[from, total)`, or -1 (what lies past `total` is an older read's). */
function zeroBefore(buf: Buffer, from: number, total: number): number {
  const at = buf.indexOf(0, from);
  return at >= 0 && at < total ? at : -1;
}
