// AssemblyScript, part of dist/json-object-scan.wasm: writes what the shipper adds to a KubeArmor
// line (its `@timestamp`, `severity_num` and action fields, labels and tags, and the `log` object
// up to the file's shared part) from the spans the scan just noted, while the line is still in the
// memory. The same bytes as `buildRecord`'s JavaScript (kubearmor-record.ts), which a differential
// test holds it to; that JavaScript stays the reference and does every case this does not take:
// `tail` answers -1 (a value not in its usual shape, a field of the shipper's in the line) or -2 (a
// labels or tags value not in its caches yet: the caller makes the fragment and `remember`s it).
// Written per record in JavaScript these were a sixth of the data path's time, byte by byte.
import {
  ACTIONS,
  ARENA,
  ARENA_BYTES,
  BACKSLASH,
  byteAt,
  INPUT,
  isDigit,
  NAME_COUNT,
  QUOTE,
  SHIFT,
  SIMILARITY,
  SLOT_BYTES,
  SLOT_COUNT,
  SLOTS,
  STAGE,
  STAGE_BYTES,
  TAIL,
  TAIL_BYTES,
  VALUE_END,
  VALUE_ESCAPED,
  VALUE_START,
} from './scan-layout';

const IN_JAVASCRIPT: i32 = -1;
const NOT_CACHED: i32 = -2;
const LABELS_CACHE: i32 = 0;
const TAGS_CACHE: i32 = 1;
const ABSENT: i32 = -1;
/** The JavaScript caches' limits (FragmentCache): longer keys and fragments are made each time. */
const LONGEST_KEY: i32 = 1024;
const LONGEST_FRAGMENT: i32 = 2 * LONGEST_KEY + 16;
const MAX_ACTIONS: i32 = 8;
const ACTION_BYTES_END: i32 = INPUT;
const FNV_OFFSET: u32 = 0x811c9dc5;
const FNV_PRIME: u32 = 16777619;
const MIN_YEAR: i32 = 1990;
const MAX_YEAR: i32 = 2200;

// The chosen members' indices (setRoles), and which of them, present, leave the line to JavaScript.
let updatedTime: i32 = -1;
let severity: i32 = -1;
let action: i32 = -1;
let labels: i32 = -1;
let aTags: i32 = -1;
let tags: i32 = -1;
let podName: i32 = -1;
let operation: i32 = -1;
let mergeAlways: u32 = 0;
let mergeAlert: u32 = 0;
let actionCount: i32 = 0;
let actionBytes: i32 = ACTIONS + MAX_ACTIONS * 16;
let arenaUsed: i32 = 0;

// Literal pieces, as bytes in the module's data.
const AT_TIMESTAMP_KEY = memory.data<u8>([
  0x2c, 0x22, 0x40, 0x74, 0x69, 0x6d, 0x65, 0x73, 0x74, 0x61, 0x6d, 0x70, 0x22, 0x3a,
]); // ,"@timestamp":
const SEVERITY_KEY = memory.data<u8>([
  0x2c, 0x22, 0x73, 0x65, 0x76, 0x65, 0x72, 0x69, 0x74, 0x79, 0x5f, 0x6e, 0x75, 0x6d, 0x22, 0x3a,
]); // ,"severity_num":
const LOG_OFFSET_KEY = memory.data<u8>([
  0x2c, 0x22, 0x6c, 0x6f, 0x67, 0x22, 0x3a, 0x7b, 0x22, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x22, 0x3a,
]); // ,"log":{"offset":
const STREAM_STDOUT = memory.data<u8>([
  0x2c, 0x22, 0x73, 0x74, 0x72, 0x65, 0x61, 0x6d, 0x22, 0x3a, 0x22, 0x73, 0x74, 0x64, 0x6f, 0x75, 0x74, 0x22,
]); // ,"stream":"stdout"
const TIME_KEY = memory.data<u8>([0x2c, 0x22, 0x74, 0x69, 0x6d, 0x65, 0x22, 0x3a, 0x22]); // ,"time":"

/** Where `tail` writes, and the stage the caller writes into for `setAction` and `remember`. */
export function tailAt(): i32 {
  return TAIL;
}

export function tailBytes(): i32 {
  return TAIL_BYTES;
}

export function stageAt(): i32 {
  return STAGE;
}

export function stageBytes(): i32 {
  return STAGE_BYTES;
}

