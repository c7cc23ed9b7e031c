// What the line reader reads from: a plain file through its FileHandle (kept open, so a renamed or
// deleted file stays readable), or a rotated `.gz` file decompressed as a stream, whose offsets are
// those of the uncompressed bytes, which are the bytes the file had before kubelet compressed it.
// Both hold their file open from the start: docker renames every rotated file on each rotation
// (`.1.gz` becomes `.2.gz`), so a name read again later may be another file, or none.
import { type FileHandle, open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';

export interface SourceStat {
  /** Bytes available (for a compressed source: decompressed so far, or all once the end was reached). */
  size: number;
  /** Hard links left: 0 once the file was deleted. */
  nlink: number;
}

export interface ByteSource {
  readonly compressed: boolean;
  /** Reads into `buf[off, off + len)` from byte `pos`; resolves to the count read, 0 at the end. */
  read(buf: Buffer, off: number, len: number, pos: number): Promise<number>;
  stat(): Promise<SourceStat>;
  close(): Promise<void>;
}

export class PlainFileSource implements ByteSource {
  readonly compressed = false;

  private constructor(private readonly fh: FileHandle) {}

  static async open(path: string): Promise<PlainFileSource> {
    return new PlainFileSource(await open(path, 'r'));
  }

  async read(buf: Buffer, off: number, len: number, pos: number): Promise<number> {
    const { bytesRead } = await this.fh.read(buf, off, len, pos);
    return bytesRead;
  }

  async stat(): Promise<SourceStat> {
    const st = await this.fh.stat();
    return { size: st.size, nlink: st.nlink };
  }

  /** The raw handle, for identity checks of the file under it. */
  get handle(): FileHandle {
    return this.fh;
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

/** Sequential reads of a gzip file; reading backwards restarts the decompression. */
export class GzipFileSource implements ByteSource {
  readonly compressed = true;
  private iterator: AsyncIterator<Buffer> | undefined;
  private stream: Gunzip | undefined;
  private file: Readable | undefined;
  private chunk: Buffer = Buffer.alloc(0);
  private chunkPos = 0;
  /** Uncompressed offset of `chunk[chunkPos]`. */
  private pos = 0;
  private ended = false;
  /** Set when the compressed data was damaged; the reader then stops here. */
  error: Error | undefined;

  private constructor(private readonly fh: FileHandle) {}

  static async open(path: string): Promise<GzipFileSource> {
    return new GzipFileSource(await open(path, 'r'));
  }

  private restart(): void {
    this.destroyStreams();
    // Not fs.createReadStream on the handle: its async iteration closes the descriptor when done.
    const file = Readable.from(piecesOf(this.fh), { objectMode: false });
    // Output in 256 KiB pieces, like the line reader's buffer: each piece is a round trip to
    // libuv's thread pool, and with 64 KiB the trips cost ~6 % of the shipper's CPU on a backlog
    // of rotated files.
    const gunzip = file.pipe(createGunzip({ chunkSize: 256 * 1024 }));
    // A damaged file must not leave an error unhandled on either stream.
    file.on('error', (err) => gunzip.destroy(err));
    this.file = file;
    this.stream = gunzip;
    this.iterator = gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    this.chunk = Buffer.alloc(0);
    this.chunkPos = 0;
    this.pos = 0;
    this.ended = false;
  }

  private async nextChunk(): Promise<boolean> {
    if (this.ended) return false;
    if (this.iterator === undefined) this.restart();
    try {
      const next = await (this.iterator as AsyncIterator<Buffer>).next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      this.chunk = next.value;
      this.chunkPos = 0;
      return true;
    } catch (err) {
      this.error = err as Error;
      this.ended = true;
      return false;
    }
  }

  async read(buf: Buffer, off: number, len: number, pos: number): Promise<number> {
    if (pos < this.pos) this.restart();
    // Skip forward to `pos` (resuming a checkpoint inside a compressed file).
    while (this.pos < pos) {
      if (this.chunkPos >= this.chunk.length && !(await this.nextChunk())) return 0;
      const skip = Math.min(pos - this.pos, this.chunk.length - this.chunkPos);
      this.chunkPos += skip;
      this.pos += skip;
    }
    let copied = 0;
    while (copied < len) {
      if (this.chunkPos >= this.chunk.length && !(await this.nextChunk())) break;
      const n = this.chunk.copy(
        buf,
        off + copied,
        this.chunkPos,
        Math.min(this.chunk.length, this.chunkPos + len - copied),
      );
      this.chunkPos += n;
      this.pos += n;
      copied += n;
      if (copied > 0 && this.chunkPos >= this.chunk.length) break;
    }
    return copied;
  }

  async stat(): Promise<SourceStat> {
    // A compressed rotated file never grows; its size is known once read to the end.
    const { nlink } = await this.fh.stat();
    return { size: this.ended ? this.pos : Number.MAX_SAFE_INTEGER, nlink };
  }

  async close(): Promise<void> {
    this.destroyStreams();
    this.ended = true;
    await this.fh.close().catch(() => undefined);
  }

  /** Drops the decompression state (after a look at the head); the next read starts over. */
  rewind(): void {
    this.destroyStreams();
    this.iterator = undefined;
    this.chunk = Buffer.alloc(0);
    this.chunkPos = 0;
    this.pos = 0;
    this.ended = false;
  }

  private destroyStreams(): void {
    this.file?.destroy();
    this.stream?.destroy();
    this.file = undefined;
    this.stream = undefined;
  }
}

/**
 * A file's bytes from byte 0, in 64 KiB pieces read at explicit positions: a restart (after a look
 * at the head, or reading backwards) starts over on the same open file.
 */
async function* piecesOf(fh: FileHandle): AsyncGenerator<Buffer> {
  for (let pos = 0; ; ) {
    const piece = Buffer.allocUnsafe(64 * 1024);
    const { bytesRead } = await fh.read(piece, 0, piece.length, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    yield piece.subarray(0, bytesRead);
  }
}

/** The first up to `max` bytes of a source (fewer if it is shorter). */
export async function readHead(source: ByteSource, max: number): Promise<Buffer> {
  const buf = Buffer.alloc(max);
  let got = 0;
  while (got < max) {
    const n = await source.read(buf, got, max - got, got);
    if (n === 0) break;
    got += n;
  }
  // A compressed file waiting its turn should not hold decompression buffers meanwhile.
  if (source instanceof GzipFileSource) source.rewind();
  return buf.subarray(0, got);
}
