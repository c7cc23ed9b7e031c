import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lines from '../../test/fixtures/kubearmor-lines.js';
import { mutate, parsedObject, topLevelKeys, wellFormed } from '../../test/support/json-text.js';
import { documentOf } from '../../test/support/records.js';
import type { RuntimeEvent } from '../decode/runtime-decoder.js';
import { Random, RelayRecordFactory } from '../generate/relay-records.js';
import {
  baseAction,
  buildRecord,
  documentId,
  documentIdPrefix,
  FragmentCache,
  isoFromUpdatedTime,
  isPlainUtcTime,
  LINE_SCAN,
  parseLabels,
  type RecordSource,
  serializeDocument,
  severityNumber,
  spansHash,
  tagList,
  useWasmTail,
} from './kubearmor-record.js';

const source: RecordSource = {
  path: '/var/log/containers/kubearmor-relay-6b9d8c7f5-x2x4k_kubearmor_kubearmor-relay-server-abc.log',
  nodeName: 'node-a',
  idPrefix: documentIdPrefix('node-a', '2049:1234:ffee'),
};
const options = { indexPrefix: 'kubearmor', now: () => new Date('2030-01-02T03:04:05.000Z') };

/** An event whose content sits inside a larger buffer, as in the reader's: its CRI line. */
function event(content: string, overrides: Partial<RuntimeEvent> = {}): RuntimeEvent {
  const time = overrides.time ?? '2024-07-26T10:41:48.000000001Z';
  const bytes = Buffer.from(`${time} stdout F ${content}\n`);
  return {
    format: 'cri',
    stream: 'stdout',
    timeFrom: time === '' ? -1 : 0,
    timeTo: time === '' ? -1 : Buffer.byteLength(time),
    content: bytes,
    contentFrom: Buffer.byteLength(time) + 10,
    contentTo: bytes.length - 1,
    start: 4096,
    end: 4096 + content.length + 40,
    parts: 1,
    truncated: false,
    invalidUtf8: false,
    undecodable: false,
    carry: undefined,
    ...overrides,
    // As the decoder reads it from the line: one character per byte.
    time: Buffer.from(time).toString('latin1'),
  };
}

