// Turns a runtime event into the document to index: a KubeArmor Alert, Log or Message (told apart
// by `Type`), or, for every other line, a relay-internal record that says why it is not one.
// KubeArmor versions since 2022 differ in which fields they send and how: nothing here may throw.
import { createHash } from 'node:crypto';
import type { RuntimeEvent } from '../decode/runtime-decoder.js';

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
  /**
   * The document's JSON is `head + tail`. For a KubeArmor record the head is the line as it came,
   * up to its closing brace, and the tail the fields the shipper adds: the line is neither
   * serialized again nor copied into a new string (the batch writes the two pieces). Otherwise the
   * head is the whole document and the tail empty.
   */
  head: string;
  tail: string;
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
  const parsed = parseKubeArmor(event);
  if (typeof parsed === 'string') return relayRecord(event, source, options, id, parsed);

  const flags: RecordFlag[] = [];
  if (event.truncated) flags.push('truncated');
  if (event.invalidUtf8) flags.push('invalid_utf8');
  const type = parsed.Type as string;
  let kind: RecordKind;
  if (ALERT_TYPES.has(type)) kind = 'alert';
  else if (LOG_TYPES.has(type)) kind = 'log';
  else if (type === 'Message') kind = 'message';
  else {
    // A Type this version does not know yet: keep it where it most likely belongs, flagged.
    flags.push('unknown_type');
    kind = 'PolicyName' in parsed || 'Action' in parsed || 'Severity' in parsed ? 'alert' : 'log';
  }

  let timestamp = isoFromUpdatedTime(parsed.UpdatedTime) ?? isoFromEpochSeconds(parsed.Timestamp);
  if (timestamp === undefined) {
    flags.push('timestamp_fallback');
    timestamp = isoFromRuntimeTime(event.time) ?? (options.now?.() ?? new Date()).toISOString();
  }

  // What the shipper adds, as JSON, appended to the line as it came.
  let tail = `,"@timestamp":${JSON.stringify(timestamp)}`;
  let addsAlertFields = false;
  if (kind === 'alert') {
    const severity = severityNumber(parsed.Severity);
    if (severity !== undefined) tail += `,"severity_num":${severity}`;
    const action = parsed.Action;
    if (typeof action === 'string') {
      const base = baseAction(action);
      if (base !== undefined) {
        tail += `,"action_base":${JSON.stringify(base.outcome)},"action_policy":${JSON.stringify(base.policy)}`;
      }
    }
    addsAlertFields = true;
  }
  const labels = labelsJson(source, parsed.Labels);
  if (labels !== '') tail += `,"labels":${labels}`;
  const tags = tagList(parsed.ATags, parsed.Tags);
  if (tags !== undefined) tail += `,"tags":${JSON.stringify(tags)}`;
  tail += `,"log":${logJson(event, source, flags.length === 0 ? NO_FLAGS : flags, undefined)}${kubernetesMember(source)}}`;

  const text = event.content;
  let head: string;
  if (
    '@timestamp' in parsed ||
    'log' in parsed ||
    'labels' in parsed ||
    'tags' in parsed ||
    'kubernetes' in parsed ||
    (addsAlertFields && ('severity_num' in parsed || 'action_base' in parsed || 'action_policy' in parsed))
  ) {
    // The line has a field the shipper sets (rare): the shipper's value wins, as one object.
    head = JSON.stringify(Object.assign(parsed, JSON.parse(`{${tail.slice(1)}`)));
    tail = '';
  } else {
    head = text.slice(0, text.lastIndexOf('}'));
  }

  return {
    kind,
    index: indexName(options.indexPrefix, kind, timestamp),
    id,
    start: event.start,
    end: event.end,
    head,
    tail,
    reason: undefined,
    flags: flags.length === 0 ? NO_FLAGS : flags,
  };
}

/** The document as JSON (for the paths that need it as one string). */
export function serializeDocument(record: ShippableRecord): string {
  return record.head + record.tail;
}

/** The KubeArmor object, or why the content is not one. */
function parseKubeArmor(event: RuntimeEvent): Record<string, unknown> | NotKubeArmorReason {
  if (event.undecodable || event.stream === 'unknown') return 'undecodable';
  if (event.stream !== 'stdout') return 'stderr';
  const text = event.content;
  let i = 0;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  if (i === text.length) return 'empty';
  if (text.charCodeAt(i) !== 0x7b /* { */) return 'not_json';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return event.truncated ? 'truncated' : 'invalid_json';
  }
  // Content starting with `{` that parses is an object.
  const obj = value as Record<string, unknown>;
  if (obj.Timestamp === undefined || typeof obj.Type !== 'string' || obj.Type === '') return 'not_kubearmor';
  return obj;
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
  const timestamp = isoFromRuntimeTime(event.time) ?? (options.now?.() ?? new Date()).toISOString();
  const log = logJson(event, source, flags, relayLogLevel(event.content));
  return {
    kind: 'relay',
    index: indexName(options.indexPrefix, 'relay', timestamp),
    id,
    start: event.start,
    end: event.end,
    head: `{"@timestamp":${JSON.stringify(timestamp)},"message":${JSON.stringify(event.content)},"relay":{"reason":"${reason}"},"log":${log}${kubernetesMember(source)}}`,
    tail: '',
    reason,
    flags,
  };
}

