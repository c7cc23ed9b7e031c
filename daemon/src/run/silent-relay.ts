// A KubeArmor relay prints its events on stdout only when told to (ENABLE_STDOUT_ALERTS,
// ENABLE_STDOUT_LOGS, ENABLE_STDOUT_MSGS, all off in every KubeArmor install). A relay left so
// writes its own log and nothing else: the shipper indexes those lines as relay records, nothing
// looks broken, and the dashboards stay empty. This says so — in the daemon's log, once per file,
// when a relay's log has been read for long enough with no KubeArmor event in it, and in `check`,
// from the end of each matched relay log.
import { open } from 'node:fs/promises';
import { RuntimeDecoder, type RuntimeEvent, type RuntimeEventSink } from '../decode/runtime-decoder.js';
import { pathMetadata } from '../enrich/path-metadata.js';
import { buildRecord, type RecordKind, type RecordSource } from '../parse/kubearmor-record.js';
import type { TailedFile } from '../tail/tailed-file.js';

/** The relay's container, in every KubeArmor install (its Helm charts, the operator, karmor). */
const RELAY_CONTAINER = 'kubearmor-relay-server';

/** How long a relay's log may hold only the relay's own lines before the daemon says so. */
export const SILENT_RELAY_AFTER_MS = 5 * 60_000;

export const RELAY_STDOUT_HINT =
  'the relay prints alerts, logs and messages only when ENABLE_STDOUT_ALERTS, ENABLE_STDOUT_LOGS ' +
  'and ENABLE_STDOUT_MSGS are "true" (KubeArmor installs it with all three off): see the README, ' +
  '"Make the relay print its events"';

/** A log the KubeArmor relay wrote: by its container's name, else by the file's. */
export function isRelayLog(path: string, realPath: string): boolean {
  const container = pathMetadata(path, realPath)?.container?.name;
  if (container !== undefined) return container === RELAY_CONTAINER;
  return path.slice(path.lastIndexOf('/') + 1).startsWith('kubearmor-relay');
}

export interface SilentRelay {
  path: string;
  /** The relay's own lines read from the file (none of them a KubeArmor event). */
  relayLines: number;
  /** How long the file has shown no event: followed that long, or its lines span that long. */
  minutes: number;
}

/** Finds the relay logs that have shown only the relay's own lines for long enough, each once. */
export class SilentRelayWatch {
  private readonly relayLog = new WeakMap<TailedFile, boolean>();
  private readonly reported = new Set<string>();

  constructor(
    private readonly afterMs = SILENT_RELAY_AFTER_MS,
    private readonly now: () => number = Date.now,
  ) {}

  silent(files: readonly TailedFile[]): SilentRelay[] {
    const out: SilentRelay[] = [];
    const now = this.now();
    for (const f of files) {
      if (f.kubearmorRecords > 0 || f.relayRecords === 0 || !f.atEnd || this.reported.has(f.key)) continue;
      let relay = this.relayLog.get(f);
      if (relay === undefined) {
        relay = isRelayLog(f.path, f.realPath);
        this.relayLog.set(f, relay);
      }
      if (!relay) continue;
      const quietMs = Math.max(now - f.since, timeSpanMs(f.identity.headTime, f.lastTime));
      if (quietMs < this.afterMs) continue;
      this.reported.add(f.key);
      out.push({ path: f.path, relayLines: f.relayRecords, minutes: Math.floor(quietMs / 60_000) });
    }
    return out;
  }

  /** Of the files reported, those still without a KubeArmor event (a gauge: it falls once events come). */
  stillSilent(files: readonly TailedFile[]): number {
    let n = 0;
    for (const f of files) if (f.kubearmorRecords === 0 && this.reported.has(f.key)) n++;
    return n;
  }
}

/** Milliseconds from one runtime time to another; 0 when either is missing or unreadable. */
function timeSpanMs(from: string | undefined, to: string): number {
  if (from === undefined || from === '' || to === '') return 0;
  const span = Date.parse(to) - Date.parse(from);
  return Number.isFinite(span) ? span : 0;
}

/** What the end of a relay's log holds, for `check`. */
export interface RelayLogSummary {
  /** Where in the file the bytes looked at begin (0: the whole file), and how many. */
  from: number;
  bytes: number;
  records: Record<RecordKind, number>;
  /** The runtime's times of the first and last record looked at ('' if none had one). */
  firstTime: string;
  lastTime: string;
}

/** Decodes and classifies the records in the last `maxBytes` of a file (from its first whole line there). */
export async function summarizeRelayLog(path: string, maxBytes = 1 << 20): Promise<RelayLogSummary> {
  const handle = await open(path, 'r');
  let buf: Buffer;
  let from: number;
  try {
    const size = (await handle.stat()).size;
    from = Math.max(0, size - maxBytes);
    buf = Buffer.allocUnsafe(size - from);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await handle.read(buf, got, buf.length - got, from + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    buf = buf.subarray(0, got);
  } finally {
    await handle.close();
  }
  const summary: RelayLogSummary = {
    from,
    bytes: buf.length,
    records: { alert: 0, log: 0, message: 0, relay: 0 },
    firstTime: '',
    lastTime: '',
  };
  const source: RecordSource = { path, nodeName: '', idPrefix: '' };
  const sink: RuntimeEventSink = {
    onEvent(event: RuntimeEvent) {
      summary.records[buildRecord(event, source, { indexPrefix: 'check' }).kind]++;
      if (event.time === '') return;
      if (summary.firstTime === '') summary.firstTime = event.time;
      summary.lastTime = event.time;
    },
  };
  const decoder = new RuntimeDecoder(sink, { maxEventBytes: maxBytes });
  // Read from the middle of a file, the first line is a piece of one (and with no newline, all is).
  const firstNewline = buf.indexOf(0x0a);
  let at = from === 0 ? 0 : firstNewline < 0 ? buf.length : firstNewline + 1;
  for (let nl = buf.indexOf(0x0a, at); nl >= 0; nl = buf.indexOf(0x0a, at)) {
    decoder.pushLine(buf, at, nl, from + at, from + nl + 1, false);
    at = nl + 1;
  }
  decoder.flush(from + at);
  return summary;
}

/** One line of `check` about a relay log: what its end holds, and the hint when it is only the relay's own log. */
export function describeRelayLog(path: string, s: RelayLogSummary): string {
  const { alert, log, message, relay } = s.records;
  if (alert + log + message + relay === 0) return `relay log: ${path}: no complete line yet`;
  const where = s.from > 0 ? `in its last ${(s.bytes / 1048576).toFixed(1)} MiB` : 'in it';
  if (alert + log + message > 0)
    return `relay log: ${path}: ${alert} alerts, ${log} logs, ${message} messages and ${relay} other lines ${where}`;
  const span = s.firstTime !== '' && s.lastTime !== '' ? ` (${s.firstTime} to ${s.lastTime})` : '';
  return `relay log: ${path}: no KubeArmor event ${where}, only ${relay} of the relay's own lines${span}: ${RELAY_STDOUT_HINT}`;
}
