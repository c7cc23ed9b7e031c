import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, test } from 'node:test';
import { containerAlertBlock, daemonMessage } from '../../test/fixtures/kubearmor-lines.js';
import { detectFormat, eventText, RuntimeDecoder, type RuntimeEvent } from './runtime-decoder.js';

/** An event as a sink saw it, its content as text. */
type Seen = Omit<RuntimeEvent, 'content' | 'contentFrom' | 'contentTo'> & { content: string };

/** Feeds `text` (complete lines) through a decoder the way the reader does, offsets included. */
function decode(text: string | Buffer, maxEventBytes = 1 << 20): { events: Seen[]; decoder: RuntimeDecoder } {
  const events: Seen[] = [];
  const decoder = new RuntimeDecoder(
    {
      onEvent: (e) => {
        // The content goes into requests as bytes: it is valid UTF-8 whatever came in.
        assert.ok(isUtf8(e.content.subarray(e.contentFrom, e.contentTo)), 'content is not UTF-8');
        events.push({ ...e, time: e.time, content: eventText(e) });
      },
    },
    { maxEventBytes },
  );
  feed(decoder, text);
  return { events, decoder };
}

function feed(decoder: RuntimeDecoder, text: string | Buffer): void {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  let from = 0;
  for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10, from)) {
    decoder.pushLine(buf, from, nl, from, nl + 1, false);
    from = nl + 1;
  }
}

describe('format detection', () => {
  test('CRI, docker json-file and anything else', () => {
    const b = (s: string) => Buffer.from(s);
    const cri = b('2024-07-26T10:40:00.120871513Z stdout F {"a":1}');
    assert.equal(detectFormat(cri, 0, cri.length), 'cri');
    const docker = b('{"log":"hello\\n","stream":"stdout","time":"2024-07-26T10:40:00.120871513Z"}');
    assert.equal(detectFormat(docker, 0, docker.length), 'docker');
    const plain = b(containerAlertBlock);
    assert.equal(detectFormat(plain, 0, plain.length), 'raw');
    const klog = b('E1009 11:24:17.445983       1 reflector.go:200] "Failed to watch"');
    assert.equal(detectFormat(klog, 0, klog.length), 'raw');
  });
});

