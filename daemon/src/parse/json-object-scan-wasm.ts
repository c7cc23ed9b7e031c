// The line scan compiled to WebAssembly (daemon/assembly/json-object-scan.ts, built into
// dist/json-object-scan.wasm by scripts/build.mjs), behind the same interface as the JavaScript
// scan. It checks a string's bytes sixteen at a time and takes about half the JavaScript scan's
// time per line, the copy into its memory included. Verdicts and value spans are the same (the
// differential test runs both against JSON.parse). Without the module file (running from source
// before a build), for a line longer than its input area, or if the module traps, the JavaScript
// scan does the work. The same module writes what the shipper adds to a KubeArmor line from the
// spans while the line is in its memory (`writeTail`, daemon/assembly/document-tail.ts); its
// JavaScript twin in kubearmor-record.ts does every case the module hands back.
import { type CompiledModule, instantiate, wasmModule } from '../wasm/module-file.js';
import { JsonObjectScanner, type ObjectScanner, type ScanOutcome } from './json-object-scan.js';

/** The module's memory layout from its `layoutBase()`, and its limits (see the AssemblyScript source). */
const VALUE_START_OFFSET = 0;
const VALUE_END_OFFSET = 128;
const VALUE_ESCAPED_OFFSET = 256;
const CLOSE_AT_OFFSET = 288;
const SIMILARITY_OFFSET = 292;
const NAMES_OFFSET = 512;
const NAME_BYTES_OFFSET = 1024;
const MAX_MEMBERS = 32;
const NAME_BYTES = 1024;

interface ScanExports {
  readonly memory: { readonly buffer: ArrayBuffer };
  layoutBase(): number;
  setNames(count: number): void;
  inputAt(): number;
  inputBytes(): number;
  memoryNeeded(): number;
  tailAt(): number;
  tailBytes(): number;
  stageAt(): number;
  stageBytes(): number;
  scan(from: number, to: number, shift: number): number;
  setRoles(...rolesThenMasks: number[]): void;
  setAction(rawLength: number, fieldsLength: number): number;
  remember(
    cache: number,
    aFrom: number,
    aTo: number,
    bFrom: number,
    bTo: number,
    fragmentLength: number,
  ): void;
  tail(offset: number, timeFrom: number, timeTo: number, alert: number, typeHash: number): number;
}

/** `writeTail`'s answers besides a length: the case is JavaScript's, or a fragment to `remember` first. */
export const TAIL_IN_JAVASCRIPT = -1;
export const TAIL_NOT_CACHED = -2;
export const LABELS_CACHE = 0;
export const TAGS_CACHE = 1;

/** Which chosen member is which, for the tail (indices into the scanner's members, -1: none). */
export interface TailRoles {
  updatedTime: number;
  severity: number;
  action: number;
  labels: number;
  aTags: number;
  tags: number;
  podName: number;
  operation: number;
  /** Members whose presence leaves a line to JavaScript (they name a field the shipper sets). */
  mergeAlways: readonly number[];
  /** The same, for alerts only. */
  mergeAlert: readonly number[];
}

/** The compiled module, or null if its file is not there (see module-file.ts). */
export function jsonScanModule(): CompiledModule | null {
  return wasmModule('json-object-scan.wasm');
}

export class WasmJsonObjectScanner implements ObjectScanner {
  readonly valueStart: Int32Array;
  readonly valueEnd: Int32Array;
  readonly valueEscaped: Uint8Array;
  closeAt = -1;

  private readonly exports: ScanExports;
  private readonly memory: Uint8Array;
  private readonly closeAtView: Int32Array;
  private readonly similarityView: Uint32Array;
  private readonly input: number;
  private readonly stage: number;
  private readonly stageBytes: number;
  /** The last line was scanned in the module (not by the fallback): `writeTail` may look at it. */
  private scannedHere = false;
  /** What `writeTail` wrote: `tail[0, length)`. */
  readonly tail: Buffer;
  private readonly capacity: number;
  /** For lines longer than the input area. */
  private readonly fallback: JsonObjectScanner;