describe('KubeArmor records', () => {
  test('a container Block alert keeps every field and gains the derived ones', () => {
    const original = JSON.parse(lines.containerAlertBlock) as Record<string, unknown>;
    const r = buildRecord(event(lines.containerAlertBlock), source, options);
    assert.equal(r.kind, 'alert');
    assert.equal(r.index, 'kubearmor-alerts-2024.07.26');
    assert.equal(r.reason, undefined);
    assert.deepEqual(r.flags, []);
    for (const [key, value] of Object.entries(original)) assert.deepEqual(documentOf(r)[key], value, key);
    assert.equal(documentOf(r)['@timestamp'], '2024-07-26T10:41:47.932526Z');
    assert.equal(documentOf(r).severity_num, 5);
    assert.equal(documentOf(r).action_base, 'Block');
    assert.equal(documentOf(r).action_policy, 'Block');
    assert.deepEqual(documentOf(r).labels, { app: 'wordpress' });
    assert.deepEqual(documentOf(r).tags, [
      'NIST',
      'NIST_800-53_CM-7(4)',
      'SI-4',
      'process',
      'NIST_800-53_SI-4',
    ]);
    assert.deepEqual(documentOf(r).log, {
      file: { path: source.path },
      offset: 4096,
      stream: 'stdout',
      node: 'node-a',
      time: '2024-07-26T10:41:48.000000001Z',
    });
    assert.deepEqual([r.start, r.end], [4096, 4096 + lines.containerAlertBlock.length + 40]);
  });

  test('labels with dots and slashes stay whole keys', () => {
    const r = buildRecord(event(lines.containerAlertAudit), source, options);
    assert.deepEqual(documentOf(r).labels, {
      'app.kubernetes.io/instance': 'vault',
      'app.kubernetes.io/name': 'vault',
      component: 'server',
      'statefulset.kubernetes.io/pod-name': 'vault-0',
    });
    assert.equal(documentOf(r).action_base, 'Audit');
    assert.equal(documentOf(r).severity_num, 7);
  });

  test('logs: \\u0026 escapes are decoded, no alert-only fields are invented', () => {
    const r = buildRecord(event(lines.containerLogProcess), source, options);
    assert.equal(r.kind, 'log');
    assert.equal(r.index, 'kubearmor-logs-2024.07.26');
    assert.equal(documentOf(r).Resource, '/bin/sh -ec vault status -tls-skip-verify && echo ok');
    assert.equal(documentOf(r).severity_num, undefined);
    assert.equal(documentOf(r).action_base, undefined);
    assert.equal(documentOf(r).tags, undefined);
    const network = buildRecord(event(lines.containerLogNetwork), source, options);
    assert.equal(network.kind, 'log');
    assert.deepEqual((documentOf(network).EventData as Record<string, string>).Remoteip, '10.0.0.1');
  });

  test('a host DefaultPosture alert has no Severity: no severity_num, no labels', () => {
    const r = buildRecord(event(lines.hostAlertDefaultPosture), source, options);
    assert.equal(r.kind, 'alert');
    assert.equal(r.index, 'kubearmor-alerts-2023.08.23');
    assert.equal(documentOf(r).severity_num, undefined);
    assert.equal(documentOf(r).labels, undefined);
    assert.equal(documentOf(r).action_base, 'Block');
    assert.equal(documentOf(r).UserName, 'sshd');
  });

  test('the throttling SystemEvent is an alert; messages go to their own index', () => {
    const throttle = buildRecord(event(lines.throttleSystemEvent), source, options);
    assert.equal(throttle.kind, 'alert');
    assert.equal(documentOf(throttle).Operation, 'AlertThreshold');
    assert.equal(documentOf(throttle).action_base, undefined);
    const message = buildRecord(event(lines.daemonMessage), source, options);
    assert.equal(message.kind, 'message');
    assert.equal(message.index, 'kubearmor-messages-2024.07.26');
  });

  test('every Type of the value domain lands in its kind; legacy and unknown types too', () => {
    const kinds = Object.fromEntries(
      [
        'MatchedPolicy',
        'MatchedHostPolicy',
        'MatchedNetworkPolicy',
        'SystemEvent',
        'MatchedNativePolicy',
        'ContainerLog',
        'HostLog',
        'SystemLog',
        'Message',
      ].map((Type) => [
        Type,
        buildRecord(event(JSON.stringify({ Timestamp: 1721990507, Type })), source, options).kind,
      ]),
    );
    assert.deepEqual(kinds, {
      MatchedPolicy: 'alert',
      MatchedHostPolicy: 'alert',
      MatchedNetworkPolicy: 'alert',
      SystemEvent: 'alert',
      MatchedNativePolicy: 'alert',
      ContainerLog: 'log',
      HostLog: 'log',
      SystemLog: 'log',
      Message: 'message',
    });
    const future = buildRecord(
      event('{"Timestamp":1721990507,"Type":"MatchedFuturePolicy","Action":"Block"}'),
      source,
      options,
    );
    assert.equal(future.kind, 'alert');
    assert.deepEqual(future.flags, ['unknown_type']);
    const legacy = buildRecord(
      event(
        '{"Timestamp":1650000000,"Type":"MatchedNativePolicy","PolicyName":"NativePolicy","Severity":"-"}',
      ),
      source,
      options,
    );
    assert.equal(documentOf(legacy).severity_num, undefined);
    assert.equal(documentOf(legacy).Severity, '-');
  });

  test('@timestamp: UpdatedTime, else Timestamp seconds, else the runtime time', () => {
    const ts = (content: string, time?: string) =>
      documentOf(buildRecord(event(content, time === undefined ? {} : { time }), source, options))[
        '@timestamp'
      ];
    assert.equal(
      ts('{"Timestamp":1721990507,"UpdatedTime":"2024-07-26T10:41:47.932526Z","Type":"HostLog"}'),
      '2024-07-26T10:41:47.932526Z',
    );
    assert.equal(
      ts('{"Timestamp":1721990507,"UpdatedTime":"garbage","Type":"HostLog"}'),
      '2024-07-26T10:41:47.000Z',
    );
    assert.equal(ts('{"Timestamp":"1721990507","Type":"HostLog"}'), '2024-07-26T10:41:47.000Z');
    assert.equal(ts('{"Timestamp":"soon","Type":"HostLog"}'), '2024-07-26T10:41:48.000000001Z');
    assert.equal(
      ts('{"Timestamp":"soon","Type":"HostLog"}', '2024-07-26T12:41:48.5+02:00'),
      '2024-07-26T10:41:48.500Z',
    );
    assert.equal(ts('{"Timestamp":null,"Type":"HostLog"}', ''), '2030-01-02T03:04:05.000Z');
    const fallback = buildRecord(event('{"Timestamp":0,"Type":"HostLog"}'), source, options);
    assert.deepEqual(fallback.flags, ['timestamp_fallback']);
  });

  test('wrong-typed fields never throw and are kept as sent', () => {
    const odd = {
      Timestamp: 1721990507,
      Type: 'MatchedPolicy',
      Severity: 5,
      Labels: { app: 'x' },
      ATags: 'not-an-array',
      Tags: 42,
      Action: ['Block'],
      Owner: 'Deployment/x',
      HostPID: '495877',
      EventData: null,
    };
    const r = buildRecord(event(JSON.stringify(odd)), source, options);
    assert.equal(r.kind, 'alert');
    assert.equal(documentOf(r).severity_num, 5);
    assert.equal(documentOf(r).labels, undefined);
    assert.equal(documentOf(r).tags, undefined);
    assert.equal(documentOf(r).action_base, undefined);
    assert.equal(documentOf(r).HostPID, '495877');
    assert.deepEqual(documentOf(r).Labels, { app: 'x' });
  });

  test('truncated and invalid UTF-8 records are flagged', () => {
    const r = buildRecord(event(lines.daemonMessage, { invalidUtf8: true }), source, options);
    assert.deepEqual(r.flags, ['invalid_utf8']);
    assert.deepEqual((documentOf(r).log as { flags: string[] }).flags, ['invalid_utf8']);
  });
});

