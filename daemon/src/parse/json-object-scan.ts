// Checks that UTF-8 bytes are one JSON object, exactly as JSON.parse would accept it, and notes
// where the values of a few chosen top-level members are, without building any string or object.
// A KubeArmor line is ~1 KB of which the shipper needs five or six short values; JSON.parse of
// the decoded text built thirty-odd strings and objects per line only to throw them away, and was
// the largest cost of the data path. The grammar is ECMA-404's, byte for byte; what this scan does
// not settle itself (nesting deeper than its stack, an escaped top-level member name) it reports
// as `SCAN_UNSURE`, and the caller asks JSON.parse.
//
// The bytes must be valid UTF-8 (the decoder guarantees it): then JSON's structure, which is all
// ASCII, is found the same in bytes as in characters.

/** The bytes are one JSON object. */
export const SCAN_OBJECT = 1;
/** The bytes are not JSON (JSON.parse would throw). */
export const SCAN_INVALID = 0;
/** Not settled here: ask JSON.parse. */
export const SCAN_UNSURE = 2;
export type ScanOutcome = typeof SCAN_OBJECT | typeof SCAN_INVALID | typeof SCAN_UNSURE;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/** Inside a string: 0 a plain byte, 1 the closing quote, 2 an escape, 3 a control character (invalid). */
const STRING_BYTE = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STRING_BYTE[c] = 3;
STRING_BYTE[QUOTE] = 1;
STRING_BYTE[BACKSLASH] = 2;
/** The one-character escapes: `\" \\ \/ \b \f \n \r \t`. */
const SHORT_ESCAPE = new Uint8Array(256);
for (const c of '"\\/bfnrt') SHORT_ESCAPE[c.charCodeAt(0)] = 1;
const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;
/** JSON's whitespace: space, tab, line feed, carriage return (nothing else). */
const SPACE = new Uint8Array(256);
SPACE[0x20] = SPACE[0x09] = SPACE[0x0a] = SPACE[0x0d] = 1;

/** Deeper nesting than this is left to JSON.parse (KubeArmor's records nest two or three levels). */
const MAX_DEPTH = 256;

/** A scan of one line: this one, or the same in WebAssembly (json-object-scan-wasm.ts). */
export interface ObjectScanner {
  /** Per chosen member: where its value starts in the bytes, or -1 if the object has no such member. */
  readonly valueStart: Int32Array;
  /** Per chosen member: where its value ends (exclusive). */
  readonly valueEnd: Int32Array;
  /** Per chosen member: its value is a string with escapes in it (decode it with JSON.parse). */
  readonly valueEscaped: Uint8Array;
  /** Position of the object's closing brace. */
  readonly closeAt: number;
  scan(b: Uint8Array, from: number, to: number): ScanOutcome;
}

export class JsonObjectScanner implements ObjectScanner {
  /** Per chosen member: where its value starts in the bytes, or -1 if the object has no such member. */
  readonly valueStart: Int32Array;
  /** Per chosen member: where its value ends (exclusive). */
  readonly valueEnd: Int32Array;
  /** Per chosen member: its value is a string with escapes in it (decode it with JSON.parse). */
  readonly valueEscaped: Uint8Array;
  /** Position of the object's closing brace. */
  closeAt = -1;

  private readonly names: Uint8Array[];
  /** Chosen member indices by name length, for a quick first check of each member name. */
  private readonly byLength: number[][];
  private readonly stack = new Uint8Array(MAX_DEPTH);
  /** Whether the string just scanned had an escape. */
  private escaped = false;

  /** `members`: the top-level member names whose values are wanted. */
  constructor(members: readonly string[]) {
    this.names = members.map((m) => Buffer.from(m, 'utf8'));
    const longest = Math.max(0, ...this.names.map((m) => m.length));
    this.byLength = Array.from({ length: longest + 1 }, () => [] as number[]);
    this.names.forEach((m, k) => {
      this.byLength[m.length]?.push(k);
    });
    this.valueStart = new Int32Array(members.length);
    this.valueEnd = new Int32Array(members.length);
    this.valueEscaped = new Uint8Array(members.length);
  }