/** Which chosen member is which (index into the scan's names, -1 if not chosen). */
export function setRoles(
  updatedTimeK: i32,
  severityK: i32,
  actionK: i32,
  labelsK: i32,
  aTagsK: i32,
  tagsK: i32,
  podNameK: i32,
  operationK: i32,
  mergeAlwaysMask: u32,
  mergeAlertMask: u32,
): void {
  updatedTime = updatedTimeK;
  severity = severityK;
  action = actionK;
  labels = labelsK;
  aTags = aTagsK;
  tags = tagsK;
  podName = podNameK;
  operation = operationK;
  mergeAlways = mergeAlwaysMask;
  mergeAlert = mergeAlertMask;
}

/**
 * A known `Action` value: the caller wrote its raw bytes (quotes included) and then the fields it
 * adds at the stage. False if there is no room (the value is then left to JavaScript).
 */
export function setAction(rawLength: i32, fieldsLength: i32): bool {
  const n = rawLength + fieldsLength;
  if (actionCount === MAX_ACTIONS || actionBytes + n > ACTION_BYTES_END || n > STAGE_BYTES) return false;
  memory.copy(<usize>actionBytes, <usize>STAGE, <usize>n);
  const entry = ACTIONS + actionCount * 16;
  store<i32>(<usize>entry, actionBytes);
  store<i32>(<usize>entry, rawLength, 4);
  store<i32>(<usize>entry, actionBytes + rawLength, 8);
  store<i32>(<usize>entry, fieldsLength, 12);
  actionBytes += n;
  actionCount++;
  return true;
}

function startOf(k: i32): i32 {
  return k < 0 ? -1 : load<i32>(<usize>(VALUE_START + k * 4));
}

/** Where member k's value starts in the memory (it is present). */
function memStart(k: i32): i32 {
  return load<i32>(<usize>(VALUE_START + k * 4)) - load<i32>(<usize>SHIFT);
}

function memEnd(k: i32): i32 {
  return load<i32>(<usize>(VALUE_END + k * 4)) - load<i32>(<usize>SHIFT);
}

function put(o: i32, from: usize, n: i32): i32 {
  memory.copy(<usize>o, from, <usize>n);
  return o + n;
}

/** The decimal digits of `v` at `o`; where they end. */
function putDigits(o: i32, v: u64): i32 {
  let n: i32 = 1;
  for (let rest = v / 10; rest > 0; rest /= 10) n++;
  for (let i = o + n - 1; i >= o; i--) {
    store<u8>(<usize>i, <u8>(0x30 + <i32>(v % 10)));
    v /= 10;
  }
  return o + n;
}

function fnv(h: u32, from: i32, to: i32): u32 {
  for (let i = from; i < to; i++) h = (h ^ <u32>byteAt(i)) * FNV_PRIME;
  return h;
}

/** FNV-1a of member k's value as written (an absent one as one byte 0xff), going on from h. */
function hashOf(k: i32, h: u32): u32 {
  if (startOf(k) < 0) return (h ^ 0xff) * FNV_PRIME;
  return fnv(h, memStart(k), memEnd(k));
}

function twoDigits(at: i32): i32 {
  const hi = byteAt(at);
  const lo = byteAt(at + 1);
  return isDigit(hi) && isDigit(lo) ? (hi - 0x30) * 10 + (lo - 0x30) : -1;
}

