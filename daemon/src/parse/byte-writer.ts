// Appends the pieces of a document's JSON to a reused buffer as bytes: the per-record hot path
// makes no strings for what it adds (each one would be allocated, concatenated, flattened, encoded
// and collected, record after record). Short copies are byte loops, which cost ~2 ns a byte;
// Buffer#copy costs a fixed ~20–50 ns on Node 22 (a direct call; `set` of a `subarray` makes a
// typed-array view first, ~55–75 ns) and ~75 ns on Node 20.

/** Below this many bytes a loop copies faster than Buffer#copy. */
const SHORT_COPY = 32;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** A buffer grown past this for one long value is let go at the next reset: memory stays bounded. */
const KEPT_BYTES = 64 * 1024;

export class ByteWriter {
  buffer: Buffer;
  length = 0;

  constructor(private readonly initialBytes = 4096) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  reset(): void {
    this.length = 0;
    if (this.buffer.length > KEPT_BYTES) this.buffer = Buffer.allocUnsafe(this.initialBytes);
  }

  /** Room for `n` more bytes (a record's tail may carry a long value once in a while). */
  reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, this.length + n));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
  }

  /** `source[from, to)`, as they are. */
  bytes(source: Buffer, from: number, to: number): void {
    this.reserve(to - from);
    this.length = copyBytes(source, from, to, this.buffer, this.length);
  }

  /** A string the caller knows is ASCII (no code unit above 0x7f): one byte per code unit. */
  ascii(text: string): void {
    const n = text.length;
    this.reserve(n);
    const b = this.buffer;
    let at = this.length;
    for (let i = 0; i < n; i++) b[at++] = text.charCodeAt(i);
    this.length = at;
  }

  /** `text` as a JSON string: printable ASCII as it is, in one pass; anything else by JSON.stringify. */
  jsonString(text: string): void {
    const n = text.length;
    this.reserve(n + 2);
    const b = this.buffer;
    const start = this.length;
    let at = start;
    b[at++] = QUOTE;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) {
        this.length = start;
        this.utf8(JSON.stringify(text));
        return;
      }
      b[at++] = c;
    }
    b[at++] = QUOTE;
    this.length = at;
  }

  /** Any string, as UTF-8. */
  utf8(text: string): void {
    this.reserve(3 * text.length);
    this.length += this.buffer.write(text, this.length, 'utf8');
  }

  /** A non-negative safe integer in base 10 or 36 (lower-case digits, as Number#toString writes them). */
  digits(value: number, radix: 10 | 36): void {
    this.reserve(12);
    this.length = writeDigits(value, radix, this.buffer, this.length);
  }
}

/** Copies `source[from, to)` into `target` at `at`; returns where the copy ends. */
export function copyBytes(source: Buffer, from: number, to: number, target: Buffer, at: number): number {
  if (to - from >= SHORT_COPY) {
    // Buffer#copy copies what fits and says how much; a short copy is a caller's bug, never a cut document.
    if (source.copy(target, at, from, to) !== to - from) throw new RangeError('copyBytes: out of bounds');
    return at + to - from;
  }
  for (let i = from; i < to; i++) target[at++] = source[i] as number;
  return at;
}

const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';

/** Writes `value`'s digits into `target` at `at` (room assumed); returns where they end. */
export function writeDigits(value: number, radix: 10 | 36, target: Buffer, at: number): number {
  let n = 1;
  for (let rest = Math.floor(value / radix); rest > 0; rest = Math.floor(rest / radix)) n++;
  let v = value;
  for (let i = at + n - 1; i >= at; i--) {
    target[i] = DIGITS.charCodeAt(v % radix);
    v = Math.floor(v / radix);
  }
  return at + n;
}
