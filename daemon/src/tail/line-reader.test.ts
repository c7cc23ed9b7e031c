import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ByteSource } from './byte-source.js';
import { LineReader } from './line-reader.js';

/** An in-memory source that hands out at most `step` bytes per read, to cut lines anywhere. */
function source(data: Buffer, step = 7): ByteSource {
  return {
    compressed: false,
    async read(buf, off, len, pos) {
      const n = Math.max(0, Math.min(len, step, data.length - pos));
      data.copy(buf, off, pos, pos + n);
      return n;
    },
    async stat() {
      return { size: data.length, nlink: 1 };
    },
    async close() {},
  };
}

async function readAll(
  data: Buffer,
  opts: { bufferBytes: number; maxLineBytes: number },
  step = 7,
  start = 0,
) {
  const lines: { text: string; offset: number; end: number; truncated: boolean }[] = [];
  const reader = new LineReader(
    source(data, step),
    start,
    {
      onLine: (buf, from, to, offset, end, truncated) =>
        lines.push({ text: buf.toString('utf8', from, to), offset, end, truncated }),
    },
    opts,
  );
  while ((await reader.readChunk()) > 0);
  return { lines, reader };
}

test('lines split at any chunk boundary come out whole, with byte offsets', async () => {
  const text = 'alpha\nβeta ✓\n\ngamma\nincomplete';
  const { lines, reader } = await readAll(Buffer.from(text), { bufferBytes: 8, maxLineBytes: 64 }, 3);
  assert.deepEqual(
    lines.map((l) => [l.text, l.offset, l.end]),
    [
      ['alpha', 0, 6],
      ['βeta ✓', 6, 16],
      ['', 16, 17],
      ['gamma', 17, 23],
    ],
  );
  assert.equal(reader.consumed, 23);
  assert.equal(reader.pendingBytes, 'incomplete'.length);
});

test('resuming at an offset reads from there', async () => {
  const { lines } = await readAll(
    Buffer.from('one\ntwo\nthree\n'),
    { bufferBytes: 16, maxLineBytes: 64 },
    5,
    4,
  );
  assert.deepEqual(
    lines.map((l) => l.text),
    ['two', 'three'],
  );
});

test('an over-long line is cut to the limit and flagged; the file goes on', async () => {
  const long = 'x'.repeat(1000);
  const data = Buffer.from(`short\n${long}\nafter\n`);
  const { lines, reader } = await readAll(data, { bufferBytes: 16, maxLineBytes: 64 }, 13);
  assert.deepEqual(
    lines.map((l) => [l.text.length, l.offset, l.end, l.truncated]),
    [
      [5, 0, 6, false],
      [64, 6, 1007, true],
      [5, 1007, 1013, false],
    ],
  );
  assert.equal(reader.skippedBytes, 1000 - 64);
  // The buffer went back to its usual size.
  assert.equal(reader.memoryBytes, 16);
});

test('the buffer grows for a long line within the limit', async () => {
  const line = 'y'.repeat(100);
  const { lines } = await readAll(Buffer.from(`${line}\nz\n`), { bufferBytes: 16, maxLineBytes: 256 }, 50);
  assert.deepEqual(
    lines.map((l) => [l.text, l.truncated]),
    [
      [line, false],
      ['z', false],
    ],
  );
});
