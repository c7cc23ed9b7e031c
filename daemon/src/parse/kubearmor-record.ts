// Turns a runtime event into the document to index: a KubeArmor Alert, Log or Message (told apart
// by `Type`), or, for every other line, a relay-internal record that says why it is not one.
// KubeArmor versions since 2022 differ in which fields they send and how: nothing here may throw.
// The line is not parsed into objects: a validating scan notes where the few members the shipper
// reads are (see json-object-scan.ts), and the document is the line's own bytes plus what the
// shipper adds.
import { createHash } from 'node:crypto';
import { eventText, type RuntimeEvent, type StreamName } from '../decode/runtime-decoder.js';
import { ByteWriter } from './byte-writer.js';
import { type ObjectScanner, SCAN_INVALID, SCAN_OBJECT } from './json-object-scan.js';
import {
  createObjectScanner,
  LABELS_CACHE,
  TAGS_CACHE,
  TAIL_NOT_CACHED,
  WasmJsonObjectScanner,
} from './json-object-scan-wasm.js';

export type RecordKind = 'alert' | 'log' | 'message' | 'relay';

/** Why a line is not a KubeArmor record. */
export type NotKubeArmorReason =
  | 'stderr'
  | 'undecodable'
  | 'empty'
  | 'not_json'
  | 'truncated'
  | 'invalid_json'
  | 'not_kubearmor';

/** Conditions worth flagging on a record that was still indexed. */
export type RecordFlag = 'truncated' | 'invalid_utf8' | 'unknown_type' | 'timestamp_fallback';

export interface ShippableRecord {
  kind: RecordKind;
  /** Target index, by the event's own date. */
  index: string;
  /** The file's id prefix: the document's stable id is `documentId(record)`, prefix and offset. */
  idPrefix: string;
  /** Byte range of the file the record came from (its first line's start, its last line's end). */
  start: number;
  end: number;
  /** Its place in the file's acknowledgement window, given when the file hands it over: `file.ack(record.ticket)`. */
  ticket: number;
  /**
   * The document's JSON is the UTF-8 bytes `body[bodyFrom, bodyTo)` followed by `tail[0, tailTo)`.
   * For a KubeArmor record the body is the line as it came, up to its closing brace, and usually a
   * view of the read buffer; the tail is the fields the shipper adds. The line is neither decoded
   * nor serialized again. Otherwise the body is the whole document and the tail and suffix empty.
   * Body and tail are valid only while the record is handed over (the next record reuses their
   * buffers): a consumer copies them, as the batch does.
   */
  body: Buffer;
  bodyFrom: number;
  bodyTo: number;
  tail: Buffer;
  tailTo: number;
  /**
   * After the tail: the JSON every document of the file ends with (its path, node and
   * `kubernetes.*`), encoded once per file and again only when the pod's metadata changes.
   */
  suffix: Buffer;
  /**
   * Equal for records likely to be alike byte for byte (same Type, pod and operation): a bulk body
   * puts them side by side, where compression finds the repeats (see BulkShipper).
   */
  similarity: number;
  reason: NotKubeArmorReason | undefined;
  flags: readonly RecordFlag[];
}

/** Where the events come from: one per file. */
export interface RecordSource {
  /** The path the file was found under (a /var/log/containers symlink, or the file itself). */
  path: string;
  /** Node the shipper runs on (NODE_NAME). */
  nodeName: string;
  /** Prefix of every document id from this file; see `documentIdPrefix`. */
  idPrefix: string;
  /** Metadata of the container that wrote the file (`kubernetes.*`), when known. */
  kubernetes?: Record<string, unknown> | undefined;
  /**
   * The runtime's time on the file's first line. A record with no time of its own (a line the
   * runtime's format does not frame, a raw file's) is stamped when it is read, but its index's
   * day comes from here: a replay on another day must land on the same index for its 409.
   */
  fileTime?: string | undefined;
}

export interface RecordOptions {
  /** Index name prefix: `<prefix>-alerts-YYYY.MM.DD` etc. */
  indexPrefix: string;
  /** Wall clock, for events that carry no usable time at all. */
  now?: () => Date;
}

const ALERT_TYPES = [
  'MatchedPolicy',
  'MatchedHostPolicy',
  'MatchedNetworkPolicy',
  'SystemEvent',
  'MatchedNativePolicy',
];
const LOG_TYPES = ['ContainerLog', 'HostLog', 'SystemLog'];
const KIND_SUFFIX: Record<RecordKind, string> = {
  alert: 'alerts',
  log: 'logs',
  message: 'messages',
  relay: 'relay',
};
const NO_FLAGS: readonly RecordFlag[] = Object.freeze([]);
const NO_BYTES = Buffer.alloc(0);

/**
 * The id prefix of a file: a hash of the node and the file's identity, so ids of different files
 * never meet; the byte offset makes them unique within the file.
 */
export function documentIdPrefix(nodeName: string, fileKey: string): string {
  return createHash('sha256').update(nodeName).update('\0').update(fileKey).digest('base64url').slice(0, 22);
}

/** The document's id: its file's prefix and the byte offset where the record starts, in base 36. */
export function documentId(record: ShippableRecord): string {
  return `${record.idPrefix}-${record.start.toString(36)}`;
}

/** What the shipper adds to a line: written afresh for each record (see ShippableRecord.tail). */
const tailBytes = new ByteWriter();

