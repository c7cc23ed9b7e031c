// Follows the files the globs match, as kubelet and the container runtimes write, rotate, compress
// and delete them:
// - a file is known by its identity (dev, inode, head fingerprint), never by its name;
// - a file rotated away or deleted stays open and is read to its end, then let go after a grace
//   period with no growth; a newer file in the same directory waits until the older one is read
//   to its end, so a container's lines come in order;
// - on start, a checkpointed file no longer at its path is looked for among its rotated siblings
//   (`0.log.<time>`, also gzipped) and finished first, then the siblings rotated after it;
// - a file that shrank below the read position was truncated in place (copy-truncate): the rest
//   of the old content is counted as lost and the new content is read from byte 0.
// Reading is pull-based: one chunk per file per turn, only while the consumer has capacity, so
// memory does not depend on how much is waiting on disk.
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FileCheckpoint } from '../checkpoint/checkpoint-store.js';
import { type DiscoveredFile, FileDiscovery } from '../discover/file-discovery.js';
import type { Counters } from '../metrics/counters.js';
import type { RecordOptions } from '../parse/kubearmor-record.js';
import { type ByteSource, GzipFileSource, PlainFileSource, readHead } from './byte-source.js';
import {
  FINGERPRINT_MAX_BYTES,
  type FileIdentity,
  hashHead,
  identityKey,
  makeIdentity,
} from './file-identity.js';
import { type RecordConsumer, TailedFile } from './tailed-file.js';

export interface TailerOptions {
  includes: readonly string[];
  excludes: readonly string[];
  /** With no checkpoint at all, start existing files at their beginning or at their end. */
  startAt: 'beginning' | 'end';
  nodeName: string;
  record: RecordOptions;
  maxEventBytes: number;
  bufferBytes: number;
  /** How long a rotated-away or deleted file is kept open after its end with no growth. */
  rotateWaitMs: number;
  /** How long a fully read, let-go file's checkpoint is remembered. */
  releasedRetentionMs: number;
  now?: () => number;
}

export class Tailer {
  private readonly discovery: FileDiscovery;
  /** Files being read or awaiting acknowledgements, by identity key. */
  private readonly files = new Map<string, TailedFile>();
  /** Open files by `dev:ino`, to recognise them on each scan. */
  private readonly byInode = new Map<string, TailedFile>();
  /** Checkpoints loaded at start and not yet matched to a file. */
  private readonly unmatched = new Map<string, FileCheckpoint>();
  /** Checkpoints of files read to their end and let go, kept a while. */
  private readonly released = new Map<string, FileCheckpoint>();
  private readonly hadCheckpoints: boolean;
  private scans = 0;
  private orderSeq = 0;
  private readonly now: () => number;

  constructor(
    private readonly options: TailerOptions,
    private readonly consumer: RecordConsumer,
    private readonly counters: Counters,
    checkpoints: readonly FileCheckpoint[],
  ) {
    this.discovery = new FileDiscovery(options.includes, options.excludes);
    this.now = options.now ?? Date.now;
    for (const c of checkpoints) (c.released ? this.released : this.unmatched).set(c.key, c);
    this.hadCheckpoints = checkpoints.length > 0;
  }

  /** The files currently tracked, oldest first (for metrics and tests). */
  trackedFiles(): TailedFile[] {
    return [...this.files.values()].sort((a, b) => a.order - b.order);
  }

  pause(key: string): void {
    const f = this.files.get(key);
    if (f) f.paused = true;
  }

  resume(key: string): void {
    const f = this.files.get(key);
    if (f) f.paused = false;
  }