describe('relay-internal records', () => {
  const reasonOf = (content: string, overrides: Partial<RuntimeEvent> = {}) => {
    const r = buildRecord(event(content, overrides), source, options);
    assert.equal(r.kind, 'relay');
    assert.equal(r.index, 'kubearmor-relay-2024.07.26');
    assert.equal(documentOf(r).message, content);
    return r.reason;
  };

  test('every other line is kept with the reason it is not a KubeArmor record', () => {
    assert.equal(reasonOf(lines.relayZapInfo, { stream: 'stderr' }), 'stderr');
    assert.equal(reasonOf(lines.relayKlogError, { stream: 'stderr' }), 'stderr');
    assert.equal(reasonOf(lines.relayGoLog), 'not_json');
    assert.equal(reasonOf('   '), 'empty');
    assert.equal(reasonOf('{"Timestamp":1721990507,"Type":"Mess'), 'invalid_json');
    assert.equal(reasonOf('{"Timestamp":1721990507,"Type":"Mess', { truncated: true }), 'truncated');
    assert.equal(reasonOf('{"level":"info","msg":"hello"}'), 'not_kubearmor');
    assert.equal(reasonOf('{"Timestamp":1721990507,"Type":7}'), 'not_kubearmor');
    assert.equal(reasonOf('{"a":[1,2]}'), 'not_kubearmor');
    assert.equal(reasonOf(`${'['.repeat(5)}${']'.repeat(5)}`), 'not_json');
    assert.equal(reasonOf('{}garbage'), 'invalid_json');
    assert.equal(reasonOf('x', { undecodable: true, stream: 'unknown' }), 'undecodable');
  });

  test('a record with no time of its own is stamped when read, in the index of its file’s first day: a replay on another day lands on the same index', () => {
    const dated = { ...source, fileTime: '2024-07-26T10:00:00.000000001Z' };
    const undated = event('\u0000garbage', { undecodable: true, stream: 'unknown', format: 'raw', time: '' });
    const relay = buildRecord(undated, dated, options);
    assert.equal(relay.index, 'kubearmor-relay-2024.07.26');
    assert.equal(documentOf(relay)['@timestamp'], '2030-01-02T03:04:05.000Z');
    const timeless = event('{"Timestamp":"soon","Type":"ContainerLog"}', { format: 'raw', time: '' });
    const log = buildRecord(timeless, dated, options);
    assert.equal(log.index, 'kubearmor-logs-2024.07.26');
    assert.equal(documentOf(log)['@timestamp'], '2030-01-02T03:04:05.000Z');
    assert.deepEqual(log.flags, ['timestamp_fallback']);
    // The runtime's time, where the line has one, still names both.
    assert.equal(buildRecord(event('not json'), dated, options).index, 'kubearmor-relay-2024.07.26');
    assert.equal(
      buildRecord(event('not json', { time: '2024-08-01T00:00:00Z' }), dated, options).index,
      'kubearmor-relay-2024.08.01',
    );
    // With no dated first line either (a raw file), the day it is read.
    assert.equal(buildRecord(undated, source, options).index, 'kubearmor-relay-2030.01.02');
    assert.equal(
      buildRecord(undated, { ...source, fileTime: 'nonsense' }, options).index,
      'kubearmor-relay-2030.01.02',
    );
  });

  test('deeply nested JSON does not throw', () => {
    const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
    assert.ok(['invalid_json', 'not_kubearmor'].includes(reasonOf(deep) as string));
  });

  test('the relay log level is recognised for zap and klog lines', () => {
    const zap = documentOf(buildRecord(event(lines.relayZapInfo, { stream: 'stderr' }), source, options));
    assert.equal((zap.log as { level: string }).level, 'info');
    assert.deepEqual(zap.relay, { reason: 'stderr' });
    const klog = buildRecord(event(lines.relayKlogError, { stream: 'stderr' }), source, options);
    assert.equal((documentOf(klog).log as { level: string }).level, 'error');
  });
});

