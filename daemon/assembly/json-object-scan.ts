// AssemblyScript, compiled to WebAssembly by scripts/build.mjs (dist/json-object-scan.wasm).
// The same scan as daemon/src/parse/json-object-scan.ts, byte for byte the same verdicts and value
// spans (a differential test holds them to it), for the one cost of the data path that JavaScript
// cannot make cheap: looking at every byte of every line. Here a string's bytes are checked
// sixteen at a time (quote, backslash or control character anywhere in them), the rest is the same
// state machine. No allocation: the JavaScript side copies a line into `input` and reads the
// results from fixed places in the memory.
//
// The memory's layout is in scan-layout.ts; document-tail.ts writes what the shipper adds to a
// line from this scan's spans, and its functions are this module's exports too.

import {
  BACKSLASH,
  BASE,
  byteAt,
  CLOSE_AT,
  INPUT,
  INPUT_BYTES,
  isDigit,
  LOOKUP,
  MEMORY_END,
  NAME_COUNT,
  NAMES,
  QUOTE,
  SHIFT,
  STACK,
  VALUE_END,
  VALUE_ESCAPED,
  VALUE_START,
} from './scan-layout';

export { remember, setAction, setRoles, stageAt, stageBytes, tail, tailAt, tailBytes } from './document-tail';

const SCAN_INVALID: i32 = 0;
const SCAN_OBJECT: i32 = 1;
const SCAN_UNSURE: i32 = 2;
const MAX_DEPTH: i32 = 256;

const LOOKUP_SIZE: i32 = 1024;
const NONE: i32 = -1;
const SEVERAL: i32 = -2;

const OPEN_BRACE: i32 = 0x7b;
const CLOSE_BRACE: i32 = 0x7d;
const OPEN_BRACKET: i32 = 0x5b;
const CLOSE_BRACKET: i32 = 0x5d;

let nameCount: i32 = 0;
/** Whether the string scanned last had an escape in it. */
let escaped = false;
/** Set by memberName: the chosen member it named, or -1. */
let found: i32 = -1;

export function layoutBase(): i32 {
  return BASE;
}

/** Where a line goes, and how long it may be. */
export function inputAt(): i32 {
  return INPUT;
}

export function inputBytes(): i32 {
  return INPUT_BYTES;
}

/** How much memory the layout needs (the build gives it a fixed memory at least this big). */
export function memoryNeeded(): i32 {
  return MEMORY_END;
}

/** The caller wrote `count` (at, length) pairs and their bytes. */
export function setNames(count: i32): void {
  nameCount = count;
  store<i32>(<usize>NAME_COUNT, count);
  memory.fill(<usize>LOOKUP, <u8>NONE, <usize>LOOKUP_SIZE);
  for (let k = 0; k < count; k++) {
    const at = load<i32>(<usize>(NAMES + k * 8));
    const slot = LOOKUP + nameHash(at, load<i32>(<usize>(NAMES + k * 8 + 4)));
    store<i8>(<usize>slot, <i8>(load<i8>(<usize>slot) === NONE ? k : SEVERAL));
  }
}

/** Most of a line's ~35 top-level names are not chosen: a hash of length and end bytes rules them out. */
function nameHash(at: i32, length: i32): i32 {
  if (length === 0) return 0;
  return (length * 97 + byteAt(at) * 31 + byteAt(at + length - 1)) & (LOOKUP_SIZE - 1);
}

/** The chosen member named by the bytes [at, at + length), or -1. */
function chosenMember(at: i32, length: i32): i32 {
  const slot = <i32>load<i8>(<usize>(LOOKUP + nameHash(at, length)));
  if (slot === NONE) return -1;
  const first = slot === SEVERAL ? 0 : slot;
  const last = slot === SEVERAL ? nameCount - 1 : slot;
  for (let k = first; k <= last; k++) {
    if (load<i32>(<usize>(NAMES + k * 8 + 4)) !== length) continue;
    if (memory.compare(<usize>load<i32>(<usize>(NAMES + k * 8)), <usize>at, <usize>length) === 0) return k;
  }
  return -1;
}