export function buildRecord(
  event: RuntimeEvent,
  source: RecordSource,
  options: RecordOptions,
): ShippableRecord {
  const reason = readMembers(event);
  if (reason !== undefined) return relayRecord(event, source, options, reason);
  const m = members;

  // Made only for the rare record that has one.
  let flags: RecordFlag[] | undefined;
  if (event.truncated) flags = flagged(flags, 'truncated');
  if (event.invalidUtf8) flags = flagged(flags, 'invalid_utf8');
  let kind = m.typeKind;
  if (kind === undefined) {
    // A Type this version does not know yet: keep it where it most likely belongs, flagged.
    flags = flagged(flags, 'unknown_type');
    kind = m.has(POLICY_NAME) || m.has(ACTION) || m.has(SEVERITY) ? 'alert' : 'log';
  }
  rememberFragments = false;
  if (tailInWebAssembly && flags === undefined && event.parts === 1 && m.fromScan) {
    const record = recordWithWasmTail(event, source, options, kind);
    if (record !== undefined) return record;
  }

  // What the shipper adds, as JSON bytes, appended to the line as it came.
  const w = tailBytes;
  w.reset();
  let index: string;
  const plainTime = m.plainUtcTimeAt(UPDATED_TIME);
  if (plainTime >= 0) {
    // The usual UpdatedTime: its quoted bytes are the value, its first ten the index's day.
    w.bytes(AT_TIMESTAMP_KEY, 0, AT_TIMESTAMP_KEY.length);
    w.bytes(m.bytes, plainTime, m.valueEnd(UPDATED_TIME));
    index = indexNameOfDay(options.indexPrefix, kind, m.bytes, plainTime + 1);
  } else {
    const own = isoFromUpdatedTime(m.get(UPDATED_TIME)) ?? isoFromEpochSeconds(m.get(TIMESTAMP));
    let timestamp: string;
    let indexTime: string;
    if (own !== undefined) {
      timestamp = own;
      indexTime = own;
    } else {
      flags = flagged(flags, 'timestamp_fallback');
      const runtime = isoFromRuntimeTime(event.time);
      timestamp = runtime ?? (options.now?.() ?? new Date()).toISOString();
      indexTime = runtime ?? stableIndexTime(source, timestamp);
    }
    w.bytes(AT_TIMESTAMP_KEY, 0, AT_TIMESTAMP_KEY.length);
    w.utf8(JSON.stringify(timestamp));
    index = indexName(options.indexPrefix, kind, indexTime);
  }
  let addsAlertFields = false;
  if (kind === 'alert') {
    const severity = m.plainInteger(SEVERITY) ?? severityNumber(m.get(SEVERITY));
    if (severity !== undefined) {
      w.ascii(',"severity_num":');
      if (severity >= 0 && Number.isSafeInteger(severity)) w.digits(severity, 10);
      else w.ascii(String(severity));
    }
    const known = m.knownValue(ACTION, KNOWN_ACTIONS)?.fields;
    if (known !== undefined) w.bytes(known, 0, known.length);
    else {
      const action = m.get(ACTION);
      const base = typeof action === 'string' ? baseAction(action) : undefined;
      if (base !== undefined) w.utf8(actionFields(base));
    }
    addsAlertFields = true;
  }
  m.writeFragments(w);
  w.ascii(',"log":');
  writeLogFields(w, event, flags ?? NO_FLAGS, undefined);

  const record = lineRecord(
    event,
    source,
    kind,
    index,
    w.buffer,
    w.length,
    m.hashOf(OPERATION, m.hashOf(POD_NAME, m.typeHash)) >>> 0,
    flags ?? NO_FLAGS,
  );
  if (
    m.has(AT_TIMESTAMP) ||
    m.has(LOG) ||
    m.has(LOWER_LABELS) ||
    m.has(LOWER_TAGS) ||
    m.has(KUBERNETES) ||
    (addsAlertFields && (m.has(SEVERITY_NUM) || m.has(ACTION_BASE) || m.has(ACTION_POLICY)))
  ) {
    // The line has a field the shipper sets (rare): the shipper's value wins, as one object.
    const ours = JSON.parse(
      `{${w.buffer.toString('utf8', 1, w.length)}${record.suffix.toString('utf8')}`,
    ) as Record<string, unknown>;
    record.body = Buffer.from(JSON.stringify(Object.assign(m.object(), ours)));
    record.bodyFrom = 0;
    record.bodyTo = record.body.length;
    record.tail = NO_BYTES;
    record.tailTo = 0;
    record.suffix = NO_BYTES;
  }
  return record;
}

const AT_TIMESTAMP_KEY = Buffer.from(',"@timestamp":');

/**
 * The usual record, its tail written by the WebAssembly module (document-tail.ts) from the scan's
 * spans: the same bytes as the JavaScript below writes, which does the rest (undefined here).
 */
function recordWithWasmTail(
  event: RuntimeEvent,
  source: RecordSource,
  options: RecordOptions,
  kind: RecordKind,
): ShippableRecord | undefined {
  const wasm = wasmTail as WasmJsonObjectScanner;
  // The runtime's time goes in as written: the module needs its bytes (scanned with the line).
  if (event.timeFrom < 0 && event.time !== '') return undefined;
  const length = wasm.writeTail(
    event.start,
    event.timeFrom,
    event.timeTo,
    kind === 'alert',
    members.typeHash,
  );
  if (length < 0) {
    // JavaScript writes this one; a labels or tags value the module had not seen, it hands over.
    rememberFragments = length === TAIL_NOT_CACHED;
    return undefined;
  }
  // The tail starts with UpdatedTime, which the module took only as a plain UTC time.
  const day = (wasm.valueStart[UPDATED_TIME] as number) + 1;
  const index = indexNameOfDay(options.indexPrefix, kind, members.bytes, day);
  return lineRecord(event, source, kind, index, wasm.tail, length, wasm.similarity, NO_FLAGS);
}