describe('document ids', () => {
  test('the same line always gets the same id; other offsets or files get others', () => {
    const a = buildRecord(event(lines.daemonMessage), source, options);
    const again = buildRecord(event(lines.daemonMessage), source, options);
    const later = buildRecord(event(lines.daemonMessage, { start: 4097 }), source, options);
    const otherFile = buildRecord(
      event(lines.daemonMessage),
      { ...source, idPrefix: documentIdPrefix('node-a', '2049:1235:ffee') },
      options,
    );
    const otherNode = buildRecord(
      event(lines.daemonMessage),
      { ...source, idPrefix: documentIdPrefix('node-b', '2049:1234:ffee') },
      options,
    );
    assert.equal(documentId(a), documentId(again));
    assert.equal(new Set([a, later, otherFile, otherNode].map(documentId)).size, 4);
    assert.ok(documentId(a).length < 64);
  });
});

describe('similarity (how bulk bodies group documents)', () => {
  test('equal for the same Type, pod and Operation, whatever else differs; otherwise not', () => {
    const base = JSON.parse(lines.containerLogProcess) as Record<string, unknown>;
    const similarity = (changes: Record<string, unknown>, raw = false) =>
      buildRecord(
        event(
          raw
            ? `{"@timestamp":1,${JSON.stringify({ ...base, ...changes }).slice(1)}`
            : JSON.stringify({ ...base, ...changes }),
        ),
        source,
        options,
      ).similarity;
    const same = similarity({});
    assert.equal(similarity({ PID: 4242, Resource: '/bin/other', Timestamp: 1721990999 }), same);
    const others = [
      similarity({ PodName: 'another-pod' }),
      similarity({ Operation: 'File' }),
      similarity({ Type: 'HostLog' }),
      similarity({ PodName: undefined }),
    ];
    assert.equal(new Set([same, ...others]).size, 5);
    // The same from a line merged as an object (one with a field the shipper sets).
    assert.equal(similarity({}, true), similarity({}, true));
    assert.notEqual(similarity({ PodName: 'another-pod' }, true), similarity({}, true));
  });
});

describe('field helpers', () => {
  test('labels', () => {
    assert.deepEqual(parseLabels('a=1,b=x=y,,c=,=d,e'), { a: '1', b: 'x=y', c: '' });
    assert.equal(parseLabels(''), undefined);
    assert.equal(parseLabels('novalue'), undefined);
    assert.deepEqual(parseLabels('__proto__=x,k=v'), { k: 'v' });
  });
  test('tags', () => {
    assert.deepEqual(tagList(['A', 'B'], 'ignored'), ['A', 'B']);
    assert.deepEqual(tagList(undefined, 'MITRE, T1552 ,'), ['MITRE', 'T1552']);
    assert.equal(tagList([], ''), undefined);
  });
  test('UpdatedTime: the quick check of the usual shape agrees with Date.parse', () => {
    const rnd = new Random(9);
    const two = (n: number) => String(n).padStart(2, '0');
    let plain = 0;
    for (let n = 0; n < 20000; n++) {
      // Mostly in range, sometimes not; fractions of 0 to 14 digits.
      const parts = [
        rnd.int(1990, 2200),
        rnd.int(0, 13),
        rnd.int(0, 32),
        rnd.int(0, 25),
        rnd.int(0, 61),
        rnd.int(0, 61),
      ];
      const [y, mo, d, h, mi, se] = parts.map((p, i) => (i === 0 ? String(p) : two(p)));
      const digits = rnd.int(0, 14);
      let fraction = '';
      for (let i = 0; i < digits; i++) fraction += String(rnd.int(0, 9));
      let value = `${y}-${mo}-${d}T${h}:${mi}:${se}${digits > 0 ? `.${fraction}` : ''}Z`;
      if (n % 10 === 0) value = value.replace(/\d/, rnd.pick(['x', ' ', '-']));
      if (isPlainUtcTime(Buffer.from(value), 0, Buffer.byteLength(value))) {
        plain++;
        assert.ok(!Number.isNaN(Date.parse(value)), value);
      }
      // Either way, the verdict is Date.parse's.
      assert.equal(isoFromUpdatedTime(value) !== undefined, !Number.isNaN(Date.parse(value)), value);
    }
    assert.ok(plain > 5000, `${plain} took the quick path`);
    const plainTime = (text: string) => isPlainUtcTime(Buffer.from(`"${text}"`), 1, text.length + 1);
    assert.equal(plainTime('2024-07-26T10:41:47.932526Z'), true);
    assert.equal(plainTime('2024-02-30T10:41:47Z'), false); // left to Date.parse
    assert.equal(plainTime('2024-07-26T10:41:47.Z'), false);
    assert.equal(plainTime('1989-07-26T10:41:47Z'), false); // out of the years kept
    assert.equal(plainTime('2024-07-26T10:41:47.1234567890123456Z'), false); // longer than 35
  });
  test('the Labels and tags cache: values told apart by their bytes, bounded in entries and in size', () => {
    const cache = new FragmentCache(2, 12);
    const line = Buffer.from('"a=1" "b=2" "c=3" "a=2" "long=123456"');
    const span = (text: string): [number, number] => {
      const at = line.indexOf(text);
      return [at, at + text.length];
    };
    const get = (a: string, b?: string) => {
      const [bFrom, bTo] = b === undefined ? [-1, -1] : span(b);
      return cache.get(line, ...span(a), bFrom, bTo)?.toString();
    };
    const set = (a: string, json: string) => cache.set(line, ...span(a), -1, -1, json).toString();
    assert.equal(set('"a=1"', '{"a":"1"}'), '{"a":"1"}');
    assert.equal(get('"a=1"'), '{"a":"1"}');
    assert.equal(get('"a=2"'), undefined, 'same length, other bytes');
    assert.equal(get('"a=1"', '"b=2"'), undefined, 'with a second span');
    set('"b=2"', '{"b":"2"}');
    set('"c=3"', '{"c":"3"}'); // a third entry: starts over
    assert.equal(get('"a=1"'), undefined);
    assert.equal(get('"c=3"'), '{"c":"3"}');
    // Two spans: the pair is the key, and which one is absent counts.
    cache.set(line, ...span('"a=1"'), ...span('"b=2"'), '[1,2]');
    assert.equal(get('"a=1"', '"b=2"'), '[1,2]');
    assert.equal(get('"b=2"', '"a=1"'), undefined);
    // Values whose hashes are equal are still told apart, byte for byte.
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let n = 0; pair === undefined; n++) {
      const value = `"k${n.toString(36)}"`;
      const bytes = Buffer.from(value);
      const h = spansHash(bytes, 0, bytes.length, -1, -1);
      const other = seen.get(h);
      if (other === undefined) seen.set(h, value);
      else pair = [other, value];
    }
    const pairLine = Buffer.from(pair.join(''));
    const [first, second] = pair;
    const colliding = new FragmentCache(4, 12);
    colliding.set(pairLine, 0, first.length, -1, -1, 'first');
    assert.equal(colliding.get(pairLine, 0, first.length, -1, -1)?.toString(), 'first');
    assert.equal(
      colliding.get(pairLine, first.length, pairLine.length, -1, -1),
      undefined,
      `${first} vs ${second}`,
    );
    // A value longer than the limit is made every time, never kept.
    assert.equal(set('"long=123456"', '{"long":"123456"}'), '{"long":"123456"}');
    assert.equal(get('"long=123456"'), undefined);
  });
  test('severity', () => {
    assert.equal(severityNumber('10'), 10);
    assert.equal(severityNumber('-'), undefined);
    assert.equal(severityNumber(''), undefined);
    assert.equal(severityNumber(undefined), undefined);
    assert.equal(severityNumber('2.5'), undefined);
  });
  test('base action', () => {
    assert.deepEqual(baseAction('Audit (Block)'), { outcome: 'Audit', policy: 'Block' });
    assert.deepEqual(baseAction('Audit (Allow)'), { outcome: 'Audit', policy: 'Allow' });
    assert.deepEqual(baseAction('Allow'), { outcome: 'Allow', policy: 'Allow' });
    assert.equal(baseAction('Shrug'), undefined);
  });
});