  /** Looks for new, rotated and deleted files. Resolves to the number of files newly tracked. */
  async scan(): Promise<number> {
    const before = this.orderSeq;
    const found = await this.discovery.scan();
    const seen = new Set<TailedFile>();
    const fresh: { d: DiscoveredFile; source: PlainFileSource; identity: FileIdentity }[] = [];
    for (const d of found) {
      const known = this.byInode.get(`${d.dev}:${d.ino}`);
      if (known !== undefined) {
        known.current = true;
        seen.add(known);
        continue;
      }
      const opened = await this.openAndIdentify(d.realPath, d.dev, d.ino);
      if (opened === undefined) continue; // no complete first line yet: next scan
      const entry = this.takeCheckpoint(opened.identity);
      if (entry !== undefined) {
        let start = entry.offset;
        if (d.size < entry.offset) {
          // Same head, but shorter than where we were: truncated and rewritten while we were away.
          this.counters.inc('bytes_lost', 'truncated', Math.max(0, entry.size - entry.offset));
          this.counters.inc('truncations');
          start = 0;
        }
        seen.add(
          this.track(entry.key, opened.identity, opened.source, d.realPath, d.path, start, d.size, true),
        );
      } else {
        fresh.push({ d, source: opened.source, identity: opened.identity });
      }
    }
    // Checkpointed files not found where they were: finish them (and what rotated after them) first.
    if (this.unmatched.size > 0) {
      for (const entry of [...this.unmatched.values()]) await this.recover(entry);
    }
    const startAtEnd = this.scans === 0 && !this.hadCheckpoints && this.options.startAt === 'end';
    for (const { d, source, identity } of fresh) {
      // A directory we know nothing of (a new pod, or the first start): its history, the files
      // rotated before we saw it, comes first.
      if (!startAtEnd && !this.knowsDirectory(dirname(d.realPath))) {
        for (const older of await rotatedSiblings(dirname(d.realPath), basename(d.realPath))) {
          await this.trackUnseenSibling(older);
        }
      }
      const start = startAtEnd ? await lastLineEnd(source, d.size) : 0;
      seen.add(
        this.track(this.uniqueKey(identity), identity, source, d.realPath, d.path, start, d.size, true),
      );
    }
    for (const f of this.files.values()) {
      if (f.current && !seen.has(f)) {
        f.current = false;
        this.counters.inc('rotations');
      }
    }
    this.scans++;
    return this.orderSeq - before;
  }

  /** One chunk from each readable file. Resolves to the bytes read. */
  async readTurn(): Promise<number> {
    let total = 0;
    for (const f of this.trackedFiles()) {
      if (f.closed || f.paused || f.atEnd || !this.isTurnOf(f)) continue;
      if (!this.consumer.hasCapacity()) await this.consumer.waitForCapacity();
      let n: number;
      try {
        n = await f.reader.readChunk();
      } catch {
        n = 0; // an I/O error reads as the end; maintain() decides what it means
      }
      if (n === 0) {
        f.atEnd = true;
        f.atEndSince = this.now();
      } else {
        this.counters.inc('bytes_read', '', n);
        total += n;
      }
    }
    return total;
  }

  /**
   * Looks at every file that was read to its end: growth, truncation, or time to let it go.
   * `drain` lets rotated-away files go as soon as they are read to their end (for `run --once`).
   * Resolves to true if anything changed that makes more reading possible.
   */
  async maintain(drain = false): Promise<boolean> {
    let changed = false;
    for (const f of this.trackedFiles()) {
      if (f.closed) {
        if (f.finished) this.forget(f);
        continue;
      }
      if (!f.atEnd) continue;
      if (f.source.compressed) {
        this.release(f);
        changed = true;
        continue;
      }
      let size: number;
      try {
        size = (await f.source.stat()).size;
      } catch {
        this.release(f);
        changed = true;
        continue;
      }
      if (size < f.reader.position) {
        this.truncated(f, size);
        changed = true;
      } else if (size > f.reader.position) {
        f.size = size;
        f.atEnd = false;
        changed = true;
      } else if (!f.current && (drain || this.now() - f.atEndSince >= this.options.rotateWaitMs)) {
        this.release(f);
        changed = true;
      }
    }
    return changed;
  }

  /** Everything currently readable has been read. */
  get idle(): boolean {
    for (const f of this.files.values())
      if (!f.closed && !f.atEnd && !f.paused && this.isTurnOf(f)) return false;
    return true;
  }

  /** Checkpoints to save: live files, then recently released ones. */
  checkpoints(): FileCheckpoint[] {
    const now = new Date(this.now()).toISOString();
    const out: FileCheckpoint[] = [];
    for (const f of this.files.values()) {
      if (f.retired && f.finished) continue;
      out.push(f.checkpoint(now));
    }
    const oldest = this.now() - this.options.releasedRetentionMs;
    for (const [key, c] of this.released) {
      if (Date.parse(c.updatedAt) < oldest) this.released.delete(key);
      else if (!this.files.has(key)) out.push(c);
    }
    for (const c of this.unmatched.values()) out.push(c);
    return out;
  }

  async close(): Promise<void> {
    for (const f of this.files.values()) if (!f.closed) await f.source.close();
  }

  private isTurnOf(f: TailedFile): boolean {
    // An older file of the same directory with unread bytes goes first.
    for (const other of this.files.values()) {
      if (other !== f && other.order < f.order && !other.closed && !other.atEnd && other.dir === f.dir)
        return false;
    }
    return true;
  }