/** A KubeArmor record: the line as it came, up to its closing brace, then `tail[0, tailTo)` and the file's part. */
function lineRecord(
  event: RuntimeEvent,
  source: RecordSource,
  kind: RecordKind,
  index: string,
  tail: Buffer,
  tailTo: number,
  similarity: number,
  flags: readonly RecordFlag[],
): ShippableRecord {
  return {
    kind,
    index,
    idPrefix: source.idPrefix,
    start: event.start,
    ticket: -1,
    end: event.end,
    body: event.content,
    bodyFrom: event.contentFrom,
    bodyTo: members.closeAt,
    tail,
    tailTo,
    suffix: sourceSuffix(source),
    similarity,
    reason: undefined,
    flags,
  };
}

function actionFields(base: { outcome: string; policy: string }): string {
  return `,"action_base":${JSON.stringify(base.outcome)},"action_policy":${JSON.stringify(base.policy)}`;
}

/** The `Action` values KubeArmor writes, as written in a line, and the fields each one adds. */
const KNOWN_ACTIONS = ['Allow', 'Audit', 'Block', 'Audit (Allow)', 'Audit (Block)'].map((action) => ({
  raw: Buffer.from(JSON.stringify(action)),
  fields: Buffer.from(actionFields(baseAction(action) as { outcome: string; policy: string })),
}));

/** `flags` with `flag` added, made when it is the first. */
function flagged(flags: RecordFlag[] | undefined, flag: RecordFlag): RecordFlag[] {
  if (flags === undefined) return [flag];
  flags.push(flag);
  return flags;
}

/** The document as JSON (for the paths that need it as one string). */
export function serializeDocument(record: ShippableRecord): string {
  return (
    record.body.toString('utf8', record.bodyFrom, record.bodyTo) +
    record.tail.toString('utf8', 0, record.tailTo) +
    record.suffix.toString()
  );
}

/** The top-level members of a line the shipper reads, by their index in MEMBER_NAMES. */
const MEMBER_NAMES = [
  'Type',
  'Timestamp',
  'UpdatedTime',
  'Severity',
  'Action',
  'Labels',
  'ATags',
  'Tags',
  'PolicyName',
  // Fields the shipper sets: a line that has one of its own is merged as an object instead.
  '@timestamp',
  'log',
  'labels',
  'tags',
  'kubernetes',
  'severity_num',
  'action_base',
  'action_policy',
  // For grouping records alike in a bulk body (ShippableRecord.similarity).
  'PodName',
  'Operation',
] as const;
const TYPE = 0;
const TIMESTAMP = 1;
const UPDATED_TIME = 2;
const SEVERITY = 3;
const ACTION = 4;
const LABELS = 5;
const ATAGS = 6;
const TAGS = 7;
const POLICY_NAME = 8;
const AT_TIMESTAMP = 9;
const LOG = 10;
const LOWER_LABELS = 11;
const LOWER_TAGS = 12;
const KUBERNETES = 13;
const SEVERITY_NUM = 14;
const ACTION_BASE = 15;
const ACTION_POLICY = 16;
const POD_NAME = 17;
const OPERATION = 18;

const QUOTE = 0x22;

/**
 * The members of the line being built: from the scan's value spans, decoded only when asked for,
 * or, where the scan left the verdict to JSON.parse, from the object it made. One instance, reused
 * line after line (records are built one at a time, synchronously).
 */
class LineMembers {
  /** The line's bytes (the scan's value spans index them). */
  bytes: Buffer = NO_BYTES;
  private from = 0;
  private to = 0;
  private parsed: Record<string, unknown> | undefined;
  /** Position of the object's closing brace in the bytes. */
  closeAt = 0;
  /** `Type`, decoded once by readMembers (it decides whether the line is a record at all). */
  type = '';
  /** The kind of a Type KubeArmor is known to send; undefined for any other. */
  typeKind: RecordKind | undefined;
  /** FNV-1a of `type` (see ShippableRecord.similarity). */
  typeHash = 0;

  constructor(readonly scanner: ObjectScanner) {}

  /** The members come from the scan's spans (not from JSON.parse's object). */
  get fromScan(): boolean {
    return this.parsed === undefined;
  }

  useScan(bytes: Buffer, from: number, to: number): void {
    this.bytes = bytes;
    this.from = from;
    this.to = to;
    this.parsed = undefined;
    this.closeAt = this.scanner.closeAt;
  }

  useObject(bytes: Buffer, from: number, to: number, parsed: Record<string, unknown>): void {
    this.bytes = bytes;
    this.from = from;
    this.to = to;
    this.parsed = parsed;
    // It parsed and starts with `{`: the last brace closes it (only whitespace may follow).
    this.closeAt = bytes.lastIndexOf(0x7d, to - 1);
  }

  has(k: number): boolean {
    if (this.parsed !== undefined) return (MEMBER_NAMES[k] as string) in this.parsed;
    return (this.scanner.valueStart[k] as number) >= 0;
  }