/** Per file: the JSON of what every document of the file shares, made once. */
interface SourceJson {
  /** `{"file":{"path":…},"offset":` */
  logHead: string;
  /** `,"node":…` */
  node: string;
  /** The `kubernetes` object it was made from, and `,"kubernetes":{…}` */
  kubernetes: Record<string, unknown> | undefined;
  kubernetesMember: string;
  /** The last `Labels` string and its JSON: a container's records nearly all carry the same. */
  labels: string;
  labelsJson: string;
}

const sourceJsons = new WeakMap<RecordSource, SourceJson>();

function sourceJson(source: RecordSource): SourceJson {
  let json = sourceJsons.get(source);
  if (json === undefined) {
    json = {
      logHead: `{"file":{"path":${JSON.stringify(source.path)}},"offset":`,
      node: `,"node":${JSON.stringify(source.nodeName)}`,
      kubernetes: undefined,
      kubernetesMember: '',
      labels: '',
      labelsJson: '',
    };
    sourceJsons.set(source, json);
  }
  return json;
}

/** `,"kubernetes":{…}` of the file's current metadata, or ''; serialized again only when it changes. */
function kubernetesMember(source: RecordSource): string {
  const json = sourceJson(source);
  if (json.kubernetes !== source.kubernetes) {
    json.kubernetes = source.kubernetes;
    json.kubernetesMember =
      source.kubernetes === undefined ? '' : `,"kubernetes":${JSON.stringify(source.kubernetes)}`;
  }
  return json.kubernetesMember;
}

/** The JSON of the `labels` object of KubeArmor's `Labels`, or '' if none. */
function labelsJson(source: RecordSource, value: unknown): string {
  if (typeof value !== 'string' || value === '') return '';
  const json = sourceJson(source);
  if (value !== json.labels) {
    const labels = parseLabels(value);
    json.labels = value;
    json.labelsJson = labels === undefined ? '' : JSON.stringify(labels);
  }
  return json.labelsJson;
}

/** The `log` object: where the record came from (file, offset, stream, node, runtime time). */
function logJson(
  event: RuntimeEvent,
  source: RecordSource,
  flags: readonly RecordFlag[],
  level: string | undefined,
): string {
  const json = sourceJson(source);
  let log = `${json.logHead}${event.start},"stream":"${event.stream}"${json.node}`;
  if (event.time !== '') log += `,"time":${JSON.stringify(event.time)}`;
  if (event.parts > 1) log += `,"parts":${event.parts}`;
  if (flags.length > 0) log += `,"flags":${JSON.stringify(flags)}`;
  if (level !== undefined) log += `,"level":${JSON.stringify(level)}`;
  return `${log}}`;
}

export function indexName(prefix: string, kind: RecordKind, isoTimestamp: string): string {
  // ISO timestamps in UTC: YYYY-MM-DD are the first ten characters.
  const day = `${isoTimestamp.slice(0, 4)}.${isoTimestamp.slice(5, 7)}.${isoTimestamp.slice(8, 10)}`;
  return `${prefix}-${KIND_SUFFIX[kind]}-${day}`;
}

const MIN_YEAR = 1990;
const MAX_YEAR = 2200;

/** KubeArmor's `UpdatedTime` (`2006-01-02T15:04:05.000000Z`), if it is one. */
function isoFromUpdatedTime(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length < 20 || value.length > 35) return undefined;
  if (value.charCodeAt(4) !== 0x2d || value.charCodeAt(10) !== 0x54 || !value.endsWith('Z')) return undefined;
  const year = Number(value.slice(0, 4));
  if (!(year >= MIN_YEAR && year <= MAX_YEAR) || Number.isNaN(Date.parse(value))) return undefined;
  return value;
}

/** KubeArmor's `Timestamp`: Unix seconds (a number; tolerate a numeric string). */
function isoFromEpochSeconds(value: unknown): string | undefined {
  const seconds = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isFinite(seconds)) return undefined;
  const date = new Date(seconds * 1000);
  const year = date.getUTCFullYear();
  return year >= MIN_YEAR && year <= MAX_YEAR ? date.toISOString() : undefined;
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
