// The line scan compiled to WebAssembly (daemon/assembly/json-object-scan.ts, built into
// dist/json-object-scan.wasm by scripts/build.mjs), behind the same interface as the JavaScript
// scan. It checks a string's bytes sixteen at a time and takes about half the JavaScript scan's
// time per line, the copy into its memory included. Verdicts and value spans are the same (the
// differential test runs both against JSON.parse). Without the module file (running from source
// before a build), for a line longer than its input area, or if the module traps, the JavaScript
// scan does the work.
import { type CompiledModule, instantiate, wasmModule } from '../wasm/module-file.js';
import { JsonObjectScanner, type ObjectScanner, type ScanOutcome } from './json-object-scan.js';

/** The module's memory layout from its `layoutBase()`, and its limits (see the AssemblyScript source). */
const VALUE_START_OFFSET = 0;
const VALUE_END_OFFSET = 128;
const VALUE_ESCAPED_OFFSET = 256;
const CLOSE_AT_OFFSET = 288;
const NAMES_OFFSET = 512;
const NAME_BYTES_OFFSET = 1024;
const INPUT_OFFSET = 4096;
const MAX_MEMBERS = 32;
const NAME_BYTES = 1024;

interface ScanExports {
  readonly memory: { readonly buffer: ArrayBuffer };
  layoutBase(): number;
  setNames(count: number): void;
  scan(from: number, to: number, shift: number): number;
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
  private readonly input: number;
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
    const table = new Int32Array(buffer, base + NAMES_OFFSET, 2 * MAX_MEMBERS);
    let at = base + NAME_BYTES_OFFSET;
    names.forEach((name, k) => {
      this.memory.set(name, at);
      table[2 * k] = at;
      table[2 * k + 1] = name.length;
      at += name.length;
    });
    this.exports.setNames(names.length);
    this.input = base + INPUT_OFFSET;
    this.capacity = buffer.byteLength - this.input;
    this.fallback = new JsonObjectScanner(members);
  }

  scan(b: Uint8Array, from: number, to: number): ScanOutcome {
    const length = to - from;
    if (length > this.capacity) return this.scanInJavaScript(b, from, to);
    this.memory.set(b.subarray(from, to), this.input);
    let outcome: ScanOutcome;
    try {
      outcome = this.exports.scan(this.input, this.input + length, from - this.input) as ScanOutcome;
    } catch {
      // A trap would be a bug in the module (every access is in bounds by construction): the
      // line still gets a verdict, from the JavaScript scan, rather than stopping its file.
      return this.scanInJavaScript(b, from, to);
    }
    this.closeAt = this.closeAtView[0] as number;
    return outcome;
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