  /** Where the member's value ends in the bytes (after a string's closing quote). */
  valueEnd(k: number): number {
    return this.scanner.valueEnd[k] as number;
  }

  /**
   * Where the member's value starts in the bytes when it is a string without escapes that is a
   * plain UTC time (see isPlainUtcTime): its bytes, quotes included, are then its JSON as
   * `@timestamp`. Otherwise -1, and get() and isoFromUpdatedTime judge.
   */
  plainUtcTimeAt(k: number): number {
    if (this.parsed !== undefined) return -1;
    const start = this.scanner.valueStart[k] as number;
    if (start < 0 || this.bytes[start] !== QUOTE || this.scanner.valueEscaped[k] === 1) return -1;
    return isPlainUtcTime(this.bytes, start + 1, (this.scanner.valueEnd[k] as number) - 1) ? start : -1;
  }

  /**
   * The member's value when it is one to nine decimal digits, bare or quoted (KubeArmor's
   * `"Severity":"5"`): what severityNumber would make of it. Otherwise undefined.
   */
  plainInteger(k: number): number | undefined {
    if (this.parsed !== undefined) return undefined;
    let from = this.scanner.valueStart[k] as number;
    if (from < 0) return undefined;
    let to = this.scanner.valueEnd[k] as number;
    const b = this.bytes;
    if (b[from] === QUOTE) {
      from++;
      to--;
    }
    if (to <= from || to - from > 9) return undefined;
    let n = 0;
    for (let i = from; i < to; i++) {
      const c = b[i] as number;
      if (!isDigit(c)) return undefined;
      n = n * 10 + c - 0x30;
    }
    return n;
  }

  /** The entry of `table` whose `raw` is the member's value as written, byte for byte; else undefined. */
  knownValue<T extends { raw: Buffer }>(k: number, table: readonly T[]): T | undefined {
    if (this.parsed !== undefined) return undefined;
    const start = this.scanner.valueStart[k] as number;
    if (start < 0) return undefined;
    const length = (this.scanner.valueEnd[k] as number) - start;
    for (const known of table)
      if (known.raw.length === length && sameBytes(known.raw, 0, this.bytes, start, length)) return known;
    return undefined;
  }

  /** `labels` and `tags` from `Labels`, `ATags` and `Tags`, each made once per distinct value as written. */
  writeFragments(w: ByteWriter): void {
    if (this.parsed !== undefined) {
      // Not from the scan (rare): made each time.
      w.utf8(labelsFragment(this.parsed[MEMBER_NAMES[LABELS]]));
      w.utf8(tagsFragment(this.parsed[MEMBER_NAMES[ATAGS]], this.parsed[MEMBER_NAMES[TAGS]]));
      return;
    }
    const starts = this.scanner.valueStart;
    const ends = this.scanner.valueEnd;
    const b = this.bytes;
    const labelsAt = starts[LABELS] as number;
    if (labelsAt >= 0) {
      const labelsEnd = ends[LABELS] as number;
      const known = labelsFragments.get(b, labelsAt, labelsEnd, -1, -1);
      const fragment =
        known ?? labelsFragments.set(b, labelsAt, labelsEnd, -1, -1, labelsFragment(this.get(LABELS)));
      if (rememberFragments) wasmTail?.remember(LABELS_CACHE, labelsAt, labelsEnd, -1, -1, fragment);
      w.bytes(fragment, 0, fragment.length);
    }
    const aTagsAt = starts[ATAGS] as number;
    const tagsAt = starts[TAGS] as number;
    if (aTagsAt >= 0 || tagsAt >= 0) {
      const aTagsEnd = ends[ATAGS] as number;
      const tagsEnd = ends[TAGS] as number;
      const known = tagsFragments.get(b, aTagsAt, aTagsEnd, tagsAt, tagsEnd);
      const fragment =
        known ??
        tagsFragments.set(
          b,
          aTagsAt,
          aTagsEnd,
          tagsAt,
          tagsEnd,
          tagsFragment(this.get(ATAGS), this.get(TAGS)),
        );
      if (rememberFragments) wasmTail?.remember(TAGS_CACHE, aTagsAt, aTagsEnd, tagsAt, tagsEnd, fragment);
      w.bytes(fragment, 0, fragment.length);
    }
  }

  /** The member's value as JSON.parse would give it (undefined when absent). */
  get(k: number): unknown {
    if (this.parsed !== undefined) return this.parsed[MEMBER_NAMES[k] as string];
    const start = this.scanner.valueStart[k] as number;
    if (start < 0) return undefined;
    const end = this.scanner.valueEnd[k] as number;
    const b = this.bytes;
    switch (b[start]) {
      case QUOTE:
        return this.scanner.valueEscaped[k] === 1
          ? (JSON.parse(b.toString('utf8', start, end)) as string)
          : b.toString('utf8', start + 1, end - 1);
      case 0x74: // t
        return true;
      case 0x66: // f
        return false;
      case 0x6e: // n
        return null;
      case 0x7b: // {
      case 0x5b: // [
        return JSON.parse(b.toString('utf8', start, end));
      default:
        // A JSON number is also a JavaScript number literal, with the same value.
        return Number(b.toString('latin1', start, end));
    }
  }

  /** The member's value as it is written in the line, or undefined (for caches keyed by it). */
  raw(k: number): string | undefined {
    if (this.parsed !== undefined) {
      const value = this.parsed[MEMBER_NAMES[k] as string];
      return value === undefined ? undefined : JSON.stringify(value);
    }
    const start = this.scanner.valueStart[k] as number;
    return start < 0 ? undefined : this.bytes.toString('utf8', start, this.scanner.valueEnd[k]);
  }

