// Turns a runtime event into the document to index: a KubeArmor Alert, Log or Message (told apart
// by `Type`), or, for every other line, a relay-internal record that says why it is not one.
// KubeArmor versions since 2022 differ in which fields they send and how: nothing here may throw.
// The line is not parsed into objects: a validating scan notes where the few members the shipper
// reads are (see json-object-scan.ts), and the document is the line's own bytes plus what the
// shipper adds.
import { createHash } from 'node:crypto';
import { eventText, type RuntimeEvent } from '../decode/runtime-decoder.js';
import { type ObjectScanner, SCAN_INVALID, SCAN_OBJECT } from './json-object-scan.js';
import { createObjectScanner, WasmJsonObjectScanner } from './json-object-scan-wasm.js';

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
  /** Stable document id: the same line always gets the same id. */
  id: string;
  /** Byte range of the file the record came from (its first line's start, its last line's end). */
  start: number;
  end: number;
  /** Its place in the file's acknowledgement window, given when the file hands it over: `file.ack(record.ticket)`. */
  ticket: number;
  /**
   * The document's JSON is the UTF-8 bytes `body[bodyFrom, bodyTo)` followed by `tail`. For a
   * KubeArmor record the body is the line as it came, up to its closing brace, and usually a view
   * of the read buffer (valid only while the record is handed over: copy it, as the batch does);
   * the tail is the fields the shipper adds. The line is neither decoded nor serialized again.
   * Otherwise the body is the whole document and the tail and suffix empty.
   */
  body: Buffer;
  bodyFrom: number;
  bodyTo: number;
  tail: string;
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

const ALERT_TYPES = new Set([
  'MatchedPolicy',
  'MatchedHostPolicy',
  'MatchedNetworkPolicy',
  'SystemEvent',
  'MatchedNativePolicy',
]);
const LOG_TYPES = new Set(['ContainerLog', 'HostLog', 'SystemLog']);
const KIND_SUFFIX: Record<RecordKind, string> = {
  alert: 'alerts',
  log: 'logs',
  message: 'messages',
  relay: 'relay',
};
const NO_FLAGS: readonly RecordFlag[] = Object.freeze([]);

/**
 * The id prefix of a file: a hash of the node and the file's identity, so ids of different files
 * never meet; the byte offset makes them unique within the file.
 */
export function documentIdPrefix(nodeName: string, fileKey: string): string {
  return createHash('sha256').update(nodeName).update('\0').update(fileKey).digest('base64url').slice(0, 22);
}

export function buildRecord(
  event: RuntimeEvent,
  source: RecordSource,
  options: RecordOptions,
): ShippableRecord {
  const id = `${source.idPrefix}-${event.start.toString(36)}`;
  const reason = readMembers(event);
  if (reason !== undefined) return relayRecord(event, source, options, id, reason);
  const m = members;

  const flags: RecordFlag[] = [];
  if (event.truncated) flags.push('truncated');
  if (event.invalidUtf8) flags.push('invalid_utf8');
  const type = m.type;
  let kind: RecordKind;
  if (ALERT_TYPES.has(type)) kind = 'alert';
  else if (LOG_TYPES.has(type)) kind = 'log';
  else if (type === 'Message') kind = 'message';
  else {
    // A Type this version does not know yet: keep it where it most likely belongs, flagged.
    flags.push('unknown_type');
    kind = m.has(POLICY_NAME) || m.has(ACTION) || m.has(SEVERITY) ? 'alert' : 'log';
  }

  const own = isoFromUpdatedTime(m.get(UPDATED_TIME)) ?? isoFromEpochSeconds(m.get(TIMESTAMP));
  let timestamp: string;
  let indexTime: string;
  if (own !== undefined) {
    timestamp = own;
    indexTime = own;
  } else {
    flags.push('timestamp_fallback');
    const runtime = isoFromRuntimeTime(event.time);
    timestamp = runtime ?? (options.now?.() ?? new Date()).toISOString();
    indexTime = runtime ?? stableIndexTime(source, timestamp);
  }

  // What the shipper adds, as JSON, appended to the line as it came.
  let tail = `,"@timestamp":${JSON.stringify(timestamp)}`;
  let addsAlertFields = false;
  if (kind === 'alert') {
    const severity = severityNumber(m.get(SEVERITY));
    if (severity !== undefined) tail += `,"severity_num":${severity}`;
    const action = m.get(ACTION);
    if (typeof action === 'string') {
      const base = baseAction(action);
      if (base !== undefined) {
        tail += `,"action_base":${JSON.stringify(base.outcome)},"action_policy":${JSON.stringify(base.policy)}`;
      }
    }
    addsAlertFields = true;
  }
  const labels = labelsJson(m.get(LABELS));
  if (labels !== '') tail += `,"labels":${labels}`;
  const tags = tagsJson(m);
  if (tags !== '') tail += `,"tags":${tags}`;
  tail += `,"log":${logFields(event, flags.length === 0 ? NO_FLAGS : flags, undefined)}`;

  const record: ShippableRecord = {
    kind,
    index: indexName(options.indexPrefix, kind, indexTime),
    id,
    start: event.start,
    ticket: -1,
    end: event.end,
    body: event.content,
    bodyFrom: event.contentFrom,
    bodyTo: m.closeAt,
    tail,
    suffix: sourceSuffix(source),
    similarity: m.hashOf(OPERATION, m.hashOf(POD_NAME, hashText(m.type, FNV_OFFSET))) >>> 0,
    reason: undefined,
    flags: flags.length === 0 ? NO_FLAGS : flags,
  };
  if (
    m.has(AT_TIMESTAMP) ||
    m.has(LOG) ||
    m.has(LOWER_LABELS) ||
    m.has(LOWER_TAGS) ||
    m.has(KUBERNETES) ||
    (addsAlertFields && (m.has(SEVERITY_NUM) || m.has(ACTION_BASE) || m.has(ACTION_POLICY)))
  ) {
    // The line has a field the shipper sets (rare): the shipper's value wins, as one object.
    const ours = JSON.parse(`{${tail.slice(1)}${record.suffix.toString('utf8')}`) as Record<string, unknown>;
    record.body = Buffer.from(JSON.stringify(Object.assign(m.object(), ours)));
    record.bodyFrom = 0;
    record.bodyTo = record.body.length;
    record.tail = '';
    record.suffix = NO_BYTES;
  }
  return record;
}

