// Writes generated relay output the way a node stores it: CRI-wrapped lines in
// <out>/pods/<ns>_<pod>_<uid>/<container>/0.log, a symlink to it in <out>/containers/, lines over
// 16 KiB split into `P` pieces, and, optionally, kubelet's rotation: rename 0.log to
// 0.log.<YYYYMMDD-hhmmss>, start a new 0.log, gzip every rotated file but the newest, keep at most
// `maxFiles` files; and a container's restart (`1.log` beside `0.log`, under a link of its own).
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type GeneratedKind, type GeneratedLine, Random, RelayRecordFactory } from './relay-records.js';

export interface GenerateOptions {
  out: string;
  records: number;
  seed: number;
  /** Rotate when the current file reaches this many bytes (undefined: never). */
  rotateBytes?: number | undefined;
  /** Files kept per container, the current one included (kubelet's containerLogMaxFiles). */
  maxFiles: number;
  startMs: number;
  /** The runtime splits lines longer than this (containerd's default 16 KiB). */
  splitBytes?: number;
  /**
   * Rotate between two pieces of a split line, as kubelet may (the runtime writes each piece on
   * its own): a rotation that is due waits for the next split line (up to twice `rotateBytes`),
   * and its first piece ends the old file.
   */
  rotateBetweenPieces?: boolean;
  /** Sees every line written, with the file it went to (for tests that compute expectations). */
  onLine?: (line: GeneratedLine) => void;
  /**
   * `cri` (default): containerd or CRI-O under kubelet. `docker`: cri-dockerd — docker's json-file
   * lines in /var/lib/docker-like `docker/containers/<id>/<id>-json.log`, which the pod directory's
   * `0.log` links to, rotated docker's way (`.1`, then `.2.gz`, …: every rotated file moves up).
   */
  runtime?: 'cri' | 'docker';
  /**
   * False: a relay left as KubeArmor installs it (ENABLE_STDOUT_* off), which writes only its own
   * log lines, on stderr, seconds apart.
   */
  relayStdout?: boolean;
}

export type KindCounts = Record<GeneratedKind, number>;

export interface GenerateResult {
  /** Relay lines written (a split line counts once). */
  lines: number;
  /** Lines by kind in the files still on disk (rotation may have deleted the oldest). */
  counts: KindCounts;
  /** Lines by kind that rotation deleted. */
  deleted: KindCounts;
  /** Files on disk, oldest first, current last. */
  files: string[];
  rotations: number;
  /** The glob that finds the current file (like /var/log/containers/kubearmor-relay-*.log). */
  glob: string;
  /** The real path of the current file. */
  currentFile: string;
}

const POD = 'kubearmor-relay-6b9d8c7f5-x2x4k';
const NAMESPACE = 'kubearmor';
const CONTAINER = 'kubearmor-relay-server';

const zeroCounts = (): KindCounts => ({ alert: 0, log: 0, message: 0, relay: 0 });

/** RFC 3339 with nanoseconds, trailing zeros trimmed, as Go's RFC3339Nano prints it. */
export function rfc3339Nano(ms: number, extraNanos: number): string {
  const iso = new Date(ms).toISOString();
  const nanos = (ms % 1000) * 1_000_000 + extraNanos;
  if (nanos === 0) return `${iso.slice(0, 19)}Z`;
  return `${iso.slice(0, 19)}.${String(nanos).padStart(9, '0').replace(/0+$/, '')}Z`;
}

/** Wraps one relay line in CRI format, split into `P` pieces past `splitBytes`. */
export function criWrap(line: GeneratedLine, time: string, splitBytes: number): Buffer {
  const bytes = Buffer.from(line.text);
  if (bytes.length <= splitBytes) return Buffer.from(`${time} ${line.stream} F ${line.text}\n`);
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += splitBytes) {
    const flag = at + splitBytes >= bytes.length ? 'F' : 'P';
    parts.push(Buffer.from(`${time} ${line.stream} ${flag} `), bytes.subarray(at, at + splitBytes), NEWLINE);
  }
  return Buffer.concat(parts);
}

/**
 * Wraps one relay line as docker's json-file driver writes it: a JSON object per line, the message
 * in `log`; past `splitBytes` in pieces, only the last one ending in a newline.
 */
export function dockerWrap(line: GeneratedLine, time: string, splitBytes: number): Buffer {
  const piece = (log: string) => `${JSON.stringify({ log, stream: line.stream, time })}\n`;
  const text = line.text;
  if (text.length <= splitBytes) return Buffer.from(piece(`${text}\n`));
  let out = '';
  for (let at = 0; at < text.length; at += splitBytes) {
    const end = Math.min(text.length, at + splitBytes);
    out += piece(end === text.length ? `${text.slice(at)}\n` : text.slice(at, end));
  }
  return Buffer.from(out);
}