describe('serialization', () => {
  test('a KubeArmor document is the line as it came with the added fields appended', () => {
    for (const line of [
      lines.containerAlertBlock,
      lines.containerAlertAudit,
      lines.containerLogProcess,
      lines.containerLogNetwork,
      lines.hostAlertDefaultPosture,
      lines.throttleSystemEvent,
      lines.daemonMessage,
    ]) {
      const r = buildRecord(event(` ${line} \t`), source, options);
      assert.equal(r.body.toString('utf8', r.bodyFrom, r.bodyTo), ` ${line.slice(0, -1)}`);
      const doc = documentOf(r);
      for (const [key, value] of Object.entries(JSON.parse(line) as Record<string, unknown>))
        assert.deepEqual(doc[key], value, key);
      assert.ok(typeof doc['@timestamp'] === 'string' && doc.log !== undefined);
    }
  });

  test('a record that already has a field the shipper adds is serialized whole, ours winning', () => {
    const r = buildRecord(
      event('{"Timestamp":1721990507,"Type":"HostLog","log":"theirs","tags":1,"Labels":"a=b"} '),
      source,
      options,
    );
    assert.equal(r.tailTo, 0);
    assert.deepEqual(documentOf(r), {
      Timestamp: 1721990507,
      Type: 'HostLog',
      log: {
        file: { path: source.path },
        offset: 4096,
        stream: 'stdout',
        node: 'node-a',
        time: '2024-07-26T10:41:48.000000001Z',
      },
      tags: 1,
      Labels: 'a=b',
      '@timestamp': '2024-07-26T10:41:47.000Z',
      labels: { a: 'b' },
    });
  });

  test("the kubernetes fields follow the file's metadata as it changes", () => {
    const own: RecordSource = { ...source, kubernetes: { namespace: 'a' } };
    assert.deepEqual(documentOf(buildRecord(event(lines.daemonMessage), own, options)).kubernetes, {
      namespace: 'a',
    });
    own.kubernetes = { namespace: 'b' };
    assert.deepEqual(documentOf(buildRecord(event(lines.daemonMessage), own, options)).kubernetes, {
      namespace: 'b',
    });
    own.kubernetes = undefined;
    assert.equal(documentOf(buildRecord(event(lines.daemonMessage), own, options)).kubernetes, undefined);
  });

  test('each record gets its own Labels, however the records of one file alternate', () => {
    const own: RecordSource = { ...source };
    const labelsOf = (labels: string | undefined) =>
      documentOf(
        buildRecord(
          event(JSON.stringify({ Timestamp: 1721990507, Type: 'ContainerLog', Labels: labels })),
          own,
          options,
        ),
      ).labels;
    assert.deepEqual(labelsOf('app=a'), { app: 'a' });
    assert.deepEqual(labelsOf('app=a'), { app: 'a' });
    assert.deepEqual(labelsOf('app=b,tier=x'), { app: 'b', tier: 'x' });
    assert.equal(labelsOf(undefined), undefined);
    assert.equal(labelsOf('nolabel'), undefined);
    assert.deepEqual(labelsOf('app=a'), { app: 'a' });
  });
});