/** The document as JSON (for the paths that need it as one string). */
export function serializeDocument(record: ShippableRecord): string {
  return (
    record.body.toString('utf8', record.bodyFrom, record.bodyTo) + record.tail + record.suffix.toString()
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
  private bytes: Buffer = Buffer.alloc(0);
  private from = 0;
  private to = 0;
  private parsed: Record<string, unknown> | undefined;
  /** Position of the object's closing brace in the bytes. */
  closeAt = 0;
  /** `Type`, decoded once by readMembers (it decides whether the line is a record at all). */
  type = '';

  constructor(readonly scanner: ObjectScanner) {}

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
  const outcome = members.scanner.scan(b, i, to);
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
  const type = members.get(TYPE);
  if (!members.has(TIMESTAMP) || typeof type !== 'string' || type === '') return 'not_kubearmor';
  members.type = type;
  return undefined;
}

function relayRecord(
  event: RuntimeEvent,
  source: RecordSource,
  options: RecordOptions,
  id: string,
  reason: NotKubeArmorReason,
): ShippableRecord {
  const flags: RecordFlag[] = [];
  if (event.truncated) flags.push('truncated');
  if (event.invalidUtf8) flags.push('invalid_utf8');
  const runtime = isoFromRuntimeTime(event.time);
  const timestamp = runtime ?? (options.now?.() ?? new Date()).toISOString();
  const content = eventText(event);
  const log = logFields(event, flags, relayLogLevel(content));
  const body = Buffer.from(
    `{"@timestamp":${JSON.stringify(timestamp)},"message":${JSON.stringify(content)},"relay":{"reason":"${reason}"},"log":${log}${sourceSuffixJson(source)}`,
  );
  return {
    kind: 'relay',
    index: indexName(options.indexPrefix, 'relay', runtime ?? stableIndexTime(source, timestamp)),
    id,
    start: event.start,
    ticket: -1,
    end: event.end,
    body,
    bodyFrom: 0,
    bodyTo: body.length,
    tail: '',
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
  suffixJson: string;
  suffix: Buffer;
}

const sourceJsons = new WeakMap<RecordSource, SourceJson>();
const NO_BYTES = Buffer.alloc(0);

/** The file's shared JSON, made again only when its `kubernetes` metadata changed. */
function sourceJson(source: RecordSource): SourceJson {
  let json = sourceJsons.get(source);
  if (json === undefined || json.kubernetes !== source.kubernetes) {
    const kubernetes =
      source.kubernetes === undefined ? '' : `,"kubernetes":${JSON.stringify(source.kubernetes)}`;
    const suffixJson = `"file":{"path":${JSON.stringify(source.path)}},"node":${JSON.stringify(source.nodeName)}}${kubernetes}}`;
    json = { kubernetes: source.kubernetes, suffixJson, suffix: Buffer.from(suffixJson) };
    sourceJsons.set(source, json);
  }
  return json;
}

function sourceSuffix(source: RecordSource): Buffer {
  return sourceJson(source).suffix;
}

function sourceSuffixJson(source: RecordSource): string {
  return sourceJson(source).suffixJson;
}

/**
 * JSON made from a value as written, for the few values a cluster repeats in every record: the
 * relay's stream interleaves every pod's records, so one Labels string or tag list comes back
 * constantly but rarely twice in a row. Bounded in entries (a cluster with more distinct values
 * starts over) and in size (longer values, which a record may carry up to the event limit, are
 * not kept): at most ~3 MB.
 */
export class DerivedJsonCache {
  private readonly entries = new Map<string, string>();

  constructor(
    private readonly limit: number,
    private readonly longestKey = 1024,
  ) {}

  get(key: string): string | undefined {
    return this.entries.get(key);
  }

  set(key: string, json: string): string {
    if (key.length > this.longestKey || json.length > 2 * this.longestKey) return json;
    if (this.entries.size >= this.limit) this.entries.clear();
    this.entries.set(key, json);
    return json;
  }
}

const labelsJsons = new DerivedJsonCache(1024);
const tagsJsons = new DerivedJsonCache(1024);

/** The JSON of the `labels` object of KubeArmor's `Labels`, or '' if none. */
function labelsJson(value: unknown): string {
  if (typeof value !== 'string' || value === '') return '';
  const known = labelsJsons.get(value);
  if (known !== undefined) return known;
  const labels = parseLabels(value);
  return labelsJsons.set(value, labels === undefined ? '' : JSON.stringify(labels));
}

/** The JSON of the `tags` array made of `ATags` / `Tags`, or '' if none; alerts of one policy share it. */
function tagsJson(m: LineMembers): string {
  const aTags = m.raw(ATAGS);
  const tags = m.raw(TAGS);
  if (aTags === undefined && tags === undefined) return '';
  // Raw JSON texts never hold a NUL: the key is unambiguous.
  const key = `${aTags ?? ''}\0${tags ?? ''}`;
  const known = tagsJsons.get(key);
  if (known !== undefined) return known;
  const list = tagList(m.get(ATAGS), m.get(TAGS));
  return tagsJsons.set(key, list === undefined ? '' : JSON.stringify(list));
}

/**
 * The start of the `log` object, up to the file's shared part (see SourceJson): where in the file
 * the record came from, its stream and runtime time, and flags.
 */
function logFields(event: RuntimeEvent, flags: readonly RecordFlag[], level: string | undefined): string {
  let log = `{"offset":${event.start},"stream":"${event.stream}"`;
  if (event.time !== '') log += `,"time":${JSON.stringify(event.time)}`;
  if (event.parts > 1) log += `,"parts":${event.parts}`;
  if (flags.length > 0) log += `,"flags":${JSON.stringify(flags)}`;
  if (level !== undefined) log += `,"level":${JSON.stringify(level)}`;
  return `${log},`;
}

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

const MIN_YEAR = 1990;
const MAX_YEAR = 2200;

/** KubeArmor's `UpdatedTime` (`2006-01-02T15:04:05.000000Z`), if it is one. */
export function isoFromUpdatedTime(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length < 20 || value.length > 35) return undefined;
  if (value.charCodeAt(4) !== 0x2d || value.charCodeAt(10) !== 0x54 || !value.endsWith('Z')) return undefined;
  const year = Number(value.slice(0, 4));
  if (!(year >= MIN_YEAR && year <= MAX_YEAR)) return undefined;
  // The shape KubeArmor writes is checked here; Date.parse (slow, per record) only judges others.
  if (isPlainUtcTime(value)) return value;
  return Number.isNaN(Date.parse(value)) ? undefined : value;
}

/**
 * `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with every part in range for any month (day ≤ 28), which
 * Date.parse always accepts. False means only "not this shape", not "invalid".
 */
export function isPlainUtcTime(v: string): boolean {
  const n = v.length;
  if (n < 20 || v.charCodeAt(7) !== 0x2d || v.charCodeAt(13) !== 0x3a || v.charCodeAt(16) !== 0x3a)
    return false;
  const month = twoDigits(v, 5);
  const day = twoDigits(v, 8);
  const hour = twoDigits(v, 11);
  const minute = twoDigits(v, 14);
  const second = twoDigits(v, 17);
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= 28 && hour <= 23 && minute <= 59 && second <= 59))
    return false;
  if (!isDigit(v.charCodeAt(0)) || !isDigit(v.charCodeAt(1)) || !isDigit(v.charCodeAt(2))) return false;
  if (!isDigit(v.charCodeAt(3))) return false;
  if (n === 20) return true; // …SSZ
  if (v.charCodeAt(19) !== 0x2e || n < 22) return false;
  for (let i = 20; i < n - 1; i++) if (!isDigit(v.charCodeAt(i))) return false;
  return true;
}

/** The two-digit number at `at`, or NaN. */
function twoDigits(v: string, at: number): number {
  const a = v.charCodeAt(at);
  const b = v.charCodeAt(at + 1);
  return isDigit(a) && isDigit(b) ? (a - 0x30) * 10 + (b - 0x30) : Number.NaN;
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
