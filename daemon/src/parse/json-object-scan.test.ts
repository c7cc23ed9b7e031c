import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lines from '../../test/fixtures/kubearmor-lines.js';
import { mutate, parsedObject, wellFormed } from '../../test/support/json-text.js';
import { Random, RelayRecordFactory } from '../generate/relay-records.js';
import {
  JsonObjectScanner,
  type ObjectScanner,
  SCAN_INVALID,
  SCAN_OBJECT,
  SCAN_UNSURE,
} from './json-object-scan.js';
import { jsonScanModule, WasmJsonObjectScanner } from './json-object-scan-wasm.js';

const MEMBERS = ['Type', 'Timestamp', 'UpdatedTime', 'ATags', 'Owner', 'a', 'b', 'é'];

/**
 * The scanner against JSON.parse on one input: the same verdict, and for an object each chosen
 * member's value span decodes (with JSON.parse) to what JSON.parse gave for it.
 */
function agree(scanner: ObjectScanner, text: string): number {
  const bytes = Buffer.from(text);
  const outcome = scanner.scan(bytes, 0, bytes.length);
  if (outcome === SCAN_UNSURE) return outcome;
  const expected = parsedObject(text);
  const isObject = text.trimStart().startsWith('{') && expected !== undefined;
  assert.equal(outcome === SCAN_OBJECT, isObject, `verdict on ${JSON.stringify(text.slice(0, 300))}`);
  if (outcome !== SCAN_OBJECT || expected === undefined) return outcome;
  assert.equal(scanner.closeAt, bytes.lastIndexOf('}'), 'closing brace');
  MEMBERS.forEach((name, k) => {
    const start = scanner.valueStart[k] as number;
    const own = Object.hasOwn(expected, name);
    assert.equal(start >= 0, own, `${name} present in ${text.slice(0, 200)}`);
    if (!own) return;
    const raw = bytes.toString('utf8', start, scanner.valueEnd[k]);
    assert.deepEqual(JSON.parse(raw), expected[name], `${name} of ${text.slice(0, 200)}`);
    assert.equal(scanner.valueEscaped[k] === 1, raw.startsWith('"') && raw.includes('\\'), `${name} escaped`);
  });
  return outcome;
}

/** A random JSON value (as text, with random whitespace), nesting up to `depth`. */
function randomJson(rnd: Random, depth: number): string {
  const ws = () => rnd.pick(['', '', '', ' ', '\t', '\n', '\r\n ', '  ']);
  const kind = depth <= 0 ? rnd.int(0, 3) : rnd.int(0, 5);
  switch (kind) {
    case 0:
      return rnd.pick(['true', 'false', 'null']);
    case 1:
      return rnd.pick([
        '0',
        '-0',
        '7',
        '-12',
        '3.25',
        '1e5',
        '1E-7',
        '-0.0e+0',
        '123456789012345678901234',
        '2.5e308',
      ]);
    case 2:
    case 3: {
      const pieces = [
        'a',
        'Type',
        'é',
        '✓',
        '😀',
        '\\n',
        '\\"',
        '\\\\',
        '\\/',
        '\\u0026',
        '\\uD83D\\uDE00',
        '\\ud800',
        ' ',
        '{',
        ']',
        ':',
        ',',
      ];
      let s = '';
      for (let n = rnd.int(0, 5); n > 0; n--) s += rnd.pick(pieces);
      return `"${s}"`;
    }
    case 4: {
      const items: string[] = [];
      for (let n = rnd.int(0, 4); n > 0; n--) items.push(`${ws()}${randomJson(rnd, depth - 1)}${ws()}`);
      return `[${items.join(',')}${items.length === 0 ? ws() : ''}]`;
    }
    default:
      return randomObject(rnd, depth, ws);
  }
}

function randomObject(rnd: Random, depth: number, ws: () => string): string {
  const members: string[] = [];
  for (let n = rnd.int(0, 6); n > 0; n--) {
    const name = rnd.pick([
      'a',
      'b',
      'Type',
      'Timestamp',
      'ATags',
      'é',
      'x\\u0079',
      'Owner',
      '',
      'Typ',
      'Types',
    ]);
    members.push(`${ws()}"${name}"${ws()}:${ws()}${randomJson(rnd, depth - 1)}${ws()}`);
  }
  return `{${members.join(',')}${members.length === 0 ? ws() : ''}}`;
}