describe('the added fields, from the bytes as written (property)', () => {
  // Values as written in a line (escapes and odd types included), and what the shipper must add
  // for each: exactly what the field helpers make of the value JSON.parse gives.
  const UPDATED_TIMES = [
    '"2024-07-26T10:41:47.932526Z"',
    '"2024-07-26T10:41:47Z"',
    '"2024-07-26T23:59:59.1Z"',
    '"2024-02-29T10:41:47.5Z"', // day 29: left to Date.parse
    '"2024-02-30T10:41:47.5Z"', // no such day
    '"2024-07-26T10:41:47\\u002e5Z"',
    '"2024-07-26T10:41:47.5+02:00"',
    '"1989-12-31T23:59:59Z"',
    '"2024-07-26T10:41:47.Z"',
    '"2024-07-26T10:41:60Z"',
    '1721990507',
    '""',
    'null',
  ];
  const TYPES = [
    '"MatchedPolicy"',
    '"Matched\\u0050olicy"',
    '"ContainerLog"',
    '"HostLog"',
    '"Message"',
    '"Unknown"',
  ];
  // The values of UPDATED_TIMES that the line's bytes give as they are.
  const PLAIN_TIMES = new Set(UPDATED_TIMES.slice(0, 3));
  const SEVERITIES = [
    '"5"',
    '5',
    '"05"',
    '"10"',
    '""',
    '"-"',
    '"1e1"',
    '" 3"',
    '"\\u0035"',
    '2.5',
    '-3',
    'null',
    '"123456789012"',
    '0',
  ];
  const ACTIONS = [
    '"Allow"',
    '"Audit"',
    '"Block"',
    '"Audit (Allow)"',
    '"Audit (Block)"',
    '"Audit (Foo)"',
    '"\\u0041udit"',
    '"Blocked"',
    '""',
    '1',
  ];
  const LABELS = [
    '"app=a"',
    '"app=a,tier=b"',
    '"app=\\u00fc"',
    '"app=ü"',
    '"x"',
    '""',
    '5',
    '"a.b/c=d, e = f"',
  ];
  const TAG_LISTS = ['["NIST","PCI"]', '[]', '["a",1]', '"x,y"', '""', '["a\\"b"]'];

  test('@timestamp, severity_num, action_base, action_policy, labels and tags, whatever the shape', () => {
    const rnd = new Random(31);
    const counts = { plainTime: 0, parsedTime: 0, alerts: 0 };
    for (let n = 0; n < 4000; n++) {
      const parts: string[] = [`"Timestamp":1721990507`, `"Type":${rnd.pick(TYPES)}`];
      const maybe = (name: string, values: readonly string[]) => {
        const value = rnd.pick(values);
        if (rnd.next() < 0.85) parts.push(`"${name}":${value}`);
        return value;
      };
      const updatedTime = maybe('UpdatedTime', UPDATED_TIMES);
      maybe('Severity', SEVERITIES);
      maybe('Action', ACTIONS);
      maybe('Labels', LABELS);
      maybe('ATags', TAG_LISTS);
      maybe('Tags', TAG_LISTS);
      maybe('PolicyName', ['"p"']);
      // Now and then nested deeper than the scan follows: the same fields by the other path.
      if (n % 5 === 0) parts.push(`"Deep":${'['.repeat(40)}1${']'.repeat(40)}`);
      for (let i = parts.length - 1; i > 0; i--) {
        const j = rnd.int(0, i);
        [parts[i], parts[j]] = [parts[j] as string, parts[i] as string];
      }
      const text = `{${parts.join(',')}}`;
      const input = JSON.parse(text) as Record<string, unknown>;
      const r = buildRecord(event(text), source, options);
      const doc = documentOf(r);
      const what = `in ${text}`;

      const own = isoFromUpdatedTime(input.UpdatedTime);
      if (own !== undefined) {
        assert.equal(doc['@timestamp'], own, what);
        if (input.UpdatedTime !== undefined && PLAIN_TIMES.has(updatedTime)) counts.plainTime++;
        else counts.parsedTime++;
      } else assert.equal(doc['@timestamp'], '2024-07-26T10:41:47.000Z', what); // from Timestamp
      const unknown = input.Type === 'Unknown';
      const alert =
        input.Type === 'MatchedPolicy' ||
        (unknown && ('PolicyName' in input || 'Action' in input || 'Severity' in input));
      const kind = alert ? 'alert' : input.Type === 'Message' ? 'message' : 'log';
      assert.equal(r.kind, kind, what);
      assert.equal(((doc.log as { flags?: string[] }).flags ?? []).includes('unknown_type'), unknown, what);
      if (!alert) {
        for (const k of ['severity_num', 'action_base', 'action_policy'])
          assert.equal(doc[k], undefined, what);
      } else {
        counts.alerts++;
        assert.equal(doc.severity_num, severityNumber(input.Severity), what);
        const base = typeof input.Action === 'string' ? baseAction(input.Action) : undefined;
        assert.equal(doc.action_base, base?.outcome, what);
        assert.equal(doc.action_policy, base?.policy, what);
      }
      assert.deepEqual(doc.labels, parseLabels(input.Labels), what);
      assert.deepEqual(doc.tags, tagList(input.ATags, input.Tags), what);
    }
    assert.ok(
      counts.plainTime > 500 && counts.parsedTime > 300 && counts.alerts > 1000,
      JSON.stringify(counts),
    );
  });
});

