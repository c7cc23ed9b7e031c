import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
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
  const lines: { text: string; offset: number; end: number; truncated: boolean; utf8: boolean }[] = [];
  const reader = new LineReader(
    source(data, step),
    start,
    {
      onLine: (buf, from, to, offset, end, truncated, utf8) => {
        // A line said to be valid UTF-8 must be.
        if (utf8) assert.ok(isUtf8(buf.subarray(from, to)), 'a line said to be UTF-8 is not');
        lines.push({ text: buf.toString('utf8', from, to), offset, end, truncated, utf8 });
      },
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

test('lines of a read are said to be valid UTF-8 only when every line of it is', async () => {
  const bad = Buffer.concat([
    Buffer.from('good ✓\nbad '),
    Buffer.from([0xc3, 0x28]),
    Buffer.from('\nalso good\n'),
  ]);
  const whole = await readAll(bad, { bufferBytes: 64, maxLineBytes: 64 }, 64);
  assert.deepEqual(
    whole.lines.map((l) => l.utf8),
    [false, false, false],
  );
  const clean = await readAll(Buffer.from('good ✓\nalso good\n'), { bufferBytes: 64, maxLineBytes: 64 }, 64);
  assert.deepEqual(
    clean.lines.map((l) => l.utf8),
    [true, true],
  );
  // Read in small pieces, the bad line's reads are unchecked and the others' are not.
  const pieces = await readAll(bad, { bufferBytes: 8, maxLineBytes: 64 }, 3);
  assert.equal(pieces.lines.length, 3);
  assert.equal(pieces.lines[1]?.utf8, false);
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

test('a run of NUL bytes (a hole an unclean shutdown left) ends the line before it and is skipped; the line after it is its own, at its offset', async () => {
  // A line cut short by the hole, a hole longer than the buffer, the runtime's next line right
  // after it; a hole at a line's start; one NUL inside a line.
  const data = Buffer.concat([
    Buffer.from('first\n2024-07-26T10:00:00Z stdout F {"Timest'),
    Buffer.alloc(300),
    Buffer.from('2024-07-26T10:05:00Z stdout F {"Type":"MatchedPolicy"}\n'),
    Buffer.alloc(5),
    Buffer.from('after a hole at the start\na\u0000b\nend\n'),
  ]);
  for (const [bufferBytes, step] of [
    [16, 7],
    [64, 1],
    [4096, 4096],
  ] as const) {
    const zeros: [number, number][] = [];
    const lines: [string, number, number][] = [];
    const reader = new LineReader(
      source(data, step),
      0,
      {
        onLine: (buf, from, to, offset, end) => {
          lines.push([buf.toString('utf8', from, to), offset, end]);
        },
        onZeros: (offset, bytes) => {
          zeros.push([offset, bytes]);
        },
      },
      { bufferBytes, maxLineBytes: 128 },
    );
    while ((await reader.readChunk()) > 0);
    const holeAt = data.indexOf(0);
    const nextAt = holeAt + 300;
    const secondHole = data.indexOf('\n', nextAt) + 1;
    const expected: [string, number, number][] = [
      ['first', 0, 6],
      ['2024-07-26T10:00:00Z stdout F {"Timest', 6, holeAt],
      ['2024-07-26T10:05:00Z stdout F {"Type":"MatchedPolicy"}', nextAt, secondHole],
      ['after a hole at the start', secondHole + 5, secondHole + 31],
      ['a', secondHole + 31, secondHole + 32],
      ['b', secondHole + 33, secondHole + 35],
      ['end', secondHole + 35, data.length],
    ];
    assert.deepEqual(lines, expected, `buffer ${bufferBytes}, reads of ${step}`);
    // A hole may come in several runs (reads end inside it); its bytes are all counted once.
    assert.equal(
      zeros.reduce((n, [, b]) => n + b, 0),
      306,
    );
    assert.deepEqual(zeros[0]?.[0], holeAt);
    assert.equal(reader.consumed, data.length);
  }
});

test('a piece cut by a hole after the read’s last newline is not said to be valid UTF-8 unchecked', async () => {
  const data = Buffer.concat([
    Buffer.from('ok\ncut'),
    Buffer.from([0xff]),
    Buffer.alloc(20),
    Buffer.from('next\n'),
  ]);
  // The first read ends inside the hole: its only newline is before the cut piece.
  const { lines } = await readAll(data, { bufferBytes: 64, maxLineBytes: 64 }, 12);
  assert.deepEqual(
    lines.map((l) => [l.text, l.utf8]),
    [
      ['ok', true],
      ['cut\ufffd', false],
      ['next', true],
    ],
  );
});