  /** FNV-1a of the member's value as written, going on from `h` (a value absent hashes as one byte 0xff). */
  hashOf(k: number, h: number): number {
    if (this.parsed !== undefined) return hashText(this.raw(k) ?? '\xff', h);
    const start = this.scanner.valueStart[k] as number;
    if (start < 0) return Math.imul(h ^ 0xff, FNV_PRIME);
    const end = this.scanner.valueEnd[k] as number;
    const b = this.bytes;
    for (let i = start; i < end; i++) h = Math.imul(h ^ (b[i] as number), FNV_PRIME);
    return h;
  }

  /** The whole line as an object (for the rare merge with the shipper's fields). */
  object(): Record<string, unknown> {
    this.parsed ??= JSON.parse(this.bytes.toString('utf8', this.from, this.to)) as Record<string, unknown>;
    return this.parsed;
  }
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 16777619;

function hashText(text: string, h: number): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h;
}

const members = new LineMembers(createObjectScanner(MEMBER_NAMES));

/** Which scan reads the lines: the WebAssembly one unless its module file is missing. */
export const LINE_SCAN: 'webassembly' | 'javascript' =
  members.scanner instanceof WasmJsonObjectScanner ? 'webassembly' : 'javascript';

/** The scan's module, which also writes the usual record's tail (recordWithWasmTail). */
const wasmTail = members.scanner instanceof WasmJsonObjectScanner ? members.scanner : undefined;
wasmTail?.configureTail(
  {
    updatedTime: UPDATED_TIME,
    severity: SEVERITY,
    action: ACTION,
    labels: LABELS,
    aTags: ATAGS,
    tags: TAGS,
    podName: POD_NAME,
    operation: OPERATION,
    mergeAlways: [AT_TIMESTAMP, LOG, LOWER_LABELS, LOWER_TAGS, KUBERNETES],
    mergeAlert: [SEVERITY_NUM, ACTION_BASE, ACTION_POLICY],
  },
  KNOWN_ACTIONS,
);
let tailInWebAssembly = wasmTail !== undefined;
/** Set by recordWithWasmTail: the JavaScript tail hands the fragments it makes to the module. */
let rememberFragments = false;

/** Whether the module writes the usual tails (a test turns it off to compare); returns the setting before. */
export function useWasmTail(on: boolean): boolean {
  const before = tailInWebAssembly;
  tailInWebAssembly = on && wasmTail !== undefined;
  return before;
}

/** Reads the line's members into `members`; or why the content is not a KubeArmor record. */
function readMembers(event: RuntimeEvent): NotKubeArmorReason | undefined {
  if (event.undecodable || event.stream === 'unknown') return 'undecodable';
  if (event.stream !== 'stdout') return 'stderr';
  const b = event.content;
  const to = event.contentTo;
  let i = event.contentFrom;
  while (i < to && isSpace(b[i] as number)) i++;
  if (i === to) return 'empty';
  if (b[i] !== 0x7b /* { */) return 'not_json';
  // The runtime's time is scanned in with the line when it is in its buffer, for the module's tail.
  const outcome =
    wasmTail !== undefined && event.timeFrom >= 0
      ? wasmTail.scan(b, i, to, event.timeFrom)
      : members.scanner.scan(b, i, to);
  if (outcome === SCAN_OBJECT) members.useScan(b, event.contentFrom, to);
  else if (outcome === SCAN_INVALID) return event.truncated ? 'truncated' : 'invalid_json';
  else {
    // Nesting deeper than the scan follows, or an escaped member name: JSON.parse decides.
    let parsed: unknown;
    try {
      parsed = JSON.parse(eventText(event));
    } catch {
      return event.truncated ? 'truncated' : 'invalid_json';
    }
    // Content starting with `{` that parses is an object.
    members.useObject(b, event.contentFrom, to, parsed as Record<string, unknown>);
  }
  if (!members.has(TIMESTAMP)) return 'not_kubearmor';
  const known = members.knownValue(TYPE, KNOWN_TYPES);
  if (known !== undefined) {
    members.type = known.name;
    members.typeKind = known.kind;
    members.typeHash = known.hash;
    return undefined;
  }
  const type = members.get(TYPE);
  if (typeof type !== 'string' || type === '') return 'not_kubearmor';
  members.type = type;
  // Known, but escaped or not from the scan.
  members.typeKind = KNOWN_TYPES.find((known) => known.name === type)?.kind;
  members.typeHash = hashText(type, FNV_OFFSET);
  return undefined;
}

/** KubeArmor's Types as written in a line (unescaped), with their kind and hash (see similarity). */
const KNOWN_TYPES = [
  ...ALERT_TYPES.map((name) => ({ name, kind: 'alert' as const })),
  ...LOG_TYPES.map((name) => ({ name, kind: 'log' as const })),
  { name: 'Message', kind: 'message' as const },
].map(({ name, kind }) => ({
  name,
  kind: kind as RecordKind,
  raw: Buffer.from(JSON.stringify(name)),
  hash: hashText(name, FNV_OFFSET),
}));

