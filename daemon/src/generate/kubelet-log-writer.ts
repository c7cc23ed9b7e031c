// Writes generated relay output the way a node stores it: CRI-wrapped lines in
// <out>/pods/<ns>_<pod>_<uid>/<container>/0.log, a symlink to it in <out>/containers/, lines over
// 16 KiB split into `P` pieces, and, optionally, kubelet's rotation: rename 0.log to
// 0.log.<YYYYMMDD-hhmmss>, start a new 0.log, gzip every rotated file but the newest, keep at most
// `maxFiles` files.
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
  /** Sees every line written, with the file it went to (for tests that compute expectations). */
  onLine?: (line: GeneratedLine) => void;
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

const NEWLINE = Buffer.from('\n');

interface OnDisk {
  path: string;
  counts: KindCounts;
}

export async function generateRelayLogs(options: GenerateOptions): Promise<GenerateResult> {
  const rnd = new Random(options.seed + 1);
  const factory = new RelayRecordFactory(options.seed);
  const splitBytes = options.splitBytes ?? 16 * 1024;
  const uid = `${rnd.hex(8)}-${rnd.hex(4)}-${rnd.hex(4)}-${rnd.hex(4)}-${rnd.hex(12)}`;
  const containerDir = resolve(options.out, 'pods', `${NAMESPACE}_${POD}_${uid}`, CONTAINER);
  const linksDir = resolve(options.out, 'containers');
  mkdirSync(containerDir, { recursive: true });
  mkdirSync(linksDir, { recursive: true });
  const current = join(containerDir, '0.log');
  const link = join(linksDir, `${POD}_${NAMESPACE}_${CONTAINER}-${rnd.hex(64)}.log`);
  rmSync(link, { force: true });
  symlinkSync(current, link);

  const rotated: OnDisk[] = [];
  let live: OnDisk = { path: current, counts: zeroCounts() };
  const deleted = zeroCounts();
  let fd = openSync(current, 'a');
  let size = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let rotations = 0;
  let clock = options.startMs;
  let nanos = 0;

  const flush = () => {
    if (pendingBytes === 0) return;
    writeSync(fd, Buffer.concat(pending, pendingBytes));
    pending = [];
    pendingBytes = 0;
  };

  const rotate = () => {
    flush();
    closeSync(fd);
    let stamp = compactStamp(clock);
    while (rotated.some((r) => r.path.startsWith(`${current}.${stamp}`))) {
      clock += 1000;
      stamp = compactStamp(clock);
    }
    const renamed = `${current}.${stamp}`;
    renameSync(current, renamed);
    rotated.push({ path: renamed, counts: live.counts });
    live = { path: current, counts: zeroCounts() };
    fd = openSync(current, 'a');
    size = 0;
    rotations++;
    // Compress all rotated files but the newest, as kubelet does.
    for (const r of rotated.slice(0, -1)) {
      if (r.path.endsWith('.gz')) continue;
      const gz = `${r.path}.gz`;
      writeFileSync(`${gz}.tmp`, gzipSync(readFileSync(r.path)));
      renameSync(`${gz}.tmp`, gz);
      unlinkSync(r.path);
      r.path = gz;
    }
    while (rotated.length > options.maxFiles - 1) {
      const oldest = rotated.shift() as OnDisk;
      rmSync(oldest.path, { force: true });
      for (const k of Object.keys(deleted) as GeneratedKind[]) deleted[k] += oldest.counts[k];
    }
  };

  for (let i = 0; i < options.records; i++) {
    clock += rnd.int(0, 20);
    nanos = rnd.int(0, 999_999);
    const line = factory.next(clock);
    const bytes = criWrap(line, rfc3339Nano(clock, nanos), splitBytes);
    pending.push(bytes);
    pendingBytes += bytes.length;
    size += bytes.length;
    live.counts[line.kind]++;
    options.onLine?.(line);
    if (pendingBytes > 1 << 20) flush();
    if (options.rotateBytes !== undefined && size >= options.rotateBytes) rotate();
  }
  flush();
  closeSync(fd);

  const counts = zeroCounts();
  for (const f of [...rotated, live])
    for (const k of Object.keys(counts) as GeneratedKind[]) counts[k] += f.counts[k];
  return {
    lines: options.records,
    counts,
    deleted,
    files: [...rotated.map((r) => r.path), current],
    rotations,
    glob: join(linksDir, 'kubearmor-relay-*.log'),
    currentFile: current,
  };
}

/** kubelet's rotated-file suffix: YYYYMMDD-hhmmss. */
function compactStamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}