describe('CRI', () => {
  test('a full line: time, stream, content and byte range', () => {
    const line = `2024-07-26T10:40:00.120871513Z stdout F ${daemonMessage}\n`;
    const { events } = decode(`${line}${line}`);
    assert.equal(events.length, 2);
    const [first, second] = events as [Seen, Seen];
    assert.equal(first.format, 'cri');
    assert.equal(first.stream, 'stdout');
    assert.equal(first.time, '2024-07-26T10:40:00.120871513Z');
    assert.equal(first.content, daemonMessage);
    assert.deepEqual(
      [first.start, first.end, second.start, second.end],
      [0, line.length, line.length, 2 * line.length],
    );
    assert.equal(first.parts, 1);
    assert.equal(first.truncated || first.invalidUtf8 || first.undecodable, false);
  });

  test('offsets are bytes, not characters', () => {
    const l1 = '2024-07-26T10:40:00.000000001Z stdout F héllo wörld ✓\n';
    const l2 = '2024-07-26T10:40:00.000000002Z stdout F next\n';
    const { events } = decode(l1 + l2);
    assert.equal(events[1]?.start, Buffer.byteLength(l1));
    assert.ok(Buffer.byteLength(l1) > l1.length);
    assert.equal(events[0]?.content, 'héllo wörld ✓');
  });

  test('P…P F pieces are rejoined per stream, even when the other stream interleaves', () => {
    const lines = [
      '2024-01-01T00:00:00.000000001Z stdout P {"Timestamp":1,',
      '2024-01-01T00:00:00.000000002Z stderr P zap ',
      '2024-01-01T00:00:00.000000003Z stdout P "Type":',
      '2024-01-01T00:00:00.000000004Z stderr F says hi',
      '2024-01-01T00:00:00.000000005Z stdout F "Message"}',
    ].map((l) => `${l}\n`);
    const offsets = lines.map((_, i) => lines.slice(0, i).reduce((n, l) => n + l.length, 0));
    const { events } = decode(lines.join(''));
    assert.deepEqual(
      events.map((e) => [e.stream, e.content, e.start, e.end, e.parts, e.time]),
      [
        ['stderr', 'zap says hi', offsets[1], offsets[4], 2, '2024-01-01T00:00:00.000000002Z'],
        [
          'stdout',
          '{"Timestamp":1,"Type":"Message"}',
          offsets[0],
          lines.join('').length,
          3,
          '2024-01-01T00:00:00.000000001Z',
        ],
      ],
    );
  });

  test('an open partial holds the checkpoint back to its first piece', () => {
    const p = '2024-01-01T00:00:00.000000001Z stdout P part\n';
    const f = '2024-01-01T00:00:00.000000002Z stderr F other\n';
    const { decoder, events } = decode(p + f);
    assert.equal(events.length, 1);
    assert.equal(decoder.openEventStart(), 0);
    decoder.pushLine(Buffer.from('2024-01-01T00:00:00.000000003Z stdout F end'), 0, 43, 200, 244, false);
    assert.equal(decoder.openEventStart(), undefined);
    assert.equal(events[1]?.content, 'partend');
  });

  test('an event over the size limit is truncated and flagged, and the next event is intact', () => {
    const piece = 'x'.repeat(40);
    const lines = `${[1, 2, 3, 4].map((i) => `2024-01-01T00:00:00.00000000${i}Z stdout P ${piece}\n`).join('')}2024-01-01T00:00:00.000000005Z stdout F end\n2024-01-01T00:00:00.000000006Z stdout F ok\n`;
    const { events } = decode(lines, 100);
    assert.equal(events.length, 2);
    assert.equal(events[0]?.truncated, true);
    assert.equal(events[0]?.content.length, 100);
    assert.equal(events[0]?.parts, 5);
    assert.equal(events[1]?.content, 'ok');
    assert.equal(events[1]?.truncated, false);
  });

  test('a single line over the limit is truncated', () => {
    const { events } = decode(`2024-01-01T00:00:00.000000001Z stdout F ${'y'.repeat(500)}\n`, 64);
    assert.equal(events[0]?.content, 'y'.repeat(64));
    assert.equal(events[0]?.truncated, true);
  });

  test('invalid UTF-8 is kept readable with replacement characters and flagged', () => {
    const bytes = Buffer.concat([
      Buffer.from('2024-01-01T00:00:00.000000001Z stdout F bad '),
      Buffer.from([0xff, 0xfe, 0x41]),
      Buffer.from('\n2024-01-01T00:00:00.000000002Z stdout F gööd\n'),
    ]);
    const { events } = decode(bytes);
    assert.equal(events[0]?.content, 'bad \uFFFD\uFFFDA');
    assert.equal(events[0]?.invalidUtf8, true);
    assert.equal(events[1]?.invalidUtf8, false);
  });

  test('a multi-byte character split across P pieces is valid once rejoined', () => {
    const euro = Buffer.from('€'); // 3 bytes
    const bytes = Buffer.concat([
      Buffer.from('2024-01-01T00:00:00.000000001Z stdout P a'),
      euro.subarray(0, 1),
      Buffer.from('\n2024-01-01T00:00:00.000000002Z stdout F '),
      euro.subarray(1),
      Buffer.from('b\n'),
    ]);
    const { events } = decode(bytes);
    assert.equal(events[0]?.content, 'a€b');
    assert.equal(events[0]?.invalidUtf8, false);
  });

  test('a line that is not CRI inside a CRI file is flagged undecodable, not dropped', () => {
    const { events } = decode('2024-01-01T00:00:00.000000001Z stdout F ok\ngarbage without fields\n');
    assert.equal(events[1]?.undecodable, true);
    assert.equal(events[1]?.content, 'garbage without fields');
    assert.equal(events[1]?.stream, 'unknown');
  });

  test('an empty final piece and an empty line', () => {
    const { events } = decode(
      '2024-01-01T00:00:00.000000001Z stdout P abc\n2024-01-01T00:00:00.000000002Z stdout F\n',
    );
    assert.equal(events[0]?.content, 'abc');
    assert.equal(events[0]?.undecodable, false);
  });
});