describe('records from random and broken lines (property)', () => {
  // The fields the shipper sets: a line's own value of one gives way to the shipper's.
  const SHIPPER_FIELDS = new Set([
    '@timestamp',
    'log',
    'labels',
    'tags',
    'kubernetes',
    'severity_num',
    'action_base',
    'action_policy',
  ]);

  test('never throw; every document is one JSON object without a repeated key; a KubeArmor object keeps every member, a line that is not one is kept whole as the message', () => {
    const factory = new RelayRecordFactory(23);
    const rnd = new Random(29);
    let kubearmor = 0;
    let relay = 0;
    let merged = 0;
    for (let n = 0; n < 6000; n++) {
      let text = factory.next(1721990400000 + n * 10).text;
      // Now and then a field the shipper sets, given by the line itself, its name at times escaped.
      if (n % 7 === 0 && text.startsWith('{')) {
        const name = rnd.pick([...SHIPPER_FIELDS]);
        const spelled =
          n % 3 === 0 ? `\\u${name.charCodeAt(0).toString(16).padStart(4, '0')}${name.slice(1)}` : name;
        text = `{"${spelled}":${rnd.pick(['1', '"theirs"', '{"a":[1]}', 'null'])},${text.slice(1)}`;
      }
      for (let edits = n % 4 === 0 ? rnd.int(1, 3) : 0; edits > 0; edits--) text = mutate(rnd, text);
      if (!wellFormed(text) || text.includes('\n')) continue;

      const r = buildRecord(event(text), source, options);
      const docText = serializeDocument(r);
      const doc = parsedObject(docText);
      assert.ok(doc !== undefined, `not a JSON object: ${docText.slice(0, 300)}`);
      assert.match(r.index, /^kubearmor-(alerts|logs|messages|relay)-\d{4}\.\d{2}\.\d{2}$/);
      const input = parsedObject(text);
      const inputKeys = input === undefined ? [] : topLevelKeys(text);
      if (new Set(inputKeys).size === inputKeys.length) {
        const keys = topLevelKeys(docText);
        assert.equal(new Set(keys).size, keys.length, `a repeated key in ${docText.slice(0, 300)}`);
      }
      if (r.kind === 'relay') {
        relay++;
        assert.equal(doc.message, text);
        continue;
      }
      kubearmor++;
      assert.ok(input !== undefined, `a record from a line that is not an object: ${text.slice(0, 200)}`);
      if (r.tailTo === 0) merged++;
      for (const [key, value] of Object.entries(input))
        if (!SHIPPER_FIELDS.has(key)) assert.deepEqual(doc[key], value, `${key} of ${text.slice(0, 200)}`);
    }
    // Each path well represented, or the test proves little.
    assert.ok(
      kubearmor > 3000 && relay > 500 && merged > 300,
      `${kubearmor} records, ${relay} relay, ${merged} merged`,
    );
  });
});

