import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Random, RelayRecordFactory } from '../generate/relay-records.js';
import { type ByteRange, gzipDeflateModule, WasmGzipBody } from './gzip-body.js';

function encoder(): WasmGzipBody {
  const module = gzipDeflateModule();
  assert.ok(module !== null, 'dist/gzip-deflate.wasm is missing: run `npm run build`');
  return new WasmGzipBody(module);
}

/** The bytes as ranges of random lengths (documents straddle the encoder's segments). */
function split(bytes: Buffer, rnd: Random, longest: number): ByteRange[] {
  const ranges: ByteRange[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = Math.min(bytes.length - at, rnd.int(0, longest));
    ranges.push({ buffer: bytes, from: at, to: at + n });
    at += n;
  }
  return ranges;
}

function roundTrip(
  gz: WasmGzipBody,
  bytes: Buffer,
  ranges: ByteRange[] = [{ buffer: bytes, from: 0, to: bytes.length }],
): Buffer {
  const out = gz.encodeNow(ranges);
  // gunzip checks the CRC-32 and the length in the trailer too.
  assert.ok(gunzipSync(out).equals(bytes), `round trip of ${bytes.length} bytes`);
  return out;
}

/** Realistic bulk body: action and document lines of generated relay records. */
function bulkBody(records: number, seed: number): Buffer {
  const factory = new RelayRecordFactory(seed);
  const lines: string[] = [];
  for (let i = 0; i < records; i++) {
    const line = factory.next(1_721_988_000_000 + i * 37);
    lines.push(
      `{"create":{"_index":"kubearmor-${line.kind}-2024.07.26","_id":"id-${seed}-${i}"}}`,
      line.text,
    );
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

test('gzip bodies: edge sizes, incompressible bytes, runs and repeats at the window edge', () => {
  const gz = encoder();
  const rnd = new Random(7);
  const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => rnd.int(0, 255)));
  assert.ok(gunzipSync(gz.encodeNow([])).length === 0);
  for (const n of [0, 1, 7, 8, 9, 15, 16, 17, 100]) roundTrip(gz, randomBytes(n));
  // Incompressible: sent stored, barely bigger than the bytes.
  const noise = randomBytes(1_500_000);
  assert.ok(roundTrip(gz, noise).length < noise.length * 1.001 + 64);
  // One byte over and over (matches overlapping themselves), longer than a segment.
  const run = Buffer.alloc(1_200_000, 0x61);
  assert.ok(roundTrip(gz, run).length < 10_000);
  // A block of noise repeated at distances at and just past the 32 KiB window.
  const piece = randomBytes(4000);
  for (const gap of [32768 - 4000, 32768 - 3999, 40000]) {
    roundTrip(gz, Buffer.concat([piece, randomBytes(gap), piece, piece]));
  }
  // Exactly one and two segments, and one byte either side.
  for (const n of [512 * 1024 - 1, 512 * 1024, 512 * 1024 + 1, 1024 * 1024]) {
    roundTrip(gz, Buffer.concat([randomBytes(n >> 1), Buffer.alloc(n - (n >> 1), 0x7b)]));
  }
});

test('gzip bodies: random text with random repeats, as random ranges, always decompress to the bytes', () => {
  const gz = encoder();
  const rnd = new Random(42);
  for (let round = 0; round < 60; round++) {
    const size = rnd.int(0, round % 10 === 0 ? 1_300_000 : 60_000);
    const bytes = Buffer.alloc(size);
    const alphabet = rnd.int(1, 256);
    for (let at = 0; at < size; ) {
      const back = rnd.int(1, Math.min(at, 40_000));
      if (at > 0 && rnd.next() < 0.6) {
        // A copy of what came earlier (possibly overlapping itself).
        const n = Math.min(size - at, rnd.int(1, 600));
        for (let k = 0; k < n; k++) bytes[at + k] = bytes[at + k - back] as number;
        at += n;
      } else {
        const n = Math.min(size - at, rnd.int(1, 40));
        for (let k = 0; k < n; k++) bytes[at + k] = rnd.int(0, alphabet - 1);
        at += n;
      }
    }
    roundTrip(gz, bytes, split(bytes, rnd, rnd.pick([10, 5000, 700_000])));
  }
});

test('gzip bodies: bulk bodies compress about as well as zlib level 1', () => {
  const gz = encoder();
  const body = bulkBody(3000, 3);
  const ours = roundTrip(gz, body, split(body, new Random(1), 3000)).length;
  const zlib = gzipSync(body, { level: 1 }).length;
  // Matching broken (literals only) would be ~4x zlib's size.
  assert.ok(ours < zlib * 1.2, `${ours} bytes against zlib level 1's ${zlib}`);
  // The encoder starts afresh for each body.
  roundTrip(gz, bulkBody(500, 4));
  roundTrip(gz, body);
});