describe('docker json-file', () => {
  const wrap = (log: string, stream = 'stdout', time = '2024-07-26T10:40:00.120871513Z') =>
    `${JSON.stringify({ log, stream, time })}\n`;

  test('a complete line loses its newline; time and stream come from the wrapper', () => {
    const { events } = decode(wrap(`${daemonMessage}\n`));
    assert.equal(events[0]?.format, 'docker');
    assert.equal(events[0]?.content, daemonMessage);
    assert.equal(events[0]?.time, '2024-07-26T10:40:00.120871513Z');
  });

  test('16 KiB pieces (no trailing newline) are rejoined per stream', () => {
    const a = wrap('{"Timestamp":1,');
    const b = wrap('err piece\n', 'stderr');
    const c = wrap('"Type":"Message"}\n');
    const { events } = decode(a + b + c);
    assert.deepEqual(
      events.map((e) => [e.stream, e.content, e.start, e.end, e.parts]),
      [
        ['stderr', 'err piece', a.length, a.length + b.length, 1],
        ['stdout', '{"Timestamp":1,"Type":"Message"}', 0, a.length + b.length + c.length, 2],
      ],
    );
  });

  test('a broken wrapper is flagged undecodable', () => {
    const { events } = decode(`${wrap('fine\n')}{"log":"cut off\n`);
    assert.equal(events[1]?.undecodable, true);
    assert.equal(events[1]?.content, '{"log":"cut off');
  });

  test('pieces left open when the file ends are flushed as a docker event, empty pieces too', () => {
    const a = wrap('{"Timestamp":1,');
    const { events, decoder } = decode(a + wrap(''));
    assert.equal(events.length, 0);
    decoder.flush(a.length + 60);
    assert.deepEqual(
      events.map((e) => [e.format, e.content, e.start, e.end, e.parts, e.truncated]),
      [['docker', '{"Timestamp":1,', 0, a.length + 60, 2, true]],
    );
    // Only empty pieces: still docker's (they were once flushed as if CRI's).
    const empty = decode(wrap('', 'stderr'));
    empty.decoder.flush(100);
    assert.deepEqual(
      empty.events.map((e) => [e.format, e.stream, e.content, e.truncated]),
      [['docker', 'stderr', '', true]],
    );
  });

  test('over-long rejoined events are truncated', () => {
    const { events } = decode(wrap('a'.repeat(60)) + wrap('b'.repeat(60)) + wrap('c\n'), 100);
    assert.equal(events[0]?.truncated, true);
    assert.equal(events[0]?.content, `${'a'.repeat(60)}${'b'.repeat(40)}`);
  });
});