  constructor(module: CompiledModule, members: readonly string[]) {
    const names = members.map((m) => Buffer.from(m, 'utf8'));
    if (names.length > MAX_MEMBERS || names.reduce((n, b) => n + b.length, 0) > NAME_BYTES)
      throw new Error(`the WebAssembly scan takes at most ${MAX_MEMBERS} members of ${NAME_BYTES} bytes`);
    this.exports = instantiate<ScanExports>(module);
    const buffer = this.exports.memory.buffer;
    const base = this.exports.layoutBase();
    this.memory = new Uint8Array(buffer);
    this.valueStart = new Int32Array(buffer, base + VALUE_START_OFFSET, names.length);
    this.valueEnd = new Int32Array(buffer, base + VALUE_END_OFFSET, names.length);
    this.valueEscaped = new Uint8Array(buffer, base + VALUE_ESCAPED_OFFSET, names.length);
    this.closeAtView = new Int32Array(buffer, base + CLOSE_AT_OFFSET, 1);
    this.similarityView = new Uint32Array(buffer, base + SIMILARITY_OFFSET, 1);
    if (this.exports.memoryNeeded() > buffer.byteLength)
      throw new Error('json-object-scan.wasm: memory too small');
    const table = new Int32Array(buffer, base + NAMES_OFFSET, 2 * MAX_MEMBERS);
    let at = base + NAME_BYTES_OFFSET;
    names.forEach((name, k) => {
      this.memory.set(name, at);
      table[2 * k] = at;
      table[2 * k + 1] = name.length;
      at += name.length;
    });
    this.exports.setNames(names.length);
    this.input = this.exports.inputAt();
    this.capacity = this.exports.inputBytes();
    this.tail = Buffer.from(buffer, this.exports.tailAt(), this.exports.tailBytes());
    this.stage = this.exports.stageAt();
    this.stageBytes = this.exports.stageBytes();
    this.fallback = new JsonObjectScanner(members);
  }

  /**
   * `copyFrom` (≤ from): the bytes from there on go into the module with the line, for `writeTail`
   * (the runtime's time before the content).
   */
  scan(b: Uint8Array, from: number, to: number, copyFrom = from): ScanOutcome {
    this.scannedHere = false;
    const length = to - copyFrom;
    if (length > this.capacity) return this.scanInJavaScript(b, from, to);
    if (b instanceof Buffer) b.copy(this.memory, this.input, copyFrom, to);
    else this.memory.set(b.subarray(copyFrom, to), this.input);
    const start = this.input + from - copyFrom;
    let outcome: ScanOutcome;
    try {
      outcome = this.exports.scan(start, this.input + length, copyFrom - this.input) as ScanOutcome;
      this.scannedHere = true;
    } catch {
      // A trap would be a bug in the module (every access is in bounds by construction): the
      // line still gets a verdict, from the JavaScript scan, rather than stopping its file.
      return this.scanInJavaScript(b, from, to);
    }
    this.closeAt = this.closeAtView[0] as number;
    return outcome;
  }

  /** Once, before `writeTail`: the members' parts and the known `Action` values' fields. */
  configureTail(roles: TailRoles, actions: readonly { raw: Buffer; fields: Buffer }[]): void {
    const mask = (ks: readonly number[]) => ks.reduce((m, k) => (m | (1 << k)) >>> 0, 0);
    this.exports.setRoles(
      roles.updatedTime,
      roles.severity,
      roles.action,
      roles.labels,
      roles.aTags,
      roles.tags,
      roles.podName,
      roles.operation,
      mask(roles.mergeAlways),
      mask(roles.mergeAlert),
    );
    for (const { raw, fields } of actions) {
      if (raw.length + fields.length > this.stageBytes) continue;
      raw.copy(this.memory, this.stage);
      fields.copy(this.memory, this.stage + raw.length);
      this.exports.setAction(raw.length, fields.length);
    }
  }

  /**
   * What the shipper adds to the line scanned last, at `tail`: its length, TAIL_IN_JAVASCRIPT or
   * TAIL_NOT_CACHED (see document-tail.ts). `timeFrom`/`timeTo`: the runtime's time in the line's
   * buffer (scanned with it, see `scan`'s copyFrom), or -1.
   */
  writeTail(offset: number, timeFrom: number, timeTo: number, alert: boolean, typeHash: number): number {
    if (!this.scannedHere) return TAIL_IN_JAVASCRIPT;
    try {
      return this.exports.tail(offset, timeFrom, timeTo, alert ? 1 : 0, typeHash);
    } catch {
      return TAIL_IN_JAVASCRIPT;
    }
  }

  /** The similarity `writeTail` computed. */
  get similarity(): number {
    return this.similarityView[0] as number;
  }

  /** Keeps `fragment` for the spans (of the line scanned last; -1: absent) in the module's cache. */
  remember(cache: number, aFrom: number, aTo: number, bFrom: number, bTo: number, fragment: Buffer): void {
    if (!this.scannedHere || fragment.length > this.stageBytes) return;
    fragment.copy(this.memory, this.stage);
    this.exports.remember(cache, aFrom, aTo, bFrom, bTo, fragment.length);
  }

  /** The JavaScript scan, its results copied where readers of this one look. */
  private scanInJavaScript(b: Uint8Array, from: number, to: number): ScanOutcome {
    const outcome = this.fallback.scan(b, from, to);
    this.valueStart.set(this.fallback.valueStart);
    this.valueEnd.set(this.fallback.valueEnd);
    this.valueEscaped.set(this.fallback.valueEscaped);
    this.closeAt = this.fallback.closeAt;
    return outcome;
  }
}

/** The WebAssembly scan where its module is there, else the JavaScript one. */
export function createObjectScanner(members: readonly string[]): ObjectScanner {
  const module = jsonScanModule();
  return module === null ? new JsonObjectScanner(members) : new WasmJsonObjectScanner(module, members);
}