const NEWLINE = Buffer.from('\n');

interface OnDisk {
  path: string;
  counts: KindCounts;
}

/**
 * One container's log directory as kubelet keeps it, written a batch of records at a time: a test
 * can append while a shipper follows the files, and every batch ends on a complete line.
 */
export class KubeletLogWriter {
  readonly glob: string;
  private current: string;
  private readonly podDir: string;
  private readonly linksDir: string;
  private readonly rnd: Random;
  private readonly factory: RelayRecordFactory;
  private readonly splitBytes: number;
  private readonly rotated: OnDisk[] = [];
  /** The files of the container's earlier runs (see restartContainer). */
  private readonly earlierRuns: OnDisk[] = [];
  private runs = 1;
  private live: OnDisk;
  private readonly deleted = zeroCounts();
  private fd: number;
  private size = 0;
  private lines = 0;
  private rotations = 0;
  private clock: number;
  private readonly docker: boolean;

  constructor(private readonly options: Omit<GenerateOptions, 'records'>) {
    this.rnd = new Random(options.seed + 1);
    this.factory = new RelayRecordFactory(options.seed);
    this.factory.stdoutEvents = options.relayStdout ?? true;
    this.splitBytes = options.splitBytes ?? 16 * 1024;
    this.clock = options.startMs;
    const rnd = this.rnd;
    const uid = `${rnd.hex(8)}-${rnd.hex(4)}-${rnd.hex(4)}-${rnd.hex(4)}-${rnd.hex(12)}`;
    const podDir = resolve(options.out, 'pods', `${NAMESPACE}_${POD}_${uid}`, CONTAINER);
    const linksDir = resolve(options.out, 'containers');
    this.podDir = podDir;
    this.linksDir = linksDir;
    mkdirSync(podDir, { recursive: true });
    mkdirSync(linksDir, { recursive: true });
    const id = rnd.hex(64);
    this.docker = options.runtime === 'docker';
    if (this.docker) {
      const dockerDir = resolve(options.out, 'docker', 'containers', id);
      mkdirSync(dockerDir, { recursive: true });
      this.current = join(dockerDir, `${id}-json.log`);
      symlinkSync(this.current, join(podDir, '0.log'));
    } else {
      this.current = join(podDir, '0.log');
    }
    const link = join(linksDir, `${POD}_${NAMESPACE}_${CONTAINER}-${id}.log`);
    rmSync(link, { force: true });
    symlinkSync(join(podDir, '0.log'), link);
    this.glob = join(linksDir, 'kubearmor-relay-*.log');
    this.live = { path: this.current, counts: zeroCounts() };
    this.fd = openSync(this.current, 'a');
  }

  /** The real path of the live file. */
  get currentFile(): string {
    return this.current;
  }

  /**
   * The container restarts (CRI): kubelet starts `<n>.log` beside the last run's files, under a
   * link of its own (the new container's id), and rotates it on its own. The earlier runs' files
   * stay (kubelet deletes the last one at the next restart; here none goes, so every line written
   * stays countable).
   */
  restartContainer(): void {
    if (this.docker)
      throw new Error("restartContainer: cri-dockerd's next container is a directory of its own");
    closeSync(this.fd);
    this.earlierRuns.push(...this.rotated.splice(0), this.live);
    this.current = join(this.podDir, `${this.runs++}.log`);
    symlinkSync(
      this.current,
      join(this.linksDir, `${POD}_${NAMESPACE}_${CONTAINER}-${this.rnd.hex(64)}.log`),
    );
    this.live = { path: this.current, counts: zeroCounts() };
    this.fd = openSync(this.current, 'a');
    this.size = 0;
  }