function relayRecord(
  event: RuntimeEvent,
  source: RecordSource,
  options: RecordOptions,
  reason: NotKubeArmorReason,
): ShippableRecord {
  const flags: RecordFlag[] = [];
  if (event.truncated) flags.push('truncated');
  if (event.invalidUtf8) flags.push('invalid_utf8');
  const runtime = isoFromRuntimeTime(event.time);
  const timestamp = runtime ?? (options.now?.() ?? new Date()).toISOString();
  const content = eventText(event);
  // The whole document, in the buffer tails are written to (this record has none).
  const w = tailBytes;
  w.reset();
  w.utf8(
    `{"@timestamp":${JSON.stringify(timestamp)},"message":${JSON.stringify(content)},"relay":{"reason":"${reason}"},"log":`,
  );
  writeLogFields(w, event, flags, relayLogLevel(content));
  const suffix = sourceSuffix(source);
  w.bytes(suffix, 0, suffix.length);
  return {
    kind: 'relay',
    index: indexName(options.indexPrefix, 'relay', runtime ?? stableIndexTime(source, timestamp)),
    idPrefix: source.idPrefix,
    start: event.start,
    ticket: -1,
    end: event.end,
    body: w.buffer,
    bodyFrom: 0,
    bodyTo: w.length,
    tail: NO_BYTES,
    tailTo: 0,
    suffix: NO_BYTES,
    similarity: 0,
    reason,
    flags,
  };
}

/** Per file: the JSON of what every document of the file shares, made once. */
interface SourceJson {
  /** The `kubernetes` object it was made from. */
  kubernetes: Record<string, unknown> | undefined;
  /** `"file":{"path":…},"node":…}` (ending the `log` object), then `,"kubernetes":{…}` and `}`. */
  suffix: Buffer;
}

const sourceJsons = new WeakMap<RecordSource, SourceJson>();

/** The file's shared JSON, made again only when its `kubernetes` metadata changed. */
function sourceSuffix(source: RecordSource): Buffer {
  let json = sourceJsons.get(source);
  if (json === undefined || json.kubernetes !== source.kubernetes) {
    const kubernetes =
      source.kubernetes === undefined ? '' : `,"kubernetes":${JSON.stringify(source.kubernetes)}`;
    const suffix = `"file":{"path":${JSON.stringify(source.path)}},"node":${JSON.stringify(source.nodeName)}}${kubernetes}}`;
    json = { kubernetes: source.kubernetes, suffix: Buffer.from(suffix) };
    sourceJsons.set(source, json);
  }
  return json.suffix;
}

/**
 * JSON fragments made from values as written, for the few values a cluster repeats in every
 * record: the relay's stream interleaves every pod's records, so one Labels string or tag list
 * comes back constantly but rarely twice in a row. A value is its bytes in the line (one span, or
 * two: `ATags` and `Tags`), found by their hash and compared byte for byte, so a look-up makes no
 * string. Bounded in entries (a cluster with more distinct values starts over) and in size
 * (longer values, which a record may carry up to the event limit, are not kept): at most ~3 MB.
 */
export class FragmentCache {
  private readonly entries = new Map<number, CachedFragment>();

  constructor(
    private readonly limit: number,
    private readonly longestKey = 1024,
  ) {}

  /** The fragment kept for the bytes of `[aFrom, aTo)` and `[bFrom, bTo)` (a span from -1 is absent). */
  get(bytes: Buffer, aFrom: number, aTo: number, bFrom: number, bTo: number): Buffer | undefined {
    const entry = this.entries.get(spansHash(bytes, aFrom, aTo, bFrom, bTo));
    if (entry === undefined) return undefined;
    const aLength = aFrom < 0 ? -1 : aTo - aFrom;
    const bLength = bFrom < 0 ? -1 : bTo - bFrom;
    if (entry.aLength !== aLength || entry.bLength !== bLength) return undefined;
    if (aLength > 0 && !sameBytes(entry.key, 0, bytes, aFrom, aLength)) return undefined;
    if (bLength > 0 && !sameBytes(entry.key, Math.max(0, aLength), bytes, bFrom, bLength)) return undefined;
    return entry.fragment;
  }

  /** Keeps `json` (as UTF-8) for those bytes, unless they or it are too long; returns its bytes. */
  set(bytes: Buffer, aFrom: number, aTo: number, bFrom: number, bTo: number, json: string): Buffer {
    const fragment = Buffer.from(json);
    const aLength = aFrom < 0 ? -1 : aTo - aFrom;
    const bLength = bFrom < 0 ? -1 : bTo - bFrom;
    const keyLength = Math.max(0, aLength) + Math.max(0, bLength);
    if (keyLength > this.longestKey || fragment.length > 2 * this.longestKey + 16) return fragment;
    if (this.entries.size >= this.limit) this.entries.clear();
    const key = Buffer.allocUnsafe(keyLength);
    if (aLength > 0) bytes.copy(key, 0, aFrom, aTo);
    if (bLength > 0) bytes.copy(key, Math.max(0, aLength), bFrom, bTo);
    this.entries.set(spansHash(bytes, aFrom, aTo, bFrom, bTo), { key, aLength, bLength, fragment });
    return fragment;
  }
}

interface CachedFragment {
  /** The bytes of the first span, then the second's. */
  key: Buffer;
  /** Each span's length, -1 for an absent one. */
  aLength: number;
  bLength: number;
  fragment: Buffer;
}