function isSpace(c: i32): bool {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isHex(c: i32): bool {
  return isDigit(c) || <u32>((c | 0x20) - 0x61) <= 5;
}

function skipSpace(i: i32, to: i32): i32 {
  while (i < to && isSpace(byteAt(i))) i++;
  return i;
}

/** The rest of a string after its opening quote: the position after the closing quote, or -1. */
function scanString(i: i32, to: i32): i32 {
  let sawEscape = false;
  const quotes = i8x16.splat(<i8>QUOTE);
  const backslashes = i8x16.splat(<i8>BACKSLASH);
  const controls = i8x16.splat(0x20);
  for (;;) {
    while (i + 16 <= to) {
      const v = v128.load(<usize>i);
      const special = v128.or(
        v128.or(i8x16.eq(v, quotes), i8x16.eq(v, backslashes)),
        i8x16.lt_u(v, controls),
      );
      const bits = i8x16.bitmask(special);
      if (bits !== 0) {
        i += ctz(bits);
        break;
      }
      i += 16;
    }
    while (i < to) {
      const c = byteAt(i);
      if (c === QUOTE || c === BACKSLASH || c < 0x20) break;
      i++;
    }
    if (i >= to) return -1;
    const c = byteAt(i);
    if (c === QUOTE) {
      escaped = sawEscape;
      return i + 1;
    }
    if (c < 0x20) return -1;
    sawEscape = true;
    if (i + 1 >= to) return -1;
    const e = byteAt(i + 1);
    if (e === 0x75 /* u */) {
      if (i + 5 >= to) return -1;
      if (!isHex(byteAt(i + 2)) || !isHex(byteAt(i + 3)) || !isHex(byteAt(i + 4)) || !isHex(byteAt(i + 5)))
        return -1;
      i += 6;
    } else if (
      e === QUOTE ||
      e === BACKSLASH ||
      e === 0x2f /* / */ ||
      e === 0x62 /* b */ ||
      e === 0x66 /* f */ ||
      e === 0x6e /* n */ ||
      e === 0x72 /* r */ ||
      e === 0x74 /* t */
    ) {
      i += 2;
    } else {
      return -1;
    }
  }
  // biome-ignore lint/correctness/noUnreachable: AssemblyScript wants a return after an endless loop
  return -1;
}

/** A number at `i`: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`; the position after it, or -1. */
function scanNumber(i: i32, to: i32): i32 {
  if (byteAt(i) === 0x2d) i++;
  if (i >= to) return -1;
  const c = byteAt(i);
  if (c === 0x30) i++;
  else if (c > 0x30 && c <= 0x39) {
    i++;
    while (i < to && isDigit(byteAt(i))) i++;
  } else return -1;
  if (i < to && byteAt(i) === 0x2e) {
    const digits = ++i;
    while (i < to && isDigit(byteAt(i))) i++;
    if (i === digits) return -1;
  }
  if (i < to && (byteAt(i) | 0x20) === 0x65 /* e, E */) {
    i++;
    if (i < to && (byteAt(i) === 0x2b || byteAt(i) === 0x2d)) i++;
    const digits = i;
    while (i < to && isDigit(byteAt(i))) i++;
    if (i === digits) return -1;
  }
  return i;
}

/** A member name and its colon at `i`: the position after the colon, -1 if invalid, -2 for an escaped top-level name. */
function memberName(i: i32, to: i32, depth: i32): i32 {
  if (i >= to || byteAt(i) !== QUOTE) return -1;
  const start = i + 1;
  const end = scanString(start, to);
  if (end < 0) return -1;
  found = -1;
  if (depth === 1) {
    if (escaped) return -2;
    found = chosenMember(start, end - 1 - start);
  }
  i = skipSpace(end, to);
  if (i >= to || byteAt(i) !== 0x3a /* : */) return -1;
  return i + 1;
}

/** Scans [from, to): whitespace, one object, whitespace. For a duplicated member the last one counts. */
export function scan(from: i32, to: i32, shift: i32): i32 {
  for (let k = 0; k < nameCount; k++) store<i32>(<usize>(VALUE_START + k * 4), -1);
  store<i32>(<usize>CLOSE_AT, -1);
  store<i32>(<usize>SHIFT, shift);
  let i = skipSpace(from, to);
  if (i >= to || byteAt(i) !== OPEN_BRACE) return SCAN_INVALID;
  let depth = 0;
  /** The chosen member whose value comes next (top level only), or -1. */
  let member: i32 = -1;
  for (;;) {
    // A value starts here.
    i = skipSpace(i, to);
    if (i >= to) return SCAN_INVALID;
    const c = byteAt(i);
    if (member >= 0 && depth === 1) store<i32>(<usize>(VALUE_START + member * 4), i + shift);
    if (c === QUOTE) {
      i = scanString(i + 1, to);
      if (i < 0) return SCAN_INVALID;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth === MAX_DEPTH) return SCAN_UNSURE;
      store<u8>(<usize>(STACK + depth), <u8>c);
      depth++;
      i = skipSpace(i + 1, to);
      if (i >= to) return SCAN_INVALID;
      if (byteAt(i) === (c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET)) {
        depth--;
        if (depth === 0) store<i32>(<usize>CLOSE_AT, i + shift);
        i++;
      } else {
        if (c === OPEN_BRACE) {
          i = memberName(i, to, depth);
          if (i < 0) return i === -2 ? SCAN_UNSURE : SCAN_INVALID;
          if (depth === 1) member = found;
        }
        continue;
      }
    } else if (c === 0x74 /* t */) {
      if (i + 3 >= to || byteAt(i + 1) !== 0x72 || byteAt(i + 2) !== 0x75 || byteAt(i + 3) !== 0x65)
        return SCAN_INVALID;
      i += 4;
    } else if (c === 0x66 /* f */) {
      if (
        i + 4 >= to ||
        byteAt(i + 1) !== 0x61 ||
        byteAt(i + 2) !== 0x6c ||
        byteAt(i + 3) !== 0x73 ||
        byteAt(i + 4) !== 0x65
      )
        return SCAN_INVALID;
      i += 5;
    } else if (c === 0x6e /* n */) {
      if (i + 3 >= to || byteAt(i + 1) !== 0x75 || byteAt(i + 2) !== 0x6c || byteAt(i + 3) !== 0x6c)
        return SCAN_INVALID;
      i += 4;
    } else {
      i = scanNumber(i, to);
      if (i < 0) return SCAN_INVALID;
    }
    // A value ended at i; close what it completes, up to the next value.
    for (;;) {
      if (depth === 1 && member >= 0) {
        store<i32>(<usize>(VALUE_END + member * 4), i + shift);
        const start = load<i32>(<usize>(VALUE_START + member * 4)) - shift;
        store<u8>(<usize>(VALUE_ESCAPED + member), escaped && byteAt(start) === QUOTE ? 1 : 0);
        member = -1;
      }
      i = skipSpace(i, to);
      if (depth === 0) return i === to ? SCAN_OBJECT : SCAN_INVALID;
      if (i >= to) return SCAN_INVALID;
      const d = byteAt(i);
      const open = <i32>load<u8>(<usize>(STACK + depth - 1));
      if (d === 0x2c /* , */) {
        i++;
        if (open === OPEN_BRACE) {
          i = memberName(skipSpace(i, to), to, depth);
          if (i < 0) return i === -2 ? SCAN_UNSURE : SCAN_INVALID;
          if (depth === 1) member = found;
        }
        break;
      }
      if (d === (open === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET)) {
        depth--;
        if (depth === 0) store<i32>(<usize>CLOSE_AT, i + shift);
        i++;
        continue;
      }
      return SCAN_INVALID;
    }
  }
  // biome-ignore lint/correctness/noUnreachable: AssemblyScript wants a return after an endless loop
  return SCAN_INVALID;
}