  /** Appends `records` relay lines, rotating as configured; returns once they are all written. */
  write(records: number): void {
    const { rnd, options } = this;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = () => {
      if (pendingBytes === 0) return;
      writeSync(this.fd, Buffer.concat(pending, pendingBytes));
      pending = [];
      pendingBytes = 0;
    };
    for (let i = 0; i < records; i++) {
      this.clock += this.factory.stdoutEvents ? rnd.int(0, 20) : rnd.int(1000, 30_000);
      const line = this.factory.next(this.clock);
      const time = rfc3339Nano(this.clock, rnd.int(0, 999_999));
      const bytes = this.docker
        ? dockerWrap(line, time, this.splitBytes)
        : criWrap(line, time, this.splitBytes);
      // Counted where the line begins: its record is that file's.
      this.live.counts[line.kind]++;
      this.lines++;
      options.onLine?.(line);
      const due = options.rotateBytes !== undefined && this.size + bytes.length >= options.rotateBytes;
      const firstPiece = due && options.rotateBetweenPieces ? bytes.indexOf(0x0a) + 1 : 0;
      if (firstPiece > 0 && firstPiece < bytes.length) {
        pending.push(bytes.subarray(0, firstPiece));
        pendingBytes += firstPiece;
        flush();
        this.rotate();
        pending.push(bytes.subarray(firstPiece));
        pendingBytes += bytes.length - firstPiece;
        this.size += bytes.length - firstPiece;
        continue;
      }
      pending.push(bytes);
      pendingBytes += bytes.length;
      this.size += bytes.length;
      if (pendingBytes > 1 << 20) flush();
      const rotateBytes = options.rotateBytes ?? Number.POSITIVE_INFINITY;
      if (this.size >= (options.rotateBetweenPieces ? 2 * rotateBytes : rotateBytes)) {
        flush();
        this.rotate();
      }
    }
    flush();
  }

  /** kubelet's rotation (docker's below): rename, a new file, gzip all rotated files but the newest, keep `maxFiles`. */
  private rotate(): void {
    closeSync(this.fd);
    if (this.docker) {
      this.rotateDocker();
      return;
    }
    const current = this.currentFile;
    let stamp = compactStamp(this.clock);
    while (this.rotated.some((r) => r.path.startsWith(`${current}.${stamp}`))) {
      this.clock += 1000;
      stamp = compactStamp(this.clock);
    }
    this.renameCurrent(`${current}.${stamp}`);
    for (const r of this.rotated.slice(0, -1)) if (!r.path.endsWith('.gz')) gzipInPlace(r);
    this.dropOldest();
  }

  /** docker's rotation: every rotated file moves up by one, the current one becomes `.1`, `.2` is gzipped. */
  private rotateDocker(): void {
    const current = this.currentFile;
    const n = this.rotated.length;
    // The oldest (highest number) first, so that no name is taken yet.
    this.rotated.forEach((r, i) => {
      const to = `${current}.${n - i + 1}${r.path.endsWith('.gz') ? '.gz' : ''}`;
      renameSync(r.path, to);
      r.path = to;
    });
    this.renameCurrent(`${current}.1`);
    const second = this.rotated[n - 1];
    if (second !== undefined && !second.path.endsWith('.gz')) gzipInPlace(second);
    this.dropOldest();
  }

  /** The current file becomes `renamed` (its fd is closed); a new, empty one takes its name. */
  private renameCurrent(renamed: string): void {
    renameSync(this.currentFile, renamed);
    this.rotated.push({ path: renamed, counts: this.live.counts });
    this.live = { path: this.currentFile, counts: zeroCounts() };
    this.fd = openSync(this.currentFile, 'a');
    this.size = 0;
    this.rotations++;
  }

  /** Keeps at most `maxFiles` files, the current one included. */
  private dropOldest(): void {
    while (this.rotated.length > this.options.maxFiles - 1) {
      const oldest = this.rotated.shift() as OnDisk;
      rmSync(oldest.path, { force: true });
      for (const k of Object.keys(this.deleted) as GeneratedKind[]) this.deleted[k] += oldest.counts[k];
    }
  }

  /** What was written so far. */
  result(): GenerateResult {
    const counts = zeroCounts();
    for (const f of [...this.earlierRuns, ...this.rotated, this.live])
      for (const k of Object.keys(counts) as GeneratedKind[]) counts[k] += f.counts[k];
    return {
      lines: this.lines,
      counts,
      deleted: { ...this.deleted },
      files: [...this.earlierRuns, ...this.rotated].map((r) => r.path).concat(this.currentFile),
      rotations: this.rotations,
      glob: this.glob,
      currentFile: this.currentFile,
    };
  }

  close(): void {
    closeSync(this.fd);
  }
}

export async function generateRelayLogs(options: GenerateOptions): Promise<GenerateResult> {
  const writer = new KubeletLogWriter(options);
  writer.write(options.records);
  writer.close();
  return writer.result();
}

/** Replaces a rotated file by its gzip, as the runtimes do: written aside, then renamed. */
function gzipInPlace(file: OnDisk): void {
  const gz = `${file.path}.gz`;
  writeFileSync(`${gz}.tmp`, gzipSync(readFileSync(file.path)));
  renameSync(`${gz}.tmp`, gz);
  unlinkSync(file.path);
  file.path = gz;
}

/** kubelet's rotated-file suffix: YYYYMMDD-hhmmss. */
function compactStamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}