/** FNV-1a of both spans (an absent one hashes as one byte 0xff), cut to a small integer. */
export function spansHash(bytes: Buffer, aFrom: number, aTo: number, bFrom: number, bTo: number): number {
  let h = FNV_OFFSET;
  if (aFrom < 0) h = Math.imul(h ^ 0xff, FNV_PRIME);
  else for (let i = aFrom; i < aTo; i++) h = Math.imul(h ^ (bytes[i] as number), FNV_PRIME);
  if (bFrom < 0) h = Math.imul(h ^ 0xff, FNV_PRIME);
  else for (let i = bFrom; i < bTo; i++) h = Math.imul(h ^ (bytes[i] as number), FNV_PRIME);
  return h & 0x3fffffff;
}

function sameBytes(a: Uint8Array, aFrom: number, b: Uint8Array, bFrom: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[aFrom + i] !== b[bFrom + i]) return false;
  return true;
}

const labelsFragments = new FragmentCache(1024);
const tagsFragments = new FragmentCache(1024);

/** `,"labels":{…}` from KubeArmor's `Labels`, or '' if none. */
function labelsFragment(value: unknown): string {
  const labels = parseLabels(value);
  return labels === undefined ? '' : `,"labels":${JSON.stringify(labels)}`;
}

/** `,"tags":[…]` from `ATags` / `Tags`, or '' if none; alerts of one policy share it. */
function tagsFragment(aTags: unknown, tags: unknown): string {
  const list = tagList(aTags, tags);
  return list === undefined ? '' : `,"tags":${JSON.stringify(list)}`;
}

/**
 * The `log` object up to the file's shared part (see SourceJson): where in the file the record
 * came from, its stream and runtime time, and flags.
 */
function writeLogFields(
  w: ByteWriter,
  event: RuntimeEvent,
  flags: readonly RecordFlag[],
  level: string | undefined,
): void {
  w.ascii('{"offset":');
  w.digits(event.start, 10);
  w.ascii(STREAM_FIELDS[event.stream]);
  if (event.time !== '') {
    w.ascii(',"time":');
    w.jsonString(event.time);
  }
  if (event.parts > 1) {
    w.ascii(',"parts":');
    w.digits(event.parts, 10);
  }
  if (flags.length > 0) w.ascii(`,"flags":${JSON.stringify(flags)}`);
  if (level !== undefined) w.utf8(`,"level":${JSON.stringify(level)}`);
  w.ascii(',');
}

const STREAM_FIELDS: Record<StreamName, string> = {
  stdout: ',"stream":"stdout"',
  stderr: ',"stream":"stderr"',
  unknown: ',"stream":"unknown"',
};

/** Per kind, the last index name made and the day and prefix it was made for. */
const lastIndexNames = new Map<RecordKind, { prefix: string; day: string; name: string }>();

export function indexName(prefix: string, kind: RecordKind, isoTimestamp: string): string {
  // Nearly every record lands in the same index as the one before it of its kind.
  const last = lastIndexNames.get(kind);
  if (last !== undefined && last.prefix === prefix && isoTimestamp.startsWith(last.day)) return last.name;
  // ISO timestamps in UTC: YYYY-MM-DD are the first ten characters.
  const day = `${isoTimestamp.slice(0, 4)}.${isoTimestamp.slice(5, 7)}.${isoTimestamp.slice(8, 10)}`;
  const name = `${prefix}-${KIND_SUFFIX[kind]}-${day}`;
  if (isoTimestamp.length >= 10) lastIndexNames.set(kind, { prefix, day: isoTimestamp.slice(0, 10), name });
  return name;
}

/** indexName for a time whose ten ASCII bytes `YYYY-MM-DD` are at `at`, without decoding them unless the day changed. */
function indexNameOfDay(prefix: string, kind: RecordKind, bytes: Buffer, at: number): string {
  const last = lastIndexNames.get(kind);
  if (last !== undefined && last.prefix === prefix) {
    const day = last.day;
    let same = true;
    for (let i = 0; i < 10; i++)
      if (day.charCodeAt(i) !== bytes[at + i]) {
        same = false;
        break;
      }
    if (same) return last.name;
  }
  return indexName(prefix, kind, bytes.toString('latin1', at, at + 10));
}

const MIN_YEAR = 1990;
const MAX_YEAR = 2200;

/** KubeArmor's `UpdatedTime` (`2006-01-02T15:04:05.000000Z`), if it is one. */
export function isoFromUpdatedTime(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length < 20 || value.length > 35) return undefined;
  if (value.charCodeAt(4) !== 0x2d || value.charCodeAt(10) !== 0x54 || !value.endsWith('Z')) return undefined;
  const year = Number(value.slice(0, 4));
  if (!(year >= MIN_YEAR && year <= MAX_YEAR)) return undefined;
  // The usual shape is taken from the line's bytes (isPlainUtcTime); Date.parse judges the rest.
  return Number.isNaN(Date.parse(value)) ? undefined : value;
}

/**
 * Whether `b[from, to)` is `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, year 1990–2200, with every part in
 * range for any month (day ≤ 28): a time isoFromUpdatedTime would keep as it is, since Date.parse
 * always accepts it. False means only "not this shape", not "invalid".
 */
