import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { eventText, RuntimeDecoder } from '../decode/runtime-decoder.js';
import { criWrap, dockerWrap, generateRelayLogs } from './kubelet-log-writer.js';
import { RelayRecordFactory } from './relay-records.js';

test('the same seed writes the same lines', () => {
  const a = new RelayRecordFactory(42);
  const b = new RelayRecordFactory(42);
  for (let i = 0; i < 200; i++)
    assert.deepEqual(a.next(1_721_990_400_000 + i), b.next(1_721_990_400_000 + i));
});

test('lines are shaped as the relay prints them', () => {
  const factory = new RelayRecordFactory(3);
  factory.longRecordRate = 0;
  const kinds = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const line = factory.next(1_721_990_400_000 + i * 10);
    kinds.set(line.kind, (kinds.get(line.kind) ?? 0) + 1);
    if (line.kind === 'relay') continue;
    assert.ok(!/[&<>]/.test(line.text), 'encoding/json escapes & < > as \\u00XX');
    const doc = JSON.parse(line.text) as Record<string, unknown>;
    const keys = Object.keys(doc);
    assert.deepEqual(keys.slice(0, 4), ['Timestamp', 'UpdatedTime', 'ClusterName', 'HostName']);
    assert.match(String(doc.UpdatedTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.equal(typeof doc.Timestamp, 'number');
    for (const v of Object.values(doc)) assert.ok(v !== '' && v !== null, 'empty fields are omitted');
    if (line.kind !== 'message') {
      assert.equal(typeof doc.PPID, 'number', 'PPID is always present');
      assert.equal(typeof doc.UID, 'number', 'UID is always present');
      const ed = doc.EventData as Record<string, string> | undefined;
      if (ed) assert.deepEqual(Object.keys(ed), Object.keys(ed).sort(), 'map keys are sorted');
    }
    if (line.kind === 'alert' && doc.PolicyName === 'DefaultPosture') assert.equal(doc.Severity, undefined);
  }
  const total = 3000;
  assert.ok((kinds.get('log') ?? 0) / total > 0.7);
  assert.ok((kinds.get('alert') ?? 0) / total > 0.1);
  assert.ok((kinds.get('message') ?? 0) > 0);
  assert.ok((kinds.get('relay') ?? 0) > 0);
});

for (const [runtime, wrap, partial] of [
  ['CRI P', criWrap, (l: string) => l.includes(' stdout P ')],
  ["docker's json-file", dockerWrap, (l: string) => l.startsWith('{') && !l.includes('\\n","stream"')],
] as const) {
  test(`a long line is split into ${runtime} pieces that decode back to it`, () => {
    const factory = new RelayRecordFactory(9);
    factory.longRecordRate = 1;
    let line = factory.next(1_721_990_400_000);
    while (line.kind !== 'alert' && line.kind !== 'log') line = factory.next(1_721_990_400_000);
    const wrapped = wrap(line, '2024-07-26T10:40:00.1Z', 1000);
    assert.ok(wrapped.toString().split('\n').filter(partial).length >= 1);
    const events: string[] = [];
    const decoder = new RuntimeDecoder(
      { onEvent: (e) => events.push(eventText(e)) },
      { maxEventBytes: 1 << 20 },
    );
    let from = 0;
    for (let nl = wrapped.indexOf(10); nl >= 0; nl = wrapped.indexOf(10, from)) {
      decoder.pushLine(wrapped, from, nl, from, nl + 1, false);
      from = nl + 1;
    }
    assert.deepEqual(events, [line.text]);
  });
}

test('rotating between pieces: rotated files end with the first piece of a line, the next file begins with the rest', async () => {
  const out = await mkdtemp(join(tmpdir(), 'between-pieces-'));
  try {
    const result = await generateRelayLogs({
      out,
      records: 4000,
      seed: 11,
      rotateBytes: 300_000,
      rotateBetweenPieces: true,
      maxFiles: 100,
      startMs: Date.parse('2024-07-26T10:00:00Z'),
    });
    assert.ok(result.rotations > 0);
    const texts = result.files.map((f) => {
      const bytes = readFileSync(f);
      return (f.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
    });
    let straddles = 0;
    for (let i = 0; i + 1 < texts.length; i++) {
      const last = (texts[i] as string).trimEnd().split('\n').at(-1) as string;
      if (!/^\S+ stdout P /.test(last)) continue;
      straddles++;
      // The rest: a piece of the same time that does not open a JSON object.
      const time = last.slice(0, last.indexOf(' '));
      assert.ok((texts[i + 1] as string).startsWith(`${time} stdout `), `file ${i + 1} begins with the rest`);
      assert.doesNotMatch(texts[i + 1] as string, /^\S+ stdout [PF] \{/);
    }
    // A rotation that is due waits for a split line (rare: ~0.3 % of alerts), up to twice the size.
    assert.ok(straddles > 0, `${straddles} of ${result.rotations} rotations between pieces`);
    // The line counts where it begins: the files hold every line once.
    const c = result.counts;
    assert.equal(c.alert + c.log + c.message + c.relay, 4000);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
