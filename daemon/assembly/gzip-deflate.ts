// AssemblyScript, compiled to WebAssembly by scripts/build.mjs (dist/gzip-deflate.wasm): the
// DEFLATE encoder behind the shipper's gzip bodies (RFC 1951; daemon/src/ship/gzip-body.ts adds
// the gzip header and trailer). zlib's level 1 is the cost that kept compression from being cheap:
// bulk bodies are made of long repeats (the same members, pods and paths, document after
// document), and a single hash probe per position, matches compared eight bytes at a time, and
// probing that speeds up over a run of misses find them in about two thirds of zlib's time, at
// zlib level 1's ratio (grouping alike documents, BulkShipper, does the rest). Every block gets
// its own Huffman codes; a block that would not be smaller than its bytes is sent stored.
//
// Streaming, in segments: the caller writes up to SEGMENT bytes at `segmentAt()`, calls
// `compress(n, last)` and copies `compress`'s result from `outputAt()`. The last WINDOW bytes
// stay as history for the next segment's matches. No allocation: fixed places in the memory.

const WINDOW: usize = 32768;
const SEGMENT: usize = 512 * 1024;
const HASH_BITS: u64 = 15;
const HASH_SIZE: usize = 1 << (<usize>HASH_BITS);
const MAX_TOKENS: u32 = 65536;
// 2^64 / golden ratio (Fibonacci hashing), in two halves: one literal would not fit a JavaScript number.
const HASH_MULTIPLIER: u64 = ((<u64>0x9e3779b9) << 32) | 0x7f4a7c15;
const MIN_MATCH: usize = 8;
const MAX_MATCH: u32 = 258;
const EOB: usize = 256;

const BASE: usize = (<usize>__heap_base + 63) & ~63;
const HASH: usize = BASE; // u32 x HASH_SIZE: the last position with each hash of 8 bytes
const TOKENS: usize = HASH + (HASH_SIZE << 2); // u32 x MAX_TOKENS: literal run n, or match flag | (length-3) << 16 | distance-1
const FREQ_LL: usize = TOKENS + ((<usize>MAX_TOKENS) << 2); // u32 x 288
const FREQ_D: usize = FREQ_LL + 288 * 4; // u32 x 32
const FREQ_CL: usize = FREQ_D + 32 * 4; // u32 x 32
const CODE_LL: usize = FREQ_CL + 32 * 4; // u32 x 288: reversed code | length << 16
const CODE_D: usize = CODE_LL + 288 * 4; // u32 x 32
const CODE_CL: usize = CODE_D + 32 * 4; // u32 x 32
const LENS: usize = CODE_CL + 32 * 4; // u8 x 320: literal/length code lengths, then distance's
const CL_LENS: usize = LENS + 320; // u8 x 32
const CL_SYMS: usize = CL_LENS + 32; // u16 x 320: code-length symbol | extra << 8
const LEN_SYM: usize = CL_SYMS + 640; // u8 x 256: length-3 -> length code - 257
const DIST_SYM: usize = LEN_SYM + 256; // u8 x 512: distance-1 -> distance code
const LEN_CODE: usize = DIST_SYM + 512; // u32 x 256, per block: code and extra bits | bit count << 24
const DIST_CODE: usize = LEN_CODE + 256 * 4; // u32 x 32, per block: code | length << 16 | extra bits << 24
const SORT: usize = DIST_CODE + 32 * 4; // u64 x 288: frequency << 16 | symbol
const WORK: usize = SORT + 288 * 8; // u32 x 288
const COUNT: usize = WORK + 288 * 4; // u32 x 33: codes per length
const INPUT: usize = (COUNT + 33 * 4 + 63) & ~63; // WINDOW of history, then SEGMENT
// A dynamic block is at most two bytes per input byte before it is found too big and redone stored.
const OUTPUT: usize = INPUT + WINDOW + SEGMENT + 64;
const MEMORY_END: usize = OUTPUT + 2 * SEGMENT + 4096;