export function isPlainUtcTime(b: Uint8Array, from: number, to: number): boolean {
  const n = to - from;
  if (n < 20 || n > 35 || b[to - 1] !== 0x5a /* Z */) return false;
  if (b[from + 4] !== 0x2d || b[from + 7] !== 0x2d || b[from + 10] !== 0x54) return false;
  if (b[from + 13] !== 0x3a || b[from + 16] !== 0x3a) return false;
  const year = twoDigits(b, from) * 100 + twoDigits(b, from + 2);
  const month = twoDigits(b, from + 5);
  const day = twoDigits(b, from + 8);
  const hour = twoDigits(b, from + 11);
  const minute = twoDigits(b, from + 14);
  const second = twoDigits(b, from + 17);
  if (!(year >= MIN_YEAR && year <= MAX_YEAR && month >= 1 && month <= 12 && day >= 1 && day <= 28))
    return false;
  if (!(hour <= 23 && minute <= 59 && second <= 59)) return false;
  if (n === 20) return true; // …SSZ
  if (b[from + 19] !== 0x2e || n < 22) return false;
  for (let i = from + 20; i < to - 1; i++) if (!isDigit(b[i] as number)) return false;
  return true;
}

/** The two-digit number at `at`, or NaN. */
function twoDigits(b: Uint8Array, at: number): number {
  const hi = b[at] as number;
  const lo = b[at + 1] as number;
  return isDigit(hi) && isDigit(lo) ? (hi - 0x30) * 10 + (lo - 0x30) : Number.NaN;
}

/** KubeArmor's `Timestamp`: Unix seconds (a number; tolerate a numeric string). */
function isoFromEpochSeconds(value: unknown): string | undefined {
  const seconds = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isFinite(seconds)) return undefined;
  const date = new Date(seconds * 1000);
  const year = date.getUTCFullYear();
  return year >= MIN_YEAR && year <= MAX_YEAR ? date.toISOString() : undefined;
}

/** The time whose day names the index of a record without a time: its file's first line's. */
function stableIndexTime(source: RecordSource, readAt: string): string {
  return (source.fileTime === undefined ? undefined : isoFromRuntimeTime(source.fileTime)) ?? readAt;
}

/** The runtime's RFC 3339 time; kept verbatim (nanoseconds) when already UTC. */
function isoFromRuntimeTime(time: string): string | undefined {
  if (time === '') return undefined;
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) return undefined;
  const year = new Date(ms).getUTCFullYear();
  if (year < MIN_YEAR || year > MAX_YEAR) return undefined;
  return time.endsWith('Z') && time.charCodeAt(10) === 0x54 ? time : new Date(ms).toISOString();
}

/** `"1"`…`"10"` → 1…10; absent, empty, `"-"` (legacy) or garbage → undefined. */
export function severityNumber(value: unknown): number | undefined {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value !== ''
        ? Number(value)
        : Number.NaN;
  return Number.isInteger(n) ? n : undefined;
}

/**
 * `Allow`, `Audit`, `Block`, or the audit-mode forms `Audit (Allow)` / `Audit (Block)`. The outcome
 * is what happened (an audit-mode Block was only audited); the policy action is what the policy says.
 */
export function baseAction(action: string): { outcome: string; policy: string } | undefined {
  switch (action) {
    case 'Allow':
    case 'Audit':
    case 'Block':
      return { outcome: action, policy: action };
    case 'Audit (Allow)':
      return { outcome: 'Audit', policy: 'Allow' };
    case 'Audit (Block)':
      return { outcome: 'Audit', policy: 'Block' };
    default: {
      const open = action.indexOf('(');
      const close = action.lastIndexOf(')');
      if (action.startsWith('Audit') && open > 0 && close > open) {
        return { outcome: 'Audit', policy: action.slice(open + 1, close).trim() };
      }
      return undefined;
    }
  }
}

/**
 * `k=v,k=v` → `{k: v}`. Keys keep their dots and slashes (`app.kubernetes.io/name`): the index
 * template maps this object without sub-objects, so a dotted key can never clash with a plain one.
 */
export function parseLabels(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const labels: Record<string, string> = {};
  let count = 0;
  let from = 0;
  while (from <= value.length) {
    let comma = value.indexOf(',', from);
    if (comma < 0) comma = value.length;
    const eq = value.indexOf('=', from);
    if (eq > from && eq < comma) {
      const key = value.slice(from, eq).trim();
      if (key !== '' && key !== '__proto__') {
        labels[key] = value.slice(eq + 1, comma).trim();
        count++;
      }
    }
    from = comma + 1;
  }
  return count > 0 ? labels : undefined;
}

/** Tags as an array: `ATags` when it is a string array, else `Tags` split on commas. */
export function tagList(aTags: unknown, tags: unknown): string[] | undefined {
  if (Array.isArray(aTags)) {
    const list = aTags.filter((t): t is string => typeof t === 'string' && t !== '');
    if (list.length > 0) return list;
  }
  if (typeof tags !== 'string' || tags === '') return undefined;
  const list = tags
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  return list.length > 0 ? list : undefined;
}

/** The level of a relay log line: zap JSON (`"level":"error"`), klog (`E1009 …`) or unknown. */
function relayLogLevel(content: string): string | undefined {
  const first = content.charCodeAt(0);
  if (first === 0x7b) {
    const at = content.indexOf('"level":"');
    if (at < 0 || at > 64) return undefined;
    const end = content.indexOf('"', at + 9);
    return end > at + 9 && end - at < 30 ? content.slice(at + 9, end) : undefined;
  }
  // klog: a severity letter followed by MMDD and a space-separated time.
  if (content.length > 5 && content.charCodeAt(5) === 0x20 && isDigit(content.charCodeAt(1))) {
    switch (content[0]) {
      case 'I':
        return 'info';
      case 'W':
        return 'warning';
      case 'E':
        return 'error';
      case 'F':
        return 'fatal';
    }
  }
  return undefined;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
