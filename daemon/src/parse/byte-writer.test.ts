import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Random } from '../generate/relay-records.js';
import { ByteWriter, copyBytes, writeDigits } from './byte-writer.js';

test('digits are what Number#toString writes, in base 10 and 36', () => {
  const rnd = new Random(7);
  const values = [0, 1, 9, 10, 35, 36, 4096, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER];
  for (let n = 0; n < 2000; n++) values.push(Math.floor(rnd.next() * 10 ** rnd.int(1, 15)));
  const target = Buffer.alloc(32);
  for (const value of values)
    for (const radix of [10, 36] as const) {
      const end = writeDigits(value, radix, target, 3);
      assert.equal(target.toString('latin1', 3, end), value.toString(radix));
    }
});

test('copies, short and long, land where asked; the writer grows keeping what it has', () => {
  const source = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 251));
  const target = Buffer.alloc(400);
  for (const [from, to] of [
    [0, 0],
    [5, 12],
    [0, 31],
    [0, 32],
    [0, 63],
    [1, 65],
    [10, 300],
  ] as const) {
    target.fill(0);
    assert.equal(copyBytes(source, from, to, target, 7), 7 + to - from);
    assert.deepEqual(target.subarray(7, 7 + to - from), source.subarray(from, to));
    assert.equal(target[6], 0);
    assert.equal(target[7 + to - from], 0);
  }
  // A copy that does not fit throws, as `set` did, rather than cutting the bytes short.
  assert.throws(() => copyBytes(source, 0, 100, target, 350), RangeError);
  assert.throws(() => copyBytes(source, 250, 350, target, 0), RangeError);
  const w = new ByteWriter(8);
  w.ascii('{"a":');
  w.digits(12345, 10);
  w.bytes(source, 0, 100);
  w.utf8(',"ü":"é"}');
  const expected = Buffer.concat([
    Buffer.from('{"a":12345'),
    source.subarray(0, 100),
    Buffer.from(',"ü":"é"}'),
  ]);
  assert.deepEqual(w.buffer.subarray(0, w.length), expected);
});

test('JSON strings are what JSON.stringify writes, whatever the text', () => {
  const rnd = new Random(11);
  const alphabet = [
    'a',
    'Z',
    '0',
    ' ',
    '"',
    '\\',
    '\n',
    '\u0001',
    '\u007f',
    'é',
    '✓',
    '\ud83d\ude00',
    '\ud800',
    ':',
    '.',
  ];
  const texts = ['', '2024-07-26T10:41:48.000000001Z'];
  for (let n = 0; n < 3000; n++) {
    let text = '';
    for (let k = rnd.int(0, 40); k > 0; k--) text += rnd.next() < 0.9 ? 'x' : rnd.pick(alphabet);
    texts.push(text);
  }
  const w = new ByteWriter(4);
  for (const text of texts) {
    w.reset();
    w.ascii('[');
    w.jsonString(text);
    assert.equal(w.buffer.toString('utf8', 0, w.length), `[${JSON.stringify(text)}`);
  }
});

test('a writer grown for one long value lets it go at the next reset', () => {
  const w = new ByteWriter(16);
  w.utf8('x'.repeat(200_000));
  assert.ok(w.buffer.length >= 200_000);
  w.reset();
  assert.equal(w.length, 0);
  assert.equal(w.buffer.length, 16);
  w.ascii('small');
  const kept = w.buffer;
  w.reset();
  assert.equal(w.buffer, kept, 'a buffer within the size kept is reused');
});