describe('handing open events to the next file (a rotation between their pieces)', () => {
  const t = '2024-07-26T10:40:00.120871513Z';
  test('CRI: joined in the next file, its marker and its offset there on the event; the other stream untouched', () => {
    const head = `${t} stdout P {"a":\n${t} stdout P 1,\n`;
    const old = decode(`${t} stderr F e1\n${head}`);
    const next = decode('');
    const marks: { start: number; carry: unknown }[] = [];
    old.decoder.handOver(next.decoder, (open) => {
      marks.push({ start: open.start, carry: open.carry });
      return 'first-file';
    });
    assert.deepEqual(marks, [{ start: `${t} stderr F e1\n`.length, carry: undefined }]);
    assert.equal(old.decoder.hasOpenEvents(), false);
    assert.equal(next.decoder.detectedFormat, 'cri');
    // Held nowhere in the next file until a piece comes there.
    assert.equal(next.decoder.openEventStart(), undefined);
    const stderr = `${t} stderr F e2\n`;
    feed(next.decoder, `${stderr}${t} stdout F "b":2}\n`);
    const [other, joined] = next.events as [Seen, Seen];
    assert.equal(other.content, 'e2');
    assert.equal(other.carry, undefined);
    assert.equal(joined.content, '{"a":1,"b":2}');
    assert.equal(joined.carry, 'first-file');
    assert.deepEqual([joined.start, joined.parts, joined.truncated], [stderr.length, 3, false]);
    // The flag is per event: the next one is the file's own.
    feed(next.decoder, `${t} stdout F {}\n`);
    assert.equal((next.events[2] as Seen).carry, undefined);
  });

  test('docker: the same', () => {
    const piece = (log: string) => `${JSON.stringify({ log, stream: 'stdout', time: t })}\n`;
    const old = decode(piece('{"a":'));
    const next = decode('');
    old.decoder.handOver(next.decoder, () => 'mark');
    feed(next.decoder, piece('1}\n'));
    const [joined] = next.events as [Seen];
    assert.deepEqual(
      [joined.format, joined.content, joined.carry, joined.start],
      ['docker', '{"a":1}', 'mark', 0],
    );
  });

  test('a whole JSON line first in the next file, which the first pieces do not join into JSON, is an event of its own', () => {
    // The file with the event's last pieces was deleted unread: the file after it took the hand-over.
    const old = decode(`${t} stdout P {"Timestamp":1,"Ty\n`);
    const next = decode('');
    old.decoder.handOver(next.decoder, () => 'mark');
    const line = `${t} stdout F {"Timestamp":2,"Type":"HostLog"}\n`;
    feed(next.decoder, line);
    assert.deepEqual(
      next.events.map((e) => [e.content, e.carry, e.start, e.end, e.truncated]),
      [
        ['{"Timestamp":1,"Ty', 'mark', 0, 0, true],
        ['{"Timestamp":2,"Type":"HostLog"}', undefined, 0, line.length, false],
      ],
    );
    // docker: the same.
    const piece = (log: string) => `${JSON.stringify({ log, stream: 'stdout', time: t })}\n`;
    const before = decode(piece('{"a":'));
    const after = decode('');
    before.decoder.handOver(after.decoder, () => 'mark');
    feed(after.decoder, piece('{"b":2}\n'));
    assert.deepEqual(
      after.events.map((e) => [e.content, e.carry, e.truncated]),
      [
        ['{"a":', 'mark', true],
        ['{"b":2}', undefined, false],
      ],
    );
    // A last piece that begins with `{` and completes the JSON is still the event's end.
    const nested = decode(`${t} stdout P {"a":\n`);
    const rest = decode('');
    nested.decoder.handOver(rest.decoder, () => 'mark');
    feed(rest.decoder, `${t} stdout F {"b":2}}\n`);
    assert.deepEqual(
      rest.events.map((e) => [e.content, e.carry]),
      [['{"a":{"b":2}}', 'mark']],
    );
  });

  test('carried on again, it keeps its marker; flushed with no piece here, it holds nothing here', () => {
    const first = decode(`${t} stdout P {"a":\n`);
    const second = decode('');
    const third = decode('');
    first.decoder.handOver(second.decoder, () => 'mark');
    const seen: unknown[] = [];
    second.decoder.handOver(third.decoder, (open) => {
      seen.push(open.carry, open.start);
      return open.carry;
    });
    assert.deepEqual(seen, ['mark', -1]);
    third.decoder.flush(100);
    const [e] = third.events as [Seen];
    assert.deepEqual([e.carry, e.start, e.end, e.truncated, e.content], ['mark', 100, 100, true, '{"a":']);
  });

  test('not to a file of another format, nor onto a stream already joining there', () => {
    const old = decode(`${t} stdout P {"a":\n${t} stderr P x\n`);
    const docker = decode(`${JSON.stringify({ log: 'hi\n', stream: 'stdout', time: t })}\n`);
    old.decoder.handOver(docker.decoder, () => 'mark');
    assert.equal(old.decoder.openEventStart(), 0);
    const busy = decode(`${t} stderr P y\n`);
    old.decoder.handOver(busy.decoder, () => 'mark');
    // stdout went; stderr stayed.
    feed(busy.decoder, `${t} stdout F 1}\n${t} stderr F z\n`);
    assert.deepEqual(
      busy.events.map((e) => [e.content, e.carry]),
      [
        ['{"a":1}', 'mark'],
        ['yz', undefined],
      ],
    );
    old.decoder.flush(50);
    assert.deepEqual(
      old.events.map((e) => e.content),
      ['x'],
    );
  });
});

test('raw files (no runtime wrapping): each line is a stdout event', () => {
  const { events } = decode(`${containerAlertBlock}\r\n${daemonMessage}\n`);
  assert.equal(events.length, 2);
  assert.equal(events[0]?.format, 'raw');
  assert.equal(events[0]?.stream, 'stdout');
  assert.equal(events[0]?.content, containerAlertBlock);
});
