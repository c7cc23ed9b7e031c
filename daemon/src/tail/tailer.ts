// Follows the files the globs match, as kubelet and the container runtimes write, rotate, compress
// and delete them:
// - a file is known by its identity (dev, inode, head fingerprint), never by its name;
// - a file rotated away or deleted stays open and is read to its end, then let go after a grace
//   period with no growth; a newer file of the same rotation (directory and name while current:
//   a restarted container's runs, `0.log` and `1.log`, are two) waits until the older one is read
//   to its end, so a container's lines come in order;
// - on start, a checkpointed file no longer at its path is looked for among its rotated siblings
//   (`0.log.<time>`, also gzipped) and finished first, then the siblings rotated after it;
// - a file that shrank below the read position, or whose head changed, was replaced in place
//   (copy-truncate): the old content goes on in its copy, or its rest is counted as lost, and the
//   new content is read from byte 0 through the descriptor held (the path may go before a scan).
// Reading is pull-based: one chunk per file per turn, only while the consumer has capacity, so
// memory does not depend on how much is waiting on disk.
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FileCheckpoint } from '../checkpoint/checkpoint-store.js';
import { type DiscoveredFile, FileDiscovery, type UnreachablePath } from '../discover/file-discovery.js';
import { type FileMetadataProvider, pathOnlyMetadata } from '../enrich/file-metadata.js';
import type { Counters } from '../metrics/counters.js';
import type { RecordOptions } from '../parse/kubearmor-record.js';
import { type ByteSource, GzipFileSource, PlainFileSource, readHead } from './byte-source.js';
import {
  contentKey,
  FINGERPRINT_MAX_BYTES,
  type FileIdentity,
  hashHead,
  LONG_FIRST_LINE_MAX_BYTES,
  makeIdentity,
  sameFingerprint,
  wantsWholeFirstLine,
} from './file-identity.js';
import { type RecordConsumer, settleHeld, TailedFile } from './tailed-file.js';

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
  /** Where documents' `kubernetes.*` comes from; the path alone by default. */
  metadata?: FileMetadataProvider;
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
  /** Paths that failed to open since the last scan began, with the error code. */
  private readonly openFailures = new Map<string, string>();
  private readonly hadCheckpoints: boolean;
  private scans = 0;
  /**
   * Content of the current files a scan is about to track (see scan): met again among the rotated
   * siblings, it is the same file, renamed since the listing, not another one.
   */
  private claimed = new Set<string>();
  /**
   * The path a glob matched for each current file reached through a link, by real path (from the
   * last scan). A rotated sibling's own path may name no pod (docker's directory names only the
   * container): its metadata comes from the path that led to its directory's current file.
   */
  private foundAs = new Map<string, string>();
  private orderSeq = 0;
  /** When the last scan ended (ms). */
  private lastScanAt = Number.NEGATIVE_INFINITY;
  /** Where the next read turn starts (a file's `order`), after one ended for want of room. */
  private resumeTurnAt: number | undefined;
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

  /**
   * Files deleted while we hold them open and not read to their end (kubelet deleted them while
   * the shipper lagged behind), or ending in an event still open. Their descriptor is the last way
   * to them: a restart cannot read them, so a stop reads them first (see ship.ts).
   */
  async deletedUnread(): Promise<TailedFile[]> {
    const out: TailedFile[] = [];
    for (const f of this.trackedFiles()) {
      // Not `current` alone: no scan may have seen it rotated yet, or its pod was deleted.
      if (f.closed) continue;
      try {
        const st = await f.source.stat();
        if (st.nlink > 0) continue;
        // At its end, maybe replaced in place since (copy-truncate): the new content is to read.
        if (
          !f.atEnd ||
          st.size > f.reader.position ||
          f.decoder.hasOpenEvents() ||
          !(await f.headUnchanged())
        )
          out.push(f);
      } catch {
        // gone with its descriptor: nothing to read
      }
    }
    return out;
  }

  /**
   * What a stop reads of the files deleted while held (`deleted`, see deletedUnread), which no
   * restart can read: those not read to their end; the older files of their directories before
   * them (a container's lines come in order); and, for one that ends in an event's first pieces,
   * the file that followed it at its rotation, until that one has read the event's last pieces.
   * The same for every event handed over at a rotation and still open: the file it began in may
   * be deleted too, read to its end already. `unknown` counts the deleted files with such events
   * whose follower no scan has found yet.
   */
  toReadBeforeStop(deleted: Iterable<TailedFile>): { files: Set<TailedFile>; unknown: number } {
    const files = new Set<TailedFile>();
    for (const f of this.files.values())
      if (!f.closed && !f.atEnd && f.decoder.hasHandedOverEvents()) files.add(f);
    let unknown = 0;
    for (const f of deleted) {
      if (!f.closed && !f.atEnd) {
        files.add(f);
        for (const other of this.files.values())
          if (other.order < f.order && other.rotation === f.rotation && !other.closed && !other.atEnd)
            files.add(other);
        continue;
      }
      const after = this.rotationNeighbour(f, 1);
      const handing = !f.closed && f.decoder.hasOpenEvents();
      if (after === undefined) {
        if (handing) unknown++;
      } else if (!after.closed && !after.atEnd && (handing || after.decoder.hasHandedOverEvents())) {
        files.add(after);
      }
    }
    return { files, unknown };
  }

  /**
   * At the end of a stop's reading (see toReadBeforeStop): the events still open at the end of a
   * deleted file are emitted as they are, flagged truncated (no file after it completed them, nor
   * will a restart, which cannot read their first pieces), rather than lost with the file.
   */
  flushDeleted(deleted: Iterable<TailedFile>): void {
    for (const f of deleted) if (!f.closed && f.atEnd) f.decoder.flush(f.reader.consumed);
  }

  /** How many files were ever taken up: it grows with each one tracked (none is taken up twice). */
  get filesTakenUp(): number {
    return this.orderSeq;
  }

  /**
   * Paths the last scan matched and could not read: links that lead nowhere it can reach (see
   * FileDiscovery), and files it could not open (EMFILE, EACCES).
   */
  unreadablePaths(): UnreachablePath[] {
    const out = [...this.discovery.unreachable()];
    for (const [path, code] of this.openFailures) out.push({ path, target: path, code });
    return out;
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
    this.openFailures.clear();
    const found = await this.discovery.scan();
    this.foundAs.clear();
    for (const d of found) if (d.path !== d.realPath) this.foundAs.set(d.realPath, d.path);
    const seen = new Set<TailedFile>();
    const fresh: { d: DiscoveredFile; source: PlainFileSource; identity: FileIdentity }[] = [];
    // Current files of known rotations at a new inode, and current files with no complete line yet.
    const rotated: string[] = [];
    const waiting: string[] = [];
    // Current files are tracked after the rotated files recovered below: older files go first.
    const resumed: {
      d: DiscoveredFile;
      source: PlainFileSource;
      identity: FileIdentity;
      key: string;
      start: number;
    }[] = [];
    for (const d of found) {
      const known = this.byInode.get(`${d.dev}:${d.ino}`);
      if (known !== undefined) {
        known.current = true;
        seen.add(known);
        continue;
      }
      // A new inode at a known file's path: the known file rotated. Anything rotated after it
      // (several rotations between two scans, or while we were stopped) is looked for below.
      if (this.knowsRotation(d.realPath)) rotated.push(d.realPath);
      const opened = await this.openAndIdentify(d.realPath, d.dev, d.ino);
      if (opened === undefined) {
        // No complete first line yet: the file waits for the next scan, its history does not (below).
        waiting.push(d.realPath);
        continue;
      }
      const entry = this.takeCheckpoint(opened.identity);
      if (entry !== undefined) {
        const start = this.resumeOffset(entry, d.size);
        resumed.push({ d, source: opened.source, identity: opened.identity, key: entry.key, start });
      } else {
        fresh.push({ d, source: opened.source, identity: opened.identity });
      }
    }
    // A checkpoint of the same content at another inode (the file copied back into place): resume it.
    for (let i = 0; i < fresh.length; i++) {
      const f = fresh[i] as (typeof fresh)[number];
      const entry = this.takeContent(dirname(f.d.realPath), f.identity);
      if (entry === undefined) continue;
      resumed.push({ ...f, key: entry.key, start: this.resumeOffset(entry, f.d.size) });
      fresh.splice(i--, 1);
    }
    // What this scan tracks at its current path may have been rotated since the listing: the
    // siblings looked at below must not take it for another file.
    this.claimed = new Set(
      [...resumed, ...fresh].map((r) => contentKey(dirname(r.d.realPath), r.identity.fingerprint)),
    );
    // Checkpointed files not found where they were: finish them (and what rotated after them) first.
    if (this.unmatched.size > 0) {
      const dirs = new Set([...this.unmatched.values()].map((c) => dirname(c.path)));
      for (const dir of dirs) await this.recoverDirectory(dir);
    }
    for (const path of rotated) await this.adoptSiblings(dirname(path), basename(path), false);
    for (const r of resumed) {
      seen.add(this.track(r.key, r.identity, r.source, r.d.realPath, r.d.path, r.start, r.d.size, true));
    }
    const startAtEnd = this.scans === 0 && !this.hadCheckpoints && this.options.startAt === 'end';
    // A rotation we know nothing of whose current file is empty (just rotated, then quiet): its
    // rotated files are read now, not once the container writes again (it may never).
    for (const path of waiting)
      if (!startAtEnd && !this.knowsRotation(path))
        await this.adoptSiblings(dirname(path), basename(path), true);
    for (const { d, source, identity } of fresh) {
      // A rotation we know nothing of (a new pod or container run, or the first start): its
      // history, the files rotated before we saw it, comes first.
      if (!startAtEnd && !this.knowsRotation(d.realPath)) {
        await this.adoptSiblings(dirname(d.realPath), basename(d.realPath), true);
      }
      const start = startAtEnd ? await lastLineEnd(source, d.size) : 0;
      seen.add(
        this.track(
          this.uniqueKey(identity, d.realPath),
          identity,
          source,
          d.realPath,
          d.path,
          start,
          d.size,
          true,
        ),
      );
    }
    this.claimed.clear();
    for (const f of this.files.values()) {
      // Under a directory that could not be listed (EMFILE, EACCES) a file is not gone, only hidden.
      // (One tracked during this scan, as a file replaced in place, was not there to be seen.)
      if (f.current && !seen.has(f) && f.order < before && this.discovery.lookedAt(f.path)) {
        f.current = false;
        // Read it once more before a newer file of its directory may start: lines written just
        // before the rotation must come first.
        f.atEnd = false;
        this.counters.inc('rotations');
      }
    }
    this.scans++;
    this.lastScanAt = this.now();
    return this.orderSeq - before;
  }

  /**
   * One chunk from each readable file. Resolves to the bytes read. When the consumer is full it
   * waits for room, or with `waitForRoom` false ends the turn there (see `hasRoom`).
   */
  async readTurn(waitForRoom = true, only?: ReadonlySet<TailedFile>): Promise<number> {
    let total = 0;
    const files = this.trackedFiles();
    // A turn ended early starts the next one where it stopped: with little room, the first files
    // in order would otherwise take it all, turn after turn.
    let first = 0;
    if (this.resumeTurnAt !== undefined) {
      first = Math.max(
        0,
        files.findIndex((f) => f.order >= (this.resumeTurnAt as number)),
      );
      this.resumeTurnAt = undefined;
    }
    for (let i = 0; i < files.length; i++) {
      const f = files[(first + i) % files.length] as TailedFile;
      if (f.closed || f.paused || f.atEnd || !this.isTurnOf(f) || (only !== undefined && !only.has(f)))
        continue;
      if (!this.consumer.hasCapacity()) {
        if (!waitForRoom) {
          this.resumeTurnAt = f.order;
          break;
        }
        await this.consumer.waitForCapacity();
      }
      if (!f.begun) this.begin(f);
      let n: number;
      try {
        n = await f.reader.readChunk();
      } catch {
        n = 0; // an I/O error reads as the end; maintain() decides what it means
      }
      if (f.reader.invalidated) {
        await this.truncated(f);
      } else if (n === 0) {
        f.atEnd = true;
        f.atEndSince = this.now();
      } else {
        this.counters.inc('bytes_read', '', n);
        // Counted as they are skipped, not when the file goes: the live file may never go.
        this.counters.inc('bytes_skipped_long_lines', '', f.reader.takeSkippedBytes());
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
      // Files being read are checked by each read; files waiting for their turn are checked here,
      // once a second (a stat per waiting file per read would cost more than the read).
      if (!f.atEnd && this.isTurnOf(f)) continue;
      const now = this.now();
      if (!f.atEnd && now - f.lastLook < 1000) continue;
      if (f.atEnd && !drain && now - f.lastLook < 100) continue;
      f.lastLook = now;
      if (f.source.compressed) {
        if (!f.atEnd || this.awaitsSuccessor(f, drain)) continue;
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
      if (await this.lookAt(f, size)) {
        changed = true;
      } else if (!f.atEnd) {
        // waiting for its turn and intact
      } else if (!f.current && (drain || this.now() - f.atEndSince >= this.options.rotateWaitMs)) {
        if (this.awaitsSuccessor(f, drain)) continue;
        // Replaced in place by content just as long as what was read: its size said nothing.
        if (await f.headUnchanged()) this.release(f);
        else await this.truncated(f);
        changed = true;
      } else if (this.now() - f.atEndSince >= this.options.rotateWaitMs) {
        f.reader.releaseBuffer(); // idle: its read buffer is not needed until it grows
      }
    }
    return changed;
  }

  /**
   * Looks again at the plain files of `files` read to their end (a stop's last look, see
   * readDeletedBeforeStop): one replaced in place since is read on in its copy. Resolves to true if
   * any changed.
   */
  async lookAgain(files: Iterable<TailedFile>): Promise<boolean> {
    let changed = false;
    for (const f of files) {
      if (f.closed || !f.atEnd || f.source.compressed) continue;
      try {
        if (await this.lookAt(f, (await f.source.stat()).size)) changed = true;
        else if (!(await f.headUnchanged())) {
          await this.truncated(f);
          changed = true;
        }
      } catch {
        // gone with its descriptor: nothing more to read
      }
    }
    return changed;
  }

  /**
   * A plain file's size, looked at: shorter than where we are, or than the head that identified
   * it, or longer with its head changed, the content was replaced in place (see truncated); longer,
   * it grew. Resolves to true if either.
   */
  private async lookAt(f: TailedFile, size: number): Promise<boolean> {
    if (size < f.reader.position || size < f.identity.fingerprintBytes) {
      await this.truncated(f);
      return true;
    }
    if (!f.atEnd || size <= f.reader.position) return false;
    if (await f.headUnchanged()) f.size = size;
    else await this.truncated(f);
    f.atEnd = false;
    return true;
  }

  /** The consumer takes records now (false while everything it may hold awaits acknowledgement). */
  hasRoom(): boolean {
    return this.consumer.hasCapacity();
  }

  /** Resolves once the consumer takes records again. */
  waitForRoom(): Promise<void> {
    return this.consumer.waitForCapacity();
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
    settleHeld(this.files.values());
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
    // An older file of the same rotation with unread bytes goes first.
    for (const other of this.files.values()) {
      if (
        other !== f &&
        other.order < f.order &&
        !other.closed &&
        !other.atEnd &&
        other.rotation === f.rotation
      )
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
      (this.options.metadata ?? pathOnlyMetadata).forFile(this.metadataPath(realPath, path), realPath),
    );
    f.rotation = rotationOf(realPath);
    this.files.set(key, f);
    if (!source.compressed) this.byInode.set(`${identity.dev}:${identity.ino}`, f);
    this.counters.inc('files_opened');
    return f;
  }

  /** The path whose name says whose file this is: see `foundAs`. */
  private metadataPath(realPath: string, path: string): string {
    if (path !== realPath) return path;
    return this.foundAs.get(join(dirname(realPath), currentName(basename(realPath)))) ?? path;
  }

  /**
   * A file's first read. The file it followed at a rotation is read to its end (its turn came):
   * events whose pieces that one began go on here.
   */
  private begin(f: TailedFile): void {
    f.begun = true;
    const before = this.rotationNeighbour(f, -1);
    if (before !== undefined && !before.current && !before.closed) before.handOverTo(f);
  }

  /**
   * The file tracked just before (`-1`) or after (`1`) this one in its rotation: same directory,
   * same name while current (`0.log`, not the next restart's `1.log`, whose first line is not a
   * piece of the last one's).
   */
  private rotationNeighbour(f: TailedFile, side: -1 | 1): TailedFile | undefined {
    let found: TailedFile | undefined;
    for (const other of this.files.values()) {
      if (other === f || other.retired || other.rotation !== f.rotation) continue;
      if ((other.order - f.order) * side <= 0) continue;
      if (found === undefined || (other.order - found.order) * side < 0) found = other;
    }
    return found;
  }

  /**
   * A file rotated away with events still open waits, before it is let go, for a scan to find the
   * file that followed (their last pieces are there): one after its grace (at once for `drain`).
   * The new file is tracked only once it has a complete line.
   */
  private awaitsSuccessor(f: TailedFile, drain: boolean): boolean {
    if (!f.decoder.hasOpenEvents() || this.rotationNeighbour(f, 1) !== undefined) return false;
    return this.lastScanAt <= f.atEndSince + (drain ? 0 : this.options.rotateWaitMs);
  }

  private release(f: TailedFile): void {
    // An incomplete last line will never be completed: count it; rejoin pieces already read, or
    // hand them to the file that followed at a rotation, where the rest of them is.
    this.counters.inc('bytes_lost', 'incomplete_at_end', f.reader.pendingBytes);
    const after = this.rotationNeighbour(f, 1);
    if (after !== undefined && !after.begun) f.handOverTo(after);
    f.decoder.flush(f.reader.consumed);
    this.counters.inc('bytes_skipped_long_lines', '', f.reader.takeSkippedBytes());
    f.closed = true;
    f.reader.releaseBuffer(true);
    this.byInode.delete(`${f.identity.dev}:${f.identity.ino}`);
    void f.source.close();
    this.counters.inc('files_released');
  }

  private forget(f: TailedFile): void {
    this.files.delete(f.key);
    f.metadata.release();
    if (!f.retired) this.released.set(f.key, f.checkpoint(new Date(this.now()).toISOString()));
  }

  /**
   * The file shrank below the read position: copy-truncate. If the copy sits beside it (same head,
   * long enough), reading continues in the copy; otherwise what was not read yet is lost, and
   * counted. Either way the next scan reads the truncated file's new content from byte 0.
   */
  private async truncated(f: TailedFile): Promise<void> {
    this.counters.inc('truncations');
    this.byInode.delete(`${f.identity.dev}:${f.identity.ino}`);
    // The inode's new content, by the descriptor held: the path may be gone before a scan comes.
    const replaced = { source: f.source, identity: f.identity, realPath: f.realPath, current: f.current };
    try {
      await this.followCopy(f);
    } finally {
      await this.trackReplaced(replaced, f);
    }
  }

  /** Moves `f` to the copy of its content beside it, or retires it, counting what is lost. */
  private async followCopy(f: TailedFile): Promise<void> {
    for (const path of await rotatedSiblings(f.dir, currentName(basename(f.realPath)))) {
      let st: Awaited<ReturnType<typeof stat>>;
      try {
        st = await stat(path);
      } catch {
        continue;
      }
      const compressed = path.endsWith('.gz');
      if (!compressed && (st.size < f.reader.position || this.byInode.has(`${st.dev}:${st.ino}`))) continue;
      let source: ByteSource;
      try {
        source = compressed ? await GzipFileSource.open(path) : await PlainFileSource.open(path);
      } catch (err) {
        this.openFailed(path, err);
        continue;
      }
      const head = await readHead(source, f.identity.fingerprintBytes).catch(() => Buffer.alloc(0));
      if (head.length === f.identity.fingerprintBytes && hashHead(head) === f.identity.fingerprint) {
        f.moveTo(source, st.dev, st.ino, path);
        if (!compressed) this.byInode.set(`${st.dev}:${st.ino}`, f);
        return;
      }
      await source.close();
    }
    const lost = Math.max(0, f.size - f.reader.position) + f.reader.pendingBytes;
    this.counters.inc('bytes_lost', 'truncated', lost);
    // Pieces already read are not lost: out they go, flagged truncated (and any carried here is
    // acknowledged where it began).
    f.decoder.flush(f.reader.consumed);
    f.retired = true;
    f.closed = true;
  }

  /**
   * Tracks the content written in place of `f`'s (copy-truncate) from byte 0, by the descriptor `f`
   * read it through, as the next scan would by its path: the file may be deleted before that scan.
   * The copy `f` moved to is older and goes first. Not tracked when the content is followed already
   * under another name (renamed or compressed since); left to the scans when it has no complete
   * first line yet, or begins as the old one did (a shorter truncation of the same content).
   */
  private async trackReplaced(
    replaced: { source: ByteSource; identity: FileIdentity; realPath: string; current: boolean },
    f: TailedFile,
  ): Promise<void> {
    const { source, identity: old, realPath } = replaced;
    let handedOver = false;
    try {
      if (source.compressed) return;
      // Copies made since the one `f` moved to are older than this content and go first; this
      // content itself may be among them, renamed (or compressed) since, and taken up by that name.
      // So too when `f`'s own copy was gone (f retired): the copies made after it still are.
      await this.adoptSiblings(f.dir, currentName(basename(realPath)), false);
      if (this.byInode.has(`${old.dev}:${old.ino}`)) return;
      const size = (await source.stat()).size;
      const identity = await identify(source, old.dev, old.ino);
      if (identity === undefined || sameFingerprint(identity, old.fingerprint, old.fingerprintBytes)) return;
      handedOver = true;
      await this.takeUp(source, identity, realPath, size, true, replaced.current, f.path);
    } catch {
      // unreadable: left to the scans, as before
    } finally {
      if (!handedOver) await source.close();
    }
  }

  /**
   * A file that could not be opened is tried again at the next scan. Gone meanwhile (ENOENT: it
   * was rotated away between the scan and the open) is the normal race; anything else (EMFILE,
   * EACCES) may keep a file unread, so it is counted, by code.
   */
  private openFailed(path: string, err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT') return;
    this.counters.inc('file_open_errors', code);
    this.openFailures.set(path, code);
  }

  private async openAndIdentify(
    path: string,
    dev: number,
    ino: number,
  ): Promise<{ source: PlainFileSource; identity: FileIdentity } | undefined> {
    let source: PlainFileSource;
    try {
      source = await PlainFileSource.open(path);
    } catch (err) {
      this.openFailed(path, err);
      return undefined;
    }
    try {
      const st = await source.handle.stat();
      // The name may have moved on between the scan and the open: trust what was opened.
      const identity = await identify(source, st.dev ?? dev, st.ino ?? ino);
      if (identity !== undefined) return { source, identity };
    } catch {
      // fall through
    }
    await source.close();
    return undefined;
  }

  /** Where a file found again resumes: at its checkpoint, or at 0 if it is shorter than that now. */
  private resumeOffset(entry: FileCheckpoint, size: number): number {
    if (size >= entry.offset) return entry.offset;
    // Same head, but shorter than where we were: truncated and rewritten while we were away.
    this.counters.inc('bytes_lost', 'truncated', Math.max(0, entry.size - entry.offset));
    this.counters.inc('truncations');
    return 0;
  }

  /** The unmatched checkpoint of this identity, removed from the unmatched set. */
  private takeCheckpoint(identity: FileIdentity): FileCheckpoint | undefined {
    let best: FileCheckpoint | undefined;
    for (const c of [...this.unmatched.values(), ...this.released.values()]) {
      if (
        c.dev === identity.dev &&
        c.ino === identity.ino &&
        sameFingerprint(identity, c.fingerprint, c.fingerprintBytes)
      ) {
        if (best === undefined || c.updatedAt > best.updatedAt) best = c;
      }
    }
    if (best !== undefined) {
      this.unmatched.delete(best.key);
      this.released.delete(best.key);
    }
    return best;
  }

  /** The content key, made unique if another file we know begins with the very same line. */
  private uniqueKey(identity: FileIdentity, path: string): string {
    const base = contentKey(dirname(path), identity.fingerprint);
    let key = base;
    for (let n = 2; this.files.has(key) || this.released.has(key) || this.unmatched.has(key); n++)
      key = `${base}~${n}`;
    return key;
  }

  /**
   * Checkpointed files of this directory that no glob match led to (rotated, compressed or copied
   * while we were stopped): find each by its content among the rotated siblings, oldest first,
   * resume it at its offset, and read whole the siblings rotated after it.
   */
  private async recoverDirectory(dir: string): Promise<void> {
    const entries = [...this.unmatched.values()].filter((c) => dirname(c.path) === dir);
    const names = new Set(entries.map((c) => currentName(basename(c.path))));
    for (const name of names) await this.adoptSiblings(dir, name, false);
    // Not among the siblings: maybe still at its own path, outside the globs now.
    for (const entry of entries) {
      if (!this.unmatched.has(entry.key)) continue;
      if (!(await this.adopt(entry.path, entry))) {
        this.unmatched.delete(entry.key);
        this.counters.inc('bytes_lost', 'missing_after_restart', Math.max(0, entry.size - entry.offset));
      }
    }
  }

  /**
   * Walks the rotated siblings of `<dir>/<name>`, oldest first. A sibling with a checkpoint resumes
   * there; one without is read whole once an older one resumed or is known (or from the first,
   * with `all`, or when none is known).
   */
  private async adoptSiblings(dir: string, name: string, all: boolean): Promise<void> {
    let started = all;
    const notStarted: string[] = [];
    for (const path of await rotatedSiblings(dir, name)) {
      const outcome = await this.adopt(path, undefined, started);
      if (outcome === 'resumed' || outcome === 'known') started = true;
      // The file this scan takes up as current, renamed since the listing: the newest, it says
      // nothing of the older ones.
      else if (!started && outcome !== 'claimed') notStarted.push(path);
    }
    // None of them is a file we know: the ones we knew were rotated out and deleted (kubelet
    // deletes the oldest first), so every one left is newer than what we read. Before, they were
    // left unread, and uncounted.
    if (!started) for (const path of notStarted) await this.adopt(path, undefined, true);
  }

  /**
   * Looks at one file by content. With `wanted`, only the file of that checkpoint is taken. A file
   * whose content is being read, or was read and let go, is left alone; one with an unmatched
   * checkpoint resumes there; another is read from byte 0 if `fromStart`.
   */
  private async adopt(
    path: string,
    wanted?: FileCheckpoint,
    fromStart = false,
  ): Promise<'resumed' | 'started' | 'known' | 'claimed' | false> {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(path);
    } catch {
      return false;
    }
    const compressed = path.endsWith('.gz');
    const tracked = compressed ? undefined : this.byInode.get(`${st.dev}:${st.ino}`);
    if (tracked !== undefined) {
      if (await tracked.headUnchanged()) return 'known';
      // The inode we follow got new content in place: move on to where the old content went.
      await this.truncated(tracked);
    }
    let source: ByteSource;
    try {
      source = compressed ? await GzipFileSource.open(path) : await PlainFileSource.open(path);
    } catch (err) {
      this.openFailed(path, err);
      return false;
    }
    const identity = await identify(source, st.dev, st.ino).catch(() => undefined);
    if (
      identity === undefined ||
      (wanted !== undefined && !sameFingerprint(identity, wanted.fingerprint, wanted.fingerprintBytes))
    ) {
      await source.close();
      return false;
    }
    return this.takeUp(source, identity, path, st.size, fromStart);
  }

  /**
   * An opened file, by its content (see adopt): left alone if that content is being read or was
   * read and let go (the source is closed), resumed at its checkpoint, or read from byte 0 if
   * `fromStart`.
   */
  private async takeUp(
    source: ByteSource,
    identity: FileIdentity,
    realPath: string,
    size: number,
    fromStart: boolean,
    current = false,
    path = realPath,
  ): Promise<'resumed' | 'started' | 'known' | 'claimed' | false> {
    const dir = dirname(realPath);
    if (this.claimed.has(contentKey(dir, identity.fingerprint))) {
      await source.close();
      return 'claimed';
    }
    for (const f of this.files.values()) {
      if (f.dir === dir && f.identity.fingerprint === identity.fingerprint) {
        await source.close();
        // A copy of a file we follow: if that one was truncated in place (copy-truncate), reading
        // moves to the copy now, before any newer sibling may start.
        if (!f.closed && !f.source.compressed && !(await f.headUnchanged())) await this.truncated(f);
        return 'known';
      }
    }
    const entry = this.takeContent(dir, identity);
    if (entry?.released) {
      await source.close();
      this.released.set(entry.key, entry);
      return 'known';
    }
    if (entry !== undefined) {
      this.track(
        entry.key,
        identity,
        source,
        realPath,
        path,
        entry.offset,
        Math.max(entry.size, size),
        current,
      );
      return 'resumed';
    }
    if (!fromStart) {
      await source.close();
      return false;
    }
    this.track(this.uniqueKey(identity, realPath), identity, source, realPath, path, 0, size, current);
    return 'started';
  }

  /**
   * Some file of this current file's rotation is tracked or checkpointed: of its directory, and of
   * its name while current. Not the directory alone: a restarted container's runs share one
   * (`0.log`, `1.log`), each rotated on its own.
   */
  private knowsRotation(path: string): boolean {
    const rotation = rotationOf(path);
    for (const f of this.files.values()) if (f.rotation === rotation) return true;
    for (const c of [...this.unmatched.values(), ...this.released.values()])
      if (rotationOf(c.path) === rotation) return true;
    return false;
  }

  /** The checkpoint (unmatched or released) of this content, taken out of its set. */
  private takeContent(dir: string, identity: FileIdentity): FileCheckpoint | undefined {
    for (const set of [this.unmatched, this.released]) {
      for (const c of set.values()) {
        if (dirname(c.path) === dir && sameFingerprint(identity, c.fingerprint, c.fingerprintBytes)) {
          set.delete(c.key);
          return c;
        }
      }
    }
    return undefined;
  }
}

/** Reads as much of a file's head as its fingerprint covers (see file-identity.ts). */
async function identify(source: ByteSource, dev: number, ino: number): Promise<FileIdentity | undefined> {
  let head = await readHead(source, FINGERPRINT_MAX_BYTES);
  if (wantsWholeFirstLine(head)) head = await readHead(source, LONG_FIRST_LINE_MAX_BYTES);
  return makeIdentity(dev, ino, head);
}

/**
 * `<dir>/0.log.20240726-104000.gz` → `<dir>/0.log`: the rotation a file belongs to (see
 * TailedFile.rotation). A name not kubelet's or docker's (no `.log`): the directory's, whose files
 * are then read as one rotation.
 */
function rotationOf(path: string): string {
  const name = basename(path);
  return /\.log(\.|$)/.test(name) ? join(dirname(path), currentName(name)) : dirname(path);
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