  private track(
    key: string,
    identity: FileIdentity,
    source: ByteSource,
    realPath: string,
    path: string,
    start: number,
    size: number,
    current: boolean,
  ): TailedFile {
    const f = new TailedFile(
      key,
      identity,
      source,
      realPath,
      path,
      this.orderSeq++,
      start,
      size,
      current,
      this.consumer,
      this.counters,
      {
        nodeName: this.options.nodeName,
        record: this.options.record,
        maxEventBytes: this.options.maxEventBytes,
        bufferBytes: this.options.bufferBytes,
      },
    );
    this.files.set(key, f);
    if (!source.compressed) this.byInode.set(`${identity.dev}:${identity.ino}`, f);
    this.counters.inc('files_opened');
    return f;
  }

  private release(f: TailedFile): void {
    // An incomplete last line will never be completed: count it; rejoin pieces already read.
    this.counters.inc('bytes_lost', 'incomplete_at_end', f.reader.pendingBytes);
    f.decoder.flush(f.reader.consumed);
    this.counters.inc('bytes_skipped_long_lines', '', f.reader.skippedBytes);
    f.closed = true;
    this.byInode.delete(`${f.identity.dev}:${f.identity.ino}`);
    void f.source.close();
    this.counters.inc('files_released');
  }

  private forget(f: TailedFile): void {
    this.files.delete(f.key);
    if (!f.retired) this.released.set(f.key, f.checkpoint(new Date(this.now()).toISOString()));
  }

  /** Copy-truncate: the rest of the old content is lost; the inode is read anew from byte 0. */
  private truncated(f: TailedFile, newSize: number): void {
    const lost = Math.max(0, f.size - f.reader.position) + f.reader.pendingBytes;
    this.counters.inc('bytes_lost', 'truncated', lost);
    this.counters.inc('truncations');
    f.retired = true;
    f.closed = true;
    this.byInode.delete(`${f.identity.dev}:${f.identity.ino}`);
    void f.source.close();
    void newSize; // the next scan identifies the new content (once it has a first line)
  }

  private async openAndIdentify(
    path: string,
    dev: number,
    ino: number,
  ): Promise<{ source: PlainFileSource; identity: FileIdentity } | undefined> {
    let source: PlainFileSource;
    try {
      source = await PlainFileSource.open(path);
    } catch {
      return undefined;
    }
    try {
      const st = await source.handle.stat();
      // The name may have moved on between the scan and the open: trust what was opened.
      const identity = makeIdentity(
        st.dev ?? dev,
        st.ino ?? ino,
        await readHead(source, FINGERPRINT_MAX_BYTES),
      );
      if (identity !== undefined) return { source, identity };
    } catch {
      // fall through
    }
    await source.close();
    return undefined;
  }

  /** The unmatched checkpoint of this identity, removed from the unmatched set. */
  private takeCheckpoint(identity: FileIdentity): FileCheckpoint | undefined {
    let best: FileCheckpoint | undefined;
    for (const c of [...this.unmatched.values(), ...this.released.values()]) {
      if (c.dev === identity.dev && c.ino === identity.ino && c.fingerprint === identity.fingerprint) {
        if (best === undefined || c.updatedAt > best.updatedAt) best = c;
      }
    }
    if (best !== undefined) {
      this.unmatched.delete(best.key);
      this.released.delete(best.key);
    }
    return best;
  }

  /** A key not used by any file we know (a copy-truncated file can repeat its first line). */
  private uniqueKey(identity: FileIdentity): string {
    const base = identityKey(identity.dev, identity.ino, identity.fingerprint);
    let key = base;
    for (let n = 2; this.files.has(key) || this.released.has(key) || this.unmatched.has(key); n++)
      key = `${base}~${n}`;
    return key;
  }

  /**
   * A checkpointed file that no glob match led to: find it by identity at its old path or among
   * its rotated siblings (plain or gzipped), resume it, and read the siblings rotated after it.
   */
  private async recover(entry: FileCheckpoint): Promise<void> {
    this.unmatched.delete(entry.key);
    const dir = dirname(entry.path);
    const siblings = await rotatedSiblings(dir, currentName(basename(entry.path)));
    const candidates = [entry.path, ...siblings.filter((s) => s !== entry.path)];
    for (const path of candidates) {
      const source = await this.openIfSameContent(path, entry);
      if (source === undefined) continue;
      const identity: FileIdentity = {
        dev: entry.dev,
        ino: entry.ino,
        fingerprint: entry.fingerprint,
        fingerprintBytes: entry.fingerprintBytes,
        key: entry.key,
      };
      this.track(entry.key, identity, source, path, path, entry.offset, entry.size, false);
      // Rotated after it and never seen: read whole, in rotation order, before the current file.
      const at = siblings.indexOf(path);
      for (const newer of at >= 0 ? siblings.slice(at + 1) : []) await this.trackUnseenSibling(newer);
      return;
    }
    this.counters.inc('bytes_lost', 'missing_after_restart', Math.max(0, entry.size - entry.offset));
  }