/** The WebAssembly scan: its module must have been built (npm test builds it first). */
function wasmScanner(members: readonly string[]): ObjectScanner {
  const module = jsonScanModule();
  assert.ok(module !== null, 'dist/json-object-scan.wasm is missing: run `npm run build`');
  return new WasmJsonObjectScanner(module, members);
}

const scanners: [string, (members: readonly string[]) => ObjectScanner][] = [
  ['JavaScript', (members) => new JsonObjectScanner(members)],
  ['WebAssembly', wasmScanner],
];

for (const [kind, makeScanner] of scanners)
  describe(`JSON object scan (${kind})`, () => {
    const scanner = makeScanner(MEMBERS);

    test('KubeArmor records: objects, with the chosen members where JSON.parse has them', () => {
      const factory = new RelayRecordFactory(11);
      let objects = 0;
      for (let n = 0; n < 3000; n++) {
        if (agree(scanner, factory.next(1721990400000 + n).text) === SCAN_OBJECT) objects++;
      }
      for (const line of Object.values(lines)) agree(scanner, line);
      assert.ok(objects > 2500, `${objects} objects`);
    });

    test('random JSON, valid and broken, gets the same verdict as JSON.parse', () => {
      const rnd = new Random(7);
      let valid = 0;
      let invalid = 0;
      for (let n = 0; n < 20000; n++) {
        const ws = () => rnd.pick(['', ' ', '\n']);
        let text = n % 4 === 0 ? randomJson(rnd, 4) : randomObject(rnd, 4, ws);
        for (let edits = n % 3; edits > 0; edits--) text = mutate(rnd, text);
        if (!wellFormed(text)) continue;
        if (agree(scanner, text) === SCAN_OBJECT) valid++;
        else invalid++;
      }
      // Both verdicts well represented, or the comparison proves little.
      assert.ok(valid > 5000 && invalid > 5000, `${valid} valid, ${invalid} invalid`);
    });

    test('mutated KubeArmor lines get the same verdict as JSON.parse', () => {
      const rnd = new Random(3);
      const originals = Object.values(lines);
      for (let n = 0; n < 5000; n++) {
        let text = rnd.pick(originals);
        for (let edits = rnd.int(1, 2); edits > 0; edits--) text = mutate(rnd, text);
        if (wellFormed(text)) agree(scanner, text);
      }
    });

    test('the corners of the grammar', () => {
      const invalid = [
        '',
        ' ',
        '{',
        '}',
        '{"a":01}',
        '{"a":1.}',
        '{"a":.5}',
        '{"a":-}',
        '{"a":1e}',
        '{"a":1e+}',
        '{"a":+1}',
        '{"a":0x1}',
        '{"a":"\\u12"}',
        '{"a":"\\u12g4"}',
        '{"a":"\\x"}',
        '{"a":"\\\'"}',
        '{"a":"tab\there"}',
        '{"a":tru}',
        '{"a":nulll}',
        '{"a":True}',
        '{,}',
        '{"a":1,}',
        '{"a":[1,]}',
        '{"a" 1}',
        '{"a":1}}',
        '{"a":[}',
        '{"a":{]}',
        '{"a":1 "b":2}',
        '{a:1}',
        "{'a':1}",
        '{"a":1}x',
        '{"a":NaN}',
        '{"a":Infinity}',
        '{"a":"unterminated}',
        '\u00a0{"a":1}',
        '\ufeff{"a":1}',
        '{"a":1}\u00a0',
      ];
      for (const text of invalid) assert.equal(agree(scanner, text), SCAN_INVALID, text);
      const valid = [
        '{}',
        ' \t\r\n{ } \n',
        '{"a":-0.0e-0}',
        '{"a":[],"b":{}}',
        '{"a":[[]],"b":[{}]}',
        '{"a":1,"a":2}',
        '{"b":"\\u00e9\\/\\b\\f\\n\\r\\t\\"\\\\"}',
        '{"é":"ü","a":"😀"}',
        '{"Type" : "HostLog" , "Timestamp" : 1 }',
        '{"Owner":{"Type":"nested"},"Type":"top"}',
      ];
      for (const text of valid) assert.equal(agree(scanner, text), SCAN_OBJECT, text);
    });

    test('an escaped top-level name or very deep nesting is left to JSON.parse', () => {
      const b = (s: string) => Buffer.from(s);
      const escaped = b('{"T\\u0079pe":"HostLog"}');
      assert.equal(scanner.scan(escaped, 0, escaped.length), SCAN_UNSURE);
      const nestedName = b('{"a":{"T\\u0079pe":1}}');
      assert.equal(scanner.scan(nestedName, 0, nestedName.length), SCAN_OBJECT);
      const deep = b(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`);
      assert.equal(scanner.scan(deep, 0, deep.length), SCAN_UNSURE);
      const deepBroken = b(`${'['.repeat(1000)}`);
      assert.equal(scanner.scan(deepBroken, 0, deepBroken.length), SCAN_INVALID);
    });

    test('a span of a larger buffer: only [from, to) counts', () => {
      const b = Buffer.from('xx{"a":1}yy');
      assert.equal(scanner.scan(b, 2, 9), SCAN_OBJECT);
      assert.equal(scanner.scan(b, 2, 8), SCAN_INVALID);
      assert.equal(scanner.scan(b, 2, 10), SCAN_INVALID);
    });

    test('a quote, escape or control character at every place of the 16-byte blocks', () => {
      // The WebAssembly scan looks at a string sixteen bytes at a time: what it finds must be the
      // first special byte, wherever it falls in or across a block.
      for (let length = 0; length <= 40; length++) {
        for (let at = 0; at <= length; at++) {
          for (const special of ['\\"', '\\n', '\\u00e9', '\t', '\u0001', 'é', '"']) {
            const value = `${'x'.repeat(at)}${special}${'y'.repeat(length - at)}`;
            agree(scanner, `{"a":"${value}","b":"${'z'.repeat(length)}"}`);
            agree(scanner, `{"${'k'.repeat(length)}":1,"a":"${value}"}`);
          }
        }
      }
    });

    test('a line longer than the WebAssembly input area: the same verdict and spans', () => {
      const long = `{"a":"${'x'.repeat(2 << 20)}","Type":"MatchedPolicy","b":[1,{"c":"\\u00e9"}]}`;
      assert.equal(agree(scanner, long), SCAN_OBJECT);
      assert.equal(agree(scanner, `${long.slice(0, -1)},}`), SCAN_INVALID);
      // And a short one right after it.
      assert.equal(agree(scanner, '{"Type":"Log","a":1}'), SCAN_OBJECT);
    });
  });

test('WebAssembly scan: if the module traps, the JavaScript scan gives the line its verdict', () => {
  const scanner = wasmScanner(MEMBERS);
  // Stand in for a bug in the module: its scan traps.
  (scanner as unknown as { exports: { scan: () => number } }).exports = {
    ...(scanner as unknown as { exports: object }).exports,
    scan: () => {
      throw new Error('RuntimeError: memory access out of bounds');
    },
  };
  assert.equal(agree(scanner, '{"Type":"MatchedPolicy","a":[1,{"b":"\\u00e9"}],"Timestamp":1}'), SCAN_OBJECT);
  assert.equal(agree(scanner, '{"Type":"MatchedPolicy",}'), SCAN_INVALID);
});

test('WebAssembly scan: chosen names that share a hash slot are still told apart', () => {
  // Same length and end bytes: the same slot of the module's name lookup.
  const names = ['axb', 'ayb', 'azb', 'Type'];
  const scanner = wasmScanner(names);
  const text = '{"azb":"third","awb":0,"axb":[1],"Type":"Log","ayb":{"axb":2}}';
  const bytes = Buffer.from(text);
  assert.equal(scanner.scan(bytes, 0, bytes.length), SCAN_OBJECT);
  const value = (b: Buffer, k: number) =>
    (scanner.valueStart[k] as number) < 0
      ? undefined
      : JSON.parse(b.toString('utf8', scanner.valueStart[k], scanner.valueEnd[k]));
  assert.deepEqual(
    names.map((_, k) => value(bytes, k)),
    [[1], { axb: 2 }, 'third', 'Log'],
  );
  const without = Buffer.from('{"awb":1,"Type":"Log"}');
  assert.equal(scanner.scan(without, 0, without.length), SCAN_OBJECT);
  assert.deepEqual(
    names.map((_, k) => value(without, k)),
    [undefined, undefined, undefined, 'Log'],
  );
});