describe('the tail written by the WebAssembly module (document-tail.ts)', () => {
  /** Record, document and all, with the module writing the usual tails and without it. */
  function both(e: RuntimeEvent) {
    const of = (on: boolean) => {
      const before = useWasmTail(on);
      try {
        const r = buildRecord(e, source, options);
        // The record's buffers are reused by the next one: what it says is taken now.
        return { ...r, body: undefined, tail: r.tail, document: serializeDocument(r) };
      } finally {
        useWasmTail(before);
      }
    };
    const javascript = of(false);
    const wasm = of(true);
    return { wasm, javascript, fromModule: wasm.tail !== javascript.tail };
  }

  function agree(e: RuntimeEvent, what: string): boolean {
    const { wasm, javascript, fromModule } = both(e);
    assert.deepEqual({ ...wasm, tail: undefined }, { ...javascript, tail: undefined }, what);
    return fromModule;
  }

  test('the same record as the JavaScript writes, for generated, edited and odd lines', () => {
    // As the scan's tests do, these fail without the built module.
    assert.equal(LINE_SCAN, 'webassembly', 'no WebAssembly module: run `npm run build`');
    const factory = new RelayRecordFactory(31);
    const rnd = new Random(37);
    const times = [
      '2024-07-26T10:41:48.000000001Z',
      '',
      '2024-07-26T10:41:48Z',
      'x"y',
      'caf\u00e9',
      '2024-07-26 10:41',
    ];
    const severities = ['"5"', '5', '"05"', '""', '"-"', '1e3', '"1234567890"', '-1', '"\\u0035"', 'null'];
    const actions = ['"Block"', '"Audit (Allow)"', '"Deny"', '"Bl\\u006fck"', '7', '""'];
    const updatedTimes = [
      '"2024-07-26T10:41:48.123456Z"',
      '"2024-07-26T10:41:48Z"',
      '"2024-07-26T10:41:48+02:00"',
      '"2024-02-30T10:41:48.1Z"',
      '"2024-07-26T10:41:60.1Z"',
      '"2024-07-26T10:41:48.Z"',
      '"1989-07-26T10:41:48.1Z"',
      '"2024-07-26T10:41:48.12\\u0033Z"',
      '1721990508',
    ];
    let fromModule = 0;
    let total = 0;
    for (let n = 0; n < 8000; n++) {
      let text = factory.next(1721990400000 + n * 10).text;
      if (text.startsWith('{') && n % 5 === 0) {
        // One member in an unusual shape, or a field the shipper sets: last, so it is the one
        // that counts where the line has the member already.
        const [name, values] = rnd.pick([
          ['Severity', severities],
          ['Action', actions],
          ['UpdatedTime', updatedTimes],
          ['Labels', ['"a=b,c=d"', '""', '7', `"k=${'v'.repeat(1100)}"`]],
          ['ATags', ['["X","y"]', '[]', '"x"']],
          ['Tags', ['"A,B"', '""']],
          ['log', ['1']],
          ['severity_num', ['3']],
          ['kubernetes', ['{}']],
        ] as const);
        const close = text.lastIndexOf('}');
        text = `${text.slice(0, close)},"${name}":${rnd.pick(values as readonly string[])}${text.slice(close)}`;
      }
      if (n % 11 === 0) text = mutate(rnd, text);
      if (!wellFormed(text) || text.includes('\n')) continue;
      const time = n % 3 === 0 ? rnd.pick(times) : (times[0] as string);
      const start = n % 4 === 0 ? 2 ** 40 + n : 4096 + n * 1000;
      total++;
      if (agree(event(text, { time, start }), text.slice(0, 300))) fromModule++;
    }
    // Most records are the usual ones the module writes, or this compares little.
    assert.ok(fromModule > total / 2, `${fromModule} of ${total} from the module`);
    assert.ok(total - fromModule > 1000, `${total - fromModule} of ${total} from JavaScript`);
  });

  test('a labels or tags value seen once is the module’s from then on; thousands of them fill its caches, which start over', () => {
    const line = (k: number) =>
      `{"Timestamp":1721990508,"UpdatedTime":"2024-07-26T10:41:48.123456Z","Type":"MatchedPolicy","Severity":"${k % 10}","Action":"Block","Labels":"app=a${k},team=t${'x'.repeat(k % 300)}","ATags":["T${k}"],"Tags":"U${k % 7}","PodName":"p${k}","Operation":"Process"}`;
    for (let k = 0; k < 4000; k++) {
      const e = event(line(k), { start: k * 977 });
      const first = agree(e, `first ${k}`);
      assert.equal(first, false, 'a value not seen yet is written by JavaScript');
      // Then by the module; once in a while the tags value filled the arena, which started over
      // without the labels value just kept, and JavaScript writes it once more.
      assert.equal(agree(e, `again ${k}`) || agree(e, `and again ${k}`), true, 'then by the module');
    }
    // The earliest values were let go when the arena filled: JavaScript again, then the module.
    assert.equal(agree(event(line(0)), 'first value, later'), false);
    assert.equal(agree(event(line(0)), 'first value, again'), true);
  });
});