  /** A rotated file never read: tracked from its beginning (gzipped ones decompressed). */
  private async trackUnseenSibling(path: string): Promise<void> {
    if (path.endsWith('.gz')) {
      const gz = new GzipFileSource(path);
      const head = await readHead(gz, FINGERPRINT_MAX_BYTES);
      let st: Awaited<ReturnType<typeof stat>>;
      try {
        st = await stat(path);
      } catch {
        await gz.close();
        return;
      }
      const identity = makeIdentity(st.dev, st.ino, head);
      if (identity === undefined || this.knownContent(identity.fingerprint, dirname(path))) {
        await gz.close();
        return;
      }
      this.track(this.uniqueKey(identity), identity, gz, path, path, 0, st.size, false);
      return;
    }
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(path);
    } catch {
      return;
    }
    if (this.byInode.has(`${st.dev}:${st.ino}`)) return;
    const opened = await this.openAndIdentify(path, st.dev, st.ino);
    if (opened === undefined) return;
    const entry = this.takeCheckpoint(opened.identity);
    if (entry?.released) {
      await opened.source.close();
      this.released.set(entry.key, entry);
      return;
    }
    const key = entry?.key ?? this.uniqueKey(opened.identity);
    this.track(key, opened.identity, opened.source, path, path, entry?.offset ?? 0, st.size, false);
  }

  /** Some file of this directory is tracked or checkpointed. */
  private knowsDirectory(dir: string): boolean {
    for (const f of this.files.values()) if (f.dir === dir) return true;
    for (const c of [...this.unmatched.values(), ...this.released.values()])
      if (dirname(c.path) === dir) return true;
    return false;
  }

  /** Content with this head was already read from this directory (before it was compressed). */
  private knownContent(fingerprint: string, dir: string): boolean {
    for (const f of this.files.values())
      if (f.identity.fingerprint === fingerprint && f.dir === dir) return true;
    for (const c of this.released.values())
      if (c.fingerprint === fingerprint && dirname(c.path) === dir) return true;
    return false;
  }

  private async openIfSameContent(path: string, entry: FileCheckpoint): Promise<ByteSource | undefined> {
    if (path.endsWith('.gz')) {
      const gz = new GzipFileSource(path);
      const head = await readHead(gz, entry.fingerprintBytes);
      if (head.length === entry.fingerprintBytes && hashHead(head) === entry.fingerprint) return gz;
      await gz.close();
      return undefined;
    }
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(path);
    } catch {
      return undefined;
    }
    if (st.dev !== entry.dev || st.ino !== entry.ino || this.byInode.has(`${st.dev}:${st.ino}`))
      return undefined;
    const opened = await this.openAndIdentify(path, st.dev, st.ino);
    if (opened?.identity.fingerprint === entry.fingerprint) return opened.source;
    await opened?.source.close();
    return undefined;
  }
}

/** `0.log.20240726-104000.gz` → `0.log`: the name a rotated file had while current. */
function currentName(name: string): string {
  const m = /^(.*?\.log)\.[^/]+$/.exec(name);
  return m?.[1] ?? name;
}

/**
 * Rotated siblings of `<dir>/<name>`, oldest first: kubelet's `<name>.<YYYYMMDD-hhmmss>[.gz]`
 * sort by their time; docker's `<name>.<N>` (higher N is older) by N.
 */
export async function rotatedSiblings(dir: string, name: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const prefix = `${name}.`;
  const rotated = names
    .filter((n) => n.startsWith(prefix) && !n.endsWith('.tmp'))
    .map((n) => ({ n, suffix: n.slice(prefix.length).replace(/\.gz$/, '') }));
  rotated.sort((a, b) => {
    const an = /^\d+$/.test(a.suffix) ? Number(a.suffix) : Number.NaN;
    const bn = /^\d+$/.test(b.suffix) ? Number(b.suffix) : Number.NaN;
    if (!Number.isNaN(an) && !Number.isNaN(bn)) return bn - an;
    return a.suffix < b.suffix ? -1 : a.suffix > b.suffix ? 1 : 0;
  });
  return rotated.map((r) => join(dir, r.n));
}

/** Offset just after the last newline at or before `size` (start there to skip old lines only). */
async function lastLineEnd(source: ByteSource, size: number): Promise<number> {
  const chunk = Buffer.allocUnsafe(64 * 1024);
  let end = size;
  while (end > 0) {
    const from = Math.max(0, end - chunk.length);
    const n = await source.read(chunk, 0, end - from, from);
    const nl = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (nl >= 0) return from + nl + 1;
    end = from;
  }
  return 0;
}
