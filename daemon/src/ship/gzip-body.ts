// Gzip (RFC 1952) of a bulk body given as the byte ranges of its documents, in order. The DEFLATE
// stream comes from the WebAssembly encoder (daemon/assembly/gzip-deflate.ts, dist/gzip-deflate.wasm):
// the ranges are copied straight into its memory (no joined body), half a MiB at a time; the CRC-32
// is zlib's. Without the module file, or should the module trap, zlib's level 1 does it (in the
// thread pool), on the ranges joined.
import { promisify } from 'node:util';
import { crc32, gzip } from 'node:zlib';
import { type CompiledModule, instantiate, wasmModule } from '../wasm/module-file.js';

export interface ByteRange {
  buffer: Buffer;
  from: number;
  to: number;
}

export type BodyEncoding = 'webassembly' | 'zlib';

export interface GzipBody {
  readonly encoding: BodyEncoding;
  /** The gzip of the ranges' bytes, one after the other. */
  encode(ranges: readonly ByteRange[]): Promise<Buffer>;
}

interface DeflateExports {
  readonly memory: { readonly buffer: ArrayBuffer };
  begin(): void;
  segmentAt(): number;
  segmentBytes(): number;
  outputAt(): number;
  compress(n: number, last: number): number;
}

// Magic, deflate, no flags, no time, no extra flags, unknown OS.
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
const gzipAsync = promisify(gzip);

/** The DEFLATE module, or null without its file (see module-file.ts). */
export function gzipDeflateModule(): CompiledModule | null {
  return wasmModule('gzip-deflate.wasm');
}

/** zlib level 1 on the joined ranges, in libuv's thread pool. */
export class ZlibGzipBody implements GzipBody {
  readonly encoding = 'zlib';

  encode(ranges: readonly ByteRange[]): Promise<Buffer> {
    return gzipAsync(joined(ranges), { level: 1, chunkSize: 256 * 1024 });
  }
}

export class WasmGzipBody implements GzipBody {
  readonly encoding = 'webassembly';
  private readonly exports: DeflateExports;
  private readonly memory: Uint8Array;
  private readonly segmentBytes: number;
  private readonly output: number;
  private readonly fallback = new ZlibGzipBody();

  constructor(module: CompiledModule) {
    this.exports = instantiate<DeflateExports>(module);
    this.memory = new Uint8Array(this.exports.memory.buffer);
    this.segmentBytes = this.exports.segmentBytes();
    this.output = this.exports.outputAt();
  }

  encode(ranges: readonly ByteRange[]): Promise<Buffer> {
    try {
      return Promise.resolve(this.encodeNow(ranges));
    } catch {
      // A trap would be a bug in the module (every access is in bounds by construction): the
      // body still goes, compressed by zlib, rather than the batch failing for good.
      return this.fallback.encode(ranges);
    }
  }

  /** Synchronous: a 2 MiB body takes a few milliseconds. */
  encodeNow(ranges: readonly ByteRange[]): Buffer {
    const ex = this.exports;
    const memory = this.memory;
    const room = this.segmentBytes;
    const parts: Buffer[] = [GZIP_HEADER];
    let size = GZIP_HEADER.length;
    let crc = 0;
    let total = 0;
    ex.begin();
    let at = ex.segmentAt();
    let used = 0;
    const compress = (last: boolean): void => {
      crc = crc32(memory.subarray(at, at + used), crc);
      total += used;
      const n = ex.compress(used, last ? 1 : 0);
      const out = Buffer.allocUnsafe(n);
      out.set(memory.subarray(this.output, this.output + n));
      parts.push(out);
      size += n;
      at = ex.segmentAt();
      used = 0;
    };
    for (const r of ranges) {
      for (let from = r.from; from < r.to; ) {
        const n = Math.min(r.to - from, room - used);
        r.buffer.copy(memory, at + used, from, from + n);
        used += n;
        from += n;
        if (used === room) compress(false);
      }
    }
    compress(true);
    const trailer = Buffer.allocUnsafe(8);
    trailer.writeUInt32LE(crc >>> 0, 0);
    trailer.writeUInt32LE(total % 0x100000000, 4);
    parts.push(trailer);
    return Buffer.concat(parts, size + 8);
  }
}

/** Which encoder createGzipBody gives. */
export function gzipEncoding(): BodyEncoding {
  return gzipDeflateModule() === null ? 'zlib' : 'webassembly';
}

/** The WebAssembly encoder where its module is there, else zlib. */
export function createGzipBody(): GzipBody {
  const module = gzipDeflateModule();
  return module === null ? new ZlibGzipBody() : new WasmGzipBody(module);
}

function joined(ranges: readonly ByteRange[]): Buffer {
  if (ranges.length === 1) {
    const r = ranges[0] as ByteRange;
    return r.buffer.subarray(r.from, r.to);
  }
  return Buffer.concat(ranges.map((r) => r.buffer.subarray(r.from, r.to)));
}