  /**
   * Scans `b[from, to)`: whitespace, one object, whitespace. For a duplicated member the last one
   * counts, as in JSON.parse.
   */
  scan(b: Uint8Array, from: number, to: number): ScanOutcome {
    this.valueStart.fill(-1);
    this.closeAt = -1;
    const stack = this.stack;
    let i = from;
    while (i < to && SPACE[b[i] as number] === 1) i++;
    if (i >= to || b[i] !== OPEN_BRACE) return SCAN_INVALID;
    let depth = 0;
    /** The chosen member whose value comes next (top level only), or -1. */
    let member = -1;
    for (;;) {
      // A value starts here.
      while (i < to && SPACE[b[i] as number] === 1) i++;
      if (i >= to) return SCAN_INVALID;
      const c = b[i] as number;
      if (member >= 0 && depth === 1) this.valueStart[member] = i;
      if (c === QUOTE) {
        i = this.string(b, i + 1, to);
        if (i < 0) return SCAN_INVALID;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (depth === MAX_DEPTH) return SCAN_UNSURE;
        stack[depth++] = c;
        i++;
        while (i < to && SPACE[b[i] as number] === 1) i++;
        if (i >= to) return SCAN_INVALID;
        if (b[i] === (c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET)) {
          depth--;
          if (depth === 0) this.closeAt = i;
          i++;
        } else {
          if (c === OPEN_BRACE) {
            i = this.memberName(b, i, to, depth);
            if (i < 0) return i === -2 ? SCAN_UNSURE : SCAN_INVALID;
            // The top-level object's first member; deeper names only count for validity.
            if (depth === 1) member = this.found;
          }
          continue;
        }
      } else if (c === 0x74 /* t */) {
        if (i + 3 >= to || b[i + 1] !== 0x72 || b[i + 2] !== 0x75 || b[i + 3] !== 0x65) return SCAN_INVALID;
        i += 4;
      } else if (c === 0x66 /* f */) {
        if (i + 4 >= to || b[i + 1] !== 0x61 || b[i + 2] !== 0x6c || b[i + 3] !== 0x73 || b[i + 4] !== 0x65)
          return SCAN_INVALID;
        i += 5;
      } else if (c === 0x6e /* n */) {
        if (i + 3 >= to || b[i + 1] !== 0x75 || b[i + 2] !== 0x6c || b[i + 3] !== 0x6c) return SCAN_INVALID;
        i += 4;
      } else {
        i = number(b, i, to);
        if (i < 0) return SCAN_INVALID;
      }
      // A value ended at i; close what it completes, up to the next value.
      for (;;) {
        if (depth === 1 && member >= 0) {
          this.valueEnd[member] = i;
          this.valueEscaped[member] = this.escaped && b[this.valueStart[member] as number] === QUOTE ? 1 : 0;
          member = -1;
        }
        if (depth === 0) {
          while (i < to && SPACE[b[i] as number] === 1) i++;
          return i === to ? SCAN_OBJECT : SCAN_INVALID;
        }
        while (i < to && SPACE[b[i] as number] === 1) i++;
        if (i >= to) return SCAN_INVALID;
        const d = b[i] as number;
        const open = stack[depth - 1];
        if (d === COMMA) {
          i++;
          if (open === OPEN_BRACE) {
            while (i < to && SPACE[b[i] as number] === 1) i++;
            i = this.memberName(b, i, to, depth);
            if (i < 0) return i === -2 ? SCAN_UNSURE : SCAN_INVALID;
            if (depth === 1) member = this.found;
          }
          break;
        }
        if (d === (open === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET)) {
          depth--;
          if (depth === 0) this.closeAt = i;
          i++;
          continue;
        }
        return SCAN_INVALID;
      }
    }
  }

  /** Set by memberName: the chosen member it named, or -1. */
  private found = -1;

  /**
   * A member name and its colon at `i`; returns the position after the colon, -1 if invalid, -2
   * for an escaped name at the top level (JSON.parse would decode it: leave it to JSON.parse).
   */
  private memberName(b: Uint8Array, i: number, to: number, depth: number): number {
    if (i >= to || b[i] !== QUOTE) return -1;
    const start = i + 1;
    const end = this.string(b, start, to);
    if (end < 0) return -1;
    this.found = -1;
    if (depth === 1) {
      if (this.escaped) return -2;
      const length = end - 1 - start;
      const candidates = length < this.byLength.length ? this.byLength[length] : undefined;
      if (candidates !== undefined) {
        for (const k of candidates) {
          const name = this.names[k] as Uint8Array;
          let j = 0;
          while (j < length && b[start + j] === name[j]) j++;
          if (j === length) {
            this.found = k;
            break;
          }
        }
      }
    }
    i = end;
    while (i < to && SPACE[b[i] as number] === 1) i++;
    if (i >= to || b[i] !== COLON) return -1;
    return i + 1;
  }

  /** The rest of a string after its opening quote; returns the position after the closing quote, or -1. */
  private string(b: Uint8Array, i: number, to: number): number {
    let escaped = false;
    for (;;) {
      while (i < to && STRING_BYTE[b[i] as number] === 0) i++;
      if (i >= to) return -1;
      const c = STRING_BYTE[b[i] as number];
      if (c === 3) return -1;
      if (c === 1) {
        this.escaped = escaped;
        return i + 1;
      }
      escaped = true;
      if (i + 1 >= to) return -1;
      const e = b[i + 1] as number;
      if (e === 0x75 /* u */) {
        if (i + 5 >= to || !HEX[b[i + 2] as number] || !HEX[b[i + 3] as number]) return -1;
        if (!HEX[b[i + 4] as number] || !HEX[b[i + 5] as number]) return -1;
        i += 6;
      } else if (SHORT_ESCAPE[e] === 1) {
        i += 2;
      } else {
        return -1;
      }
    }
  }
}

/** A number at `i`: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`; the position after it, or -1. */
function number(b: Uint8Array, i: number, to: number): number {
  if (b[i] === MINUS) i++;
  if (i >= to) return -1;
  const c = b[i] as number;
  if (c === ZERO) i++;
  else if (c > ZERO && c <= NINE) {
    i++;
    while (i < to && isDigit(b[i] as number)) i++;
  } else return -1;
  if (i < to && b[i] === DOT) {
    const digits = ++i;
    while (i < to && isDigit(b[i] as number)) i++;
    if (i === digits) return -1;
  }
  if (i < to && ((b[i] as number) | 0x20) === 0x65 /* e, E */) {
    i++;
    if (i < to && (b[i] === PLUS || b[i] === MINUS)) i++;
    const digits = i;
    while (i < to && isDigit(b[i] as number)) i++;
    if (i === digits) return -1;
  }
  return i;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}