/** kubearmor-record.ts's isPlainUtcTime: `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with every part in range. */
function isPlainUtcTime(from: i32, to: i32): bool {
  const n = to - from;
  if (n < 20 || n > 35 || byteAt(to - 1) !== 0x5a) return false;
  if (byteAt(from + 4) !== 0x2d || byteAt(from + 7) !== 0x2d || byteAt(from + 10) !== 0x54) return false;
  if (byteAt(from + 13) !== 0x3a || byteAt(from + 16) !== 0x3a) return false;
  const y1 = twoDigits(from);
  const y2 = twoDigits(from + 2);
  const month = twoDigits(from + 5);
  const day = twoDigits(from + 8);
  const hour = twoDigits(from + 11);
  const minute = twoDigits(from + 14);
  const second = twoDigits(from + 17);
  if (y1 < 0 || y2 < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return false;
  const year = y1 * 100 + y2;
  if (year < MIN_YEAR || year > MAX_YEAR || month < 1 || month > 12 || day < 1 || day > 28) return false;
  if (hour > 23 || minute > 59 || second > 59) return false;
  if (n === 20) return true;
  if (byteAt(from + 19) !== 0x2e || n < 22) return false;
  for (let i = from + 20; i < to - 1; i++) if (!isDigit(byteAt(i))) return false;
  return true;
}

/** The cache slot for the spans (a length of -1: absent), the key's hash at SIMILARITY's neighbour. */
function spansHash(aFrom: i32, aLength: i32, bFrom: i32, bLength: i32): u32 {
  let h = FNV_OFFSET;
  h = aLength < 0 ? (h ^ 0xff) * FNV_PRIME : fnv(h, aFrom, aFrom + aLength);
  h = bLength < 0 ? (h ^ 0xff) * FNV_PRIME : fnv(h, bFrom, bFrom + bLength);
  return h;
}

function slotAt(cache: i32, h: u32): i32 {
  return SLOTS + (cache * SLOT_COUNT + <i32>(h & <u32>(SLOT_COUNT - 1))) * SLOT_BYTES;
}

function sameBytes(a: i32, b: i32, n: i32): bool {
  return n <= 0 || memory.compare(<usize>a, <usize>b, <usize>n) === 0;
}

/** The slot holding the fragment for these spans, or -1. */
function find(cache: i32, aFrom: i32, aLength: i32, bFrom: i32, bLength: i32): i32 {
  const h = spansHash(aFrom, aLength, bFrom, bLength);
  const slot = slotAt(cache, h);
  const key = load<i32>(<usize>slot, 4);
  if (key === 0 || load<u32>(<usize>slot) !== h) return -1;
  if (load<i32>(<usize>slot, 8) !== aLength || load<i32>(<usize>slot, 12) !== bLength) return -1;
  const aBytes = aLength < 0 ? 0 : aLength;
  if (!sameBytes(key, aFrom, aBytes) || !sameBytes(key + aBytes, bFrom, bLength)) return -1;
  return slot;
}

/**
 * Keeps the fragment the caller wrote at the stage (`fragmentLength` bytes) for the spans of the
 * line scanned last (caller's coordinates; a span from -1 is absent), as the JavaScript cache
 * would (not if the key or the fragment is too long). A full arena starts over.
 */
export function remember(cache: i32, aFrom: i32, aTo: i32, bFrom: i32, bTo: i32, fragmentLength: i32): void {
  const shift = load<i32>(<usize>SHIFT);
  const aLength = aFrom < 0 ? ABSENT : aTo - aFrom;
  const bLength = bFrom < 0 ? ABSENT : bTo - bFrom;
  const aBytes = aLength < 0 ? 0 : aLength;
  const bBytes = bLength < 0 ? 0 : bLength;
  if (aBytes + bBytes > LONGEST_KEY || fragmentLength > LONGEST_FRAGMENT || fragmentLength > STAGE_BYTES)
    return;
  const need = aBytes + bBytes + fragmentLength;
  if (arenaUsed + need > ARENA_BYTES) {
    memory.fill(<usize>SLOTS, 0, <usize>(2 * SLOT_COUNT * SLOT_BYTES));
    arenaUsed = 0;
  }
  const key = ARENA + arenaUsed;
  if (aBytes > 0) memory.copy(<usize>key, <usize>(aFrom - shift), <usize>aBytes);
  if (bBytes > 0) memory.copy(<usize>(key + aBytes), <usize>(bFrom - shift), <usize>bBytes);
  memory.copy(<usize>(key + aBytes + bBytes), <usize>STAGE, <usize>fragmentLength);
  arenaUsed += need;
  const h = spansHash(aFrom - shift, aLength, bFrom - shift, bLength);
  const slot = slotAt(cache, h);
  store<u32>(<usize>slot, h);
  store<i32>(<usize>slot, key, 4);
  store<i32>(<usize>slot, aLength, 8);
  store<i32>(<usize>slot, bLength, 12);
  store<i32>(<usize>slot, key + aBytes + bBytes, 16);
  store<i32>(<usize>slot, fragmentLength, 20);
}

/** Copies the cached fragment of `slot` to o; where it ends. */
function putFragment(o: i32, slot: i32): i32 {
  return put(o, <usize>load<i32>(<usize>slot, 16), load<i32>(<usize>slot, 20));
}

/**
 * Writes at TAIL what the shipper adds to the line scanned last (a KubeArmor record of a known
 * Type, whole, unflagged, from stdout): the record's start `offset` in its file, the runtime's time
 * at [timeFrom, timeTo) of the line's buffer (caller's coordinates, scanned with the line; -1: none),
 * whether it is an alert, and its Type's hash, from which the similarity goes on (at SIMILARITY).
 * Returns the tail's length, IN_JAVASCRIPT or NOT_CACHED.
 */
export function tail(offset: f64, timeFrom: i32, timeTo: i32, alert: bool, typeHash: u32): i32 {
  let present: u32 = 0;
  const nameCount = load<i32>(<usize>NAME_COUNT);
  for (let k = 0; k < nameCount; k++) if (load<i32>(<usize>(VALUE_START + k * 4)) >= 0) present |= 1 << k;
  if ((present & mergeAlways) !== 0 || (alert && (present & mergeAlert) !== 0)) return IN_JAVASCRIPT;

  // @timestamp: the usual UpdatedTime, as written.
  if (startOf(updatedTime) < 0) return IN_JAVASCRIPT;
  const timeStart = memStart(updatedTime);
  const timeEnd = memEnd(updatedTime);
  if (byteAt(timeStart) !== QUOTE || load<u8>(<usize>(VALUE_ESCAPED + updatedTime)) === 1)
    return IN_JAVASCRIPT;
  if (!isPlainUtcTime(timeStart + 1, timeEnd - 1)) return IN_JAVASCRIPT;
  let o = put(TAIL, AT_TIMESTAMP_KEY, 14);
  o = put(o, <usize>timeStart, timeEnd - timeStart);

  if (alert) {
    if (startOf(severity) >= 0) {
      let from = memStart(severity);
      let to = memEnd(severity);
      if (byteAt(from) === QUOTE) {
        from++;
        to--;
      }
      if (to <= from || to - from > 9) return IN_JAVASCRIPT;
      let n: u64 = 0;
      for (let i = from; i < to; i++) {
        const c = byteAt(i);
        if (!isDigit(c)) return IN_JAVASCRIPT;
        n = n * 10 + <u64>(c - 0x30);
      }
      o = put(o, SEVERITY_KEY, 16);
      o = putDigits(o, n);
    }
    if (startOf(action) >= 0) {
      const from = memStart(action);
      const length = memEnd(action) - from;
      let known = -1;
      for (let a = 0; a < actionCount; a++) {
        const entry = ACTIONS + a * 16;
        if (load<i32>(<usize>entry, 4) === length && sameBytes(load<i32>(<usize>entry), from, length)) {
          known = entry;
          break;
        }
      }
      if (known < 0) return IN_JAVASCRIPT;
      o = put(o, <usize>load<i32>(<usize>known, 8), load<i32>(<usize>known, 12));
    }
  }

  if (startOf(labels) >= 0) {
    const from = memStart(labels);
    const slot = find(LABELS_CACHE, from, memEnd(labels) - from, 0, ABSENT);
    if (slot < 0) return NOT_CACHED;
    o = putFragment(o, slot);
  }
  const hasATags = startOf(aTags) >= 0;
  const hasTags = startOf(tags) >= 0;
  if (hasATags || hasTags) {
    const aFrom = hasATags ? memStart(aTags) : 0;
    const bFrom = hasTags ? memStart(tags) : 0;
    const slot = find(
      TAGS_CACHE,
      aFrom,
      hasATags ? memEnd(aTags) - aFrom : ABSENT,
      bFrom,
      hasTags ? memEnd(tags) - bFrom : ABSENT,
    );
    if (slot < 0) return NOT_CACHED;
    o = putFragment(o, slot);
  }

  // The `log` object up to the file's part: offset, stream, the runtime's time.
  o = put(o, LOG_OFFSET_KEY, 17);
  o = putDigits(o, <u64>offset);
  o = put(o, STREAM_STDOUT, 18);
  if (timeFrom >= 0 && timeTo > timeFrom) {
    const shift = load<i32>(<usize>SHIFT);
    const from = timeFrom - shift;
    const to = timeTo - shift;
    // What JSON writes as it is (else JavaScript writes it escaped).
    for (let i = from; i < to; i++) {
      const c = byteAt(i);
      if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) return IN_JAVASCRIPT;
    }
    if (o + (to - from) + 64 > TAIL + TAIL_BYTES) return IN_JAVASCRIPT;
    o = put(o, TIME_KEY, 9);
    o = put(o, <usize>from, to - from);
    store<u8>(<usize>o, <u8>QUOTE);
    o++;
  }
  store<u8>(<usize>o, 0x2c);
  o++;

  store<u32>(<usize>SIMILARITY, hashOf(operation, hashOf(podName, typeHash)));
  return o - TAIL;
}