const LEN_BASE: StaticArray<u16> = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195,
  227, 258,
];
const LEN_EXTRA: StaticArray<u8> = [
  0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: StaticArray<u16> = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
  6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: StaticArray<u8> = [
  0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
];
const CL_ORDER: StaticArray<u8> = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** History bytes at INPUT (the end of what came before). */
let held: usize = 0;
let outPtr: usize = 0;
let bitBuf: u64 = 0;
let bitCount: u32 = 0;

function u32At(base: usize, i: u32): u32 {
  return load<u32>(base + ((<usize>i) << 2));
}

function setU32(base: usize, i: u32, v: u32): void {
  store<u32>(base + ((<usize>i) << 2), v);
}

function bump(base: usize, i: u32): void {
  const a = base + ((<usize>i) << 2);
  store<u32>(a, load<u32>(a) + 1);
}

function putBits(value: u64, n: u32): void {
  bitBuf |= value << bitCount;
  bitCount += n;
  if (bitCount >= 32) {
    store<u32>(outPtr, <u32>bitBuf);
    outPtr += 4;
    bitBuf >>= 32;
    bitCount -= 32;
  }
}

function distSym(d1: u32): u32 {
  return d1 < 256 ? <u32>load<u8>(DIST_SYM + d1) : <u32>load<u8>(DIST_SYM + 256 + (d1 >> 7));
}

export function segmentAt(): usize {
  return INPUT + held;
}

export function segmentBytes(): usize {
  return SEGMENT;
}

export function outputAt(): usize {
  return OUTPUT;
}

/** How much memory the layout needs (the build gives it a fixed memory at least this big). */
export function memoryNeeded(): usize {
  return MEMORY_END;
}

/** Starts a stream. */
export function begin(): void {
  held = 0;
  bitBuf = 0;
  bitCount = 0;
  memory.fill(HASH, 0, HASH_SIZE << 2);
  if (load<u8>(LEN_SYM + 255) === 0) fillSymbolTables();
}

function fillSymbolTables(): void {
  for (let s: u32 = 0; s < 29; s++) {
    const base = <u32>unchecked(LEN_BASE[s]);
    const n: u32 = s === 28 ? 1 : 1 << unchecked(LEN_EXTRA[s]);
    for (let k: u32 = 0; k < n; k++) if (base - 3 + k < 256) store<u8>(LEN_SYM + base - 3 + k, <u8>s);
  }
  for (let s: u32 = 0; s < 30; s++) {
    const base = <u32>unchecked(DIST_BASE[s]);
    const n: u32 = 1 << unchecked(DIST_EXTRA[s]);
    for (let k: u32 = 0; k < n; k++) {
      const d = base - 1 + k;
      store<u8>(d < 256 ? DIST_SYM + d : DIST_SYM + 256 + (d >> 7), <u8>s);
    }
  }
}

/**
 * Compresses the n bytes written at segmentAt(); the output (whole bytes; a non-last segment's
 * last few bits wait for the next) is at outputAt(), its length returned.
 */
export function compress(n: usize, last: bool): u32 {
  outPtr = OUTPUT;
  const from = INPUT + held;
  const end = from + n;
  if (n === 0) {
    // An empty last block (fixed codes: just the end-of-block code).
    if (last) putBits(3, 10);
  } else {
    let blockFrom = from;
    while (blockFrom < end) blockFrom = block(blockFrom, end, last);
  }
  if (last && bitCount > 0) {
    store<u64>(outPtr, bitBuf);
    outPtr += (bitCount + 7) >> 3;
    bitBuf = 0;
    bitCount = 0;
  }
  slide(end);
  return <u32>(outPtr - OUTPUT);
}

/** Keeps the last WINDOW bytes up to `end` at INPUT, and the hash's positions with them. */
function slide(end: usize): void {
  const total = end - INPUT;
  const keep = total < WINDOW ? total : WINDOW;
  const shift = total - keep;
  if (shift === 0) {
    held = keep;
    return;
  }
  memory.copy(INPUT, end - keep, keep);
  held = keep;
  const floor = <u32>(INPUT + shift);
  const by = <u32>shift;
  for (let h: u32 = 0; h < <u32>HASH_SIZE; h++) {
    const e = u32At(HASH, h);
    setU32(HASH, h, e >= floor ? e - by : 0);
  }
}

/** One block from `from` (ending at `end`, or earlier when the tokens run out); returns where it ended. */
function block(from: usize, end: usize, lastSegment: bool): usize {
  memory.fill(FREQ_LL, 0, (288 + 32) * 4);
  let nTokens: u32 = 0;
  let p = from;
  let anchor = p;
  const limit: usize = end - from > MIN_MATCH ? end - MIN_MATCH : from;
  let misses: u32 = 0;
  while (p < limit && nTokens < MAX_TOKENS - 8) {
    const v = load<u64>(p);
    const h = <u32>((v * HASH_MULTIPLIER) >> (64 - HASH_BITS));
    let c = <usize>u32At(HASH, h);
    setU32(HASH, h, <u32>p);
    if (c < INPUT || p - c > WINDOW || load<u64>(c) !== v) {
      // Further apart the longer nothing matches (runs of bytes that repeat nothing).
      misses++;
      p += 1 + <usize>(misses >> 4);
      continue;
    }
    misses = 0;
    // Back over the pending literals (up to 8 bytes), then forwards 8 bytes at a time.
    if (p > anchor && c >= INPUT + 8) {
      let back = <usize>(clz(load<u64>(p - 8) ^ load<u64>(c - 8)) >> 3);
      if (back > p - anchor) back = p - anchor;
      p -= back;
      c -= back;
    }
    let len: usize = MIN_MATCH;
    while (p + len + 8 <= end) {
      const x = load<u64>(p + len) ^ load<u64>(c + len);
      if (x !== 0) {
        len += <usize>(ctz(x) >> 3);
        break;
      }
      len += 8;
    }
    if (p + len + 8 > end) while (p + len < end && load<u8>(p + len) === load<u8>(c + len)) len++;
    if (p > anchor) nTokens = literals(nTokens, anchor, p);
    const dist = <u32>(p - c);
    let remaining = <u32>len;
    while (remaining > MAX_MATCH) {
      const piece: u32 = remaining - MAX_MATCH >= 3 ? MAX_MATCH : remaining - 3;
      nTokens = match(nTokens, piece, dist);
      remaining -= piece;
    }
    nTokens = match(nTokens, remaining, dist);
    p += len;
    anchor = p;
    if (p + 6 <= end) {
      const w = load<u64>(p - 2);
      setU32(HASH, <u32>((w * HASH_MULTIPLIER) >> (64 - HASH_BITS)), <u32>(p - 2));
    }
  }
  // Where the tokens ran out, the block ends; otherwise its last bytes are literals.
  let stop: usize = p < limit ? p : end;
  if (stop < anchor) stop = anchor;
  if (stop > anchor) nTokens = literals(nTokens, anchor, stop);
  const last = lastSegment && stop >= end;
  const savedOut = outPtr;
  const savedBuf = bitBuf;
  const savedCount = bitCount;
  writeDynamic(from, nTokens, last);
  if (outPtr - savedOut > stop - from + 16) {
    outPtr = savedOut;
    bitBuf = savedBuf;
    bitCount = savedCount;
    writeStored(from, stop, last);
  }
  return stop;
}

function literals(nTokens: u32, from: usize, to: usize): u32 {
  for (let q = from; q < to; q++) bump(FREQ_LL, <u32>load<u8>(q));
  setU32(TOKENS, nTokens, <u32>(to - from));
  return nTokens + 1;
}

function match(nTokens: u32, len: u32, dist: u32): u32 {
  setU32(TOKENS, nTokens, 0x80000000 | ((len - 3) << 16) | (dist - 1));
  bump(FREQ_LL, <u32>load<u8>(LEN_SYM + len - 3) + 257);
  bump(FREQ_D, distSym(dist - 1));
  return nTokens + 1;
}

/** Stored blocks (at most 65535 bytes each) for [from, to). */
function writeStored(from: usize, to: usize, last: bool): void {
  let p = from;
  do {
    const n: usize = to - p > 65535 ? 65535 : to - p;
    putBits(last && p + n >= to ? 1 : 0, 3);
    // To a byte boundary, then LEN and its complement, then the bytes.
    bitCount = (bitCount + 7) & ~7;
    while (bitCount > 0) {
      store<u8>(outPtr++, <u8>bitBuf);
      bitBuf >>= 8;
      bitCount -= 8;
    }
    store<u32>(outPtr, <u32>n | ((<u32>n ^ 0xffff) << 16));
    outPtr += 4;
    memory.copy(outPtr, p, n);
    outPtr += n;
    p += n;
  } while (p < to);
}

/** A block with its own Huffman codes for tokens [0, nTokens), which cover the bytes from `from`. */
function writeDynamic(from: usize, nTokens: u32, last: bool): void {
  setU32(FREQ_LL, <u32>EOB, 1);
  buildCode(FREQ_LL, 286, 15, LENS, CODE_LL);
  buildCode(FREQ_D, 30, 15, LENS + 286, CODE_D);
  let hlit: u32 = 286;
  while (hlit > 257 && load<u8>(LENS + hlit - 1) === 0) hlit--;
  let hdist: u32 = 30;
  while (hdist > 1 && load<u8>(LENS + 286 + hdist - 1) === 0) hdist--;
  // The code lengths are sent as one sequence: literal/length's then distance's.
  if (hlit < 286) memory.copy(LENS + hlit, LENS + 286, hdist);
  const nsyms = codeLengthSymbols(hlit + hdist);
  buildCode(FREQ_CL, 19, 7, CL_LENS, CODE_CL);
  let hclen: u32 = 19;
  while (hclen > 4 && load<u8>(CL_LENS + unchecked(CL_ORDER[hclen - 1])) === 0) hclen--;
  putBits(last ? 5 : 4, 3);
  putBits(hlit - 257, 5);
  putBits(hdist - 1, 5);
  putBits(hclen - 4, 4);
  for (let j: u32 = 0; j < hclen; j++) putBits(<u64>load<u8>(CL_LENS + unchecked(CL_ORDER[j])), 3);
  for (let j: u32 = 0; j < nsyms; j++) {
    const v = <u32>load<u16>(CL_SYMS + ((<usize>j) << 1));
    const sym = v & 0xff;
    const c = u32At(CODE_CL, sym);
    putBits(c & 0xffff, c >> 16);
    if (sym >= 16) putBits(v >> 8, sym === 16 ? 2 : sym === 17 ? 3 : 7);
  }
  // Per block, each match length's code and extra bits in one word; each distance code's too.
  for (let len3: u32 = 0; len3 < 256; len3++) {
    const ls = <u32>load<u8>(LEN_SYM + len3);
    const lc = u32At(CODE_LL, 257 + ls);
    const cl = lc >> 16;
    const bits = (lc & 0xffff) | ((len3 + 3 - <u32>unchecked(LEN_BASE[ls])) << cl);
    setU32(LEN_CODE, len3, bits | ((cl + <u32>unchecked(LEN_EXTRA[ls])) << 24));
  }
  for (let ds: u32 = 0; ds < 30; ds++)
    setU32(DIST_CODE, ds, u32At(CODE_D, ds) | ((<u32>unchecked(DIST_EXTRA[ds])) << 24));
  // The tokens, with the bit buffer in locals (putBits' globals cost ~4 % of the encoder). After
  // each flush at most 7 bits wait, so three literals (≤ 45 bits) or a match (≤ 48) fit in the
  // 64 before the next: one unconditional 8-byte store per step instead of a test per code.
  let p = from;
  let bb = bitBuf;
  let bc = <u64>bitCount;
  let o = outPtr;
  if (bc >= 8) {
    store<u64>(o, bb);
    o += <usize>(bc >> 3);
    bb >>= bc & ~7;
    bc &= 7;
  }
  for (let t: u32 = 0; t < nTokens; t++) {
    const tok = u32At(TOKENS, t);
    if ((tok & 0x80000000) === 0) {
      const stop = p + <usize>tok;
      while (p + 3 <= stop) {
        const c0 = u32At(CODE_LL, <u32>load<u8>(p));
        const c1 = u32At(CODE_LL, <u32>load<u8>(p, 1));
        const c2 = u32At(CODE_LL, <u32>load<u8>(p, 2));
        bb |= (<u64>(c0 & 0xffff)) << bc;
        bc += <u64>(c0 >> 16);
        bb |= (<u64>(c1 & 0xffff)) << bc;
        bc += <u64>(c1 >> 16);
        bb |= (<u64>(c2 & 0xffff)) << bc;
        bc += <u64>(c2 >> 16);
        store<u64>(o, bb);
        o += <usize>(bc >> 3);
        bb >>= bc & ~7;
        bc &= 7;
        p += 3;
      }
      while (p < stop) {
        const c = u32At(CODE_LL, <u32>load<u8>(p));
        bb |= (<u64>(c & 0xffff)) << bc;
        bc += <u64>(c >> 16);
        p++;
      }
    } else {
      const len3 = (tok >> 16) & 0xff;
      const d1 = tok & 0xffff;
      const lc = u32At(LEN_CODE, len3);
      bb |= (<u64>(lc & 0xffffff)) << bc;
      bc += <u64>(lc >> 24);
      const ds = distSym(d1);
      const dc = u32At(DIST_CODE, ds);
      const dl = <u64>((dc >> 16) & 0xff);
      bb |= (<u64>(dc & 0xffff) | ((<u64>(d1 + 1 - <u32>unchecked(DIST_BASE[ds]))) << dl)) << bc;
      bc += dl + <u64>(dc >> 24);
      p += <usize>(len3 + 3);
    }
    store<u64>(o, bb);
    o += <usize>(bc >> 3);
    bb >>= bc & ~7;
    bc &= 7;
  }
  bitBuf = bb;
  bitCount = <u32>bc;
  outPtr = o;
  const eob = u32At(CODE_LL, <u32>EOB);
  putBits(eob & 0xffff, eob >> 16);
}

/** Run-length codes the `total` code lengths at LENS into CL_SYMS (and FREQ_CL); returns how many. */
function codeLengthSymbols(total: u32): u32 {
  memory.fill(FREQ_CL, 0, 32 * 4);
  let nsyms: u32 = 0;
  let k: u32 = 0;
  while (k < total) {
    const l = <u32>load<u8>(LENS + k);
    let run: u32 = 1;
    while (k + run < total && <u32>load<u8>(LENS + k + run) === l) run++;
    let sym: u32;
    let used: u32;
    if (l === 0 && run >= 11) {
      used = run > 138 ? 138 : run;
      sym = 18 | ((used - 11) << 8);
    } else if (l === 0 && run >= 3) {
      used = run;
      sym = 17 | ((used - 3) << 8);
    } else if (l !== 0 && run >= 4) {
      // The length itself, then "repeat the previous" 3 to 6 times.
      store<u16>(CL_SYMS + ((<usize>nsyms) << 1), <u16>l);
      bump(FREQ_CL, l);
      nsyms++;
      used = run - 1 > 6 ? 6 : run - 1;
      sym = 16 | ((used - 3) << 8);
      used++;
    } else {
      used = 1;
      sym = l;
    }
    store<u16>(CL_SYMS + ((<usize>nsyms) << 1), <u16>sym);
    bump(FREQ_CL, sym & 0xff);
    nsyms++;
    k += used;
  }
  return nsyms;
}

/**
 * Huffman code lengths (u8 at `lens`) of at most maxLen bits for the n frequencies at `freqs`,
 * and their canonical codes, bit-reversed for LSB-first output (u32 at `codes`: code | length << 16).
 */
function buildCode(freqs: usize, n: u32, maxLen: u32, lens: usize, codes: usize): void {
  let m: u32 = 0;
  memory.fill(lens, 0, n);
  for (let s: u32 = 0; s < n; s++) {
    const f = u32At(freqs, s);
    if (f !== 0) {
      store<u64>(SORT + ((<usize>m) << 3), ((<u64>f) << 16) | <u64>s);
      m++;
    }
  }
  // At least two codes: inflaters refuse an incomplete code (a single one of length 1, for lengths).
  for (let s: u32 = 0; m < 2; s++) {
    if (u32At(freqs, s) === 0) {
      store<u64>(SORT + ((<usize>m) << 3), ((<u64>1) << 16) | <u64>s);
      m++;
    }
  }
  sortByFrequency(m);
  // Moffat and Katajainen's in-place minimum-redundancy lengths, on the sorted frequencies.
  const A = WORK;
  for (let i: u32 = 0; i < m; i++) setU32(A, i, <u32>(load<u64>(SORT + ((<usize>i) << 3)) >> 16));
  setU32(A, 0, u32At(A, 0) + u32At(A, 1));
  let root: u32 = 0;
  let leaf: u32 = 2;
  for (let next: u32 = 1; next < m - 1; next++) {
    if (leaf >= m || u32At(A, root) < u32At(A, leaf)) {
      setU32(A, next, u32At(A, root));
      setU32(A, root++, next);
    } else setU32(A, next, u32At(A, leaf++));
    if (leaf >= m || (root < next && u32At(A, root) < u32At(A, leaf))) {
      setU32(A, next, u32At(A, next) + u32At(A, root));
      setU32(A, root++, next);
    } else setU32(A, next, u32At(A, next) + u32At(A, leaf++));
  }
  setU32(A, m - 2, 0);
  for (let next = <i32>m - 3; next >= 0; next--) setU32(A, <u32>next, u32At(A, u32At(A, <u32>next)) + 1);
  let avbl: i32 = 1;
  let used: i32 = 0;
  let depth: u32 = 0;
  let r = <i32>m - 2;
  let next = <i32>m - 1;
  while (avbl > 0) {
    while (r >= 0 && u32At(A, <u32>r) === depth) {
      used++;
      r--;
    }
    while (avbl > used) {
      setU32(A, <u32>next, depth);
      next--;
      avbl--;
    }
    avbl = 2 * used;
    depth++;
    used = 0;
  }
  // Codes per length, the longest folded down to maxLen and the Kraft sum brought back to exactly 1.
  memory.fill(COUNT, 0, 33 * 4);
  for (let i: u32 = 0; i < m; i++) {
    const l = u32At(A, i);
    bump(COUNT, l > maxLen ? maxLen : l);
  }
  let kraft: u32 = 0;
  for (let l: u32 = maxLen; l > 0; l--) kraft += u32At(COUNT, l) << (maxLen - l);
  while (kraft !== (<u32>1) << maxLen) {
    setU32(COUNT, maxLen, u32At(COUNT, maxLen) - 1);
    for (let l: u32 = maxLen - 1; l > 0; l--) {
      const c = u32At(COUNT, l);
      if (c !== 0) {
        setU32(COUNT, l, c - 1);
        setU32(COUNT, l + 1, u32At(COUNT, l + 1) + 2);
        break;
      }
    }
    kraft--;
  }
  // The least frequent symbols take the longest codes.
  let i: u32 = 0;
  for (let l: u32 = maxLen; l > 0; l--) {
    for (let c = u32At(COUNT, l); c > 0; c--) {
      store<u8>(lens + <usize>(load<u64>(SORT + ((<usize>i) << 3)) & 0xffff), <u8>l);
      i++;
    }
  }
  // Canonical codes (RFC 1951 3.2.2).
  const nextCode = WORK;
  let code: u32 = 0;
  setU32(COUNT, 0, 0);
  for (let l: u32 = 1; l <= maxLen; l++) {
    code = (code + u32At(COUNT, l - 1)) << 1;
    setU32(nextCode, l, code);
  }
  for (let s: u32 = 0; s < n; s++) {
    const l = <u32>load<u8>(lens + s);
    if (l === 0) {
      setU32(codes, s, 0);
      continue;
    }
    const c = u32At(nextCode, l);
    setU32(nextCode, l, c + 1);
    let reversed: u32 = 0;
    for (let b: u32 = 0, x = c; b < l; b++, x >>= 1) reversed = (reversed << 1) | (x & 1);
    setU32(codes, s, reversed | (l << 16));
  }
}

/** Shell sort of SORT[0, m) (at most 288 entries, often nearly sorted). */
function sortByFrequency(m: u32): void {
  for (let gap: u32 = m >> 1; gap > 0; gap = gap === 2 ? 1 : (gap * 5) / 11) {
    for (let i = gap; i < m; i++) {
      const v = load<u64>(SORT + ((<usize>i) << 3));
      let j = i;
      while (j >= gap && load<u64>(SORT + ((<usize>(j - gap)) << 3)) > v) {
        store<u64>(SORT + ((<usize>j) << 3), load<u64>(SORT + ((<usize>(j - gap)) << 3)));
        j -= gap;
      }
      store<u64>(SORT + ((<usize>j) << 3), v);
    }
  }
}
