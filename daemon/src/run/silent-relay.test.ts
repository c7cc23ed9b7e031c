import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateRelayLogs } from '../generate/kubelet-log-writer.js';
import { Counters } from '../metrics/counters.js';
import type { RecordConsumer } from '../tail/tailed-file.js';
import { Tailer } from '../tail/tailer.js';
import {
  describeRelayLog,
  isRelayLog,
  RELAY_STDOUT_HINT,
  SilentRelayWatch,
  summarizeRelayLog,
} from './silent-relay.js';

const ID = 'a'.repeat(64);
const START = Date.parse('2024-07-26T10:00:00Z');

test("a relay's log is told by its container's name, else by the file's", () => {
  const relayLink = `/var/log/containers/kubearmor-relay-6b9d8c7f5-x2x4k_kubearmor_kubearmor-relay-server-${ID}.log`;
  const relayFile =
    '/var/log/pods/kubearmor_kubearmor-relay-6b9d8c7f5-x2x4k_uid/kubearmor-relay-server/0.log';
  assert.equal(isRelayLog(relayLink, relayFile), true);
  assert.equal(isRelayLog(relayFile, relayFile), true);
  // A pod named like the relay whose container is another.
  const sidecar = `/var/log/containers/kubearmor-relay-6b9d8c7f5-x2x4k_kubearmor_istio-proxy-${ID}.log`;
  assert.equal(isRelayLog(sidecar, sidecar), false);
  assert.equal(isRelayLog(`/var/log/containers/nginx-1_web_nginx-${ID}.log`, '/x/0.log'), false);
  // A path that says nothing of a container: its name.
  assert.equal(isRelayLog('/tmp/kubearmor-relay.log', '/tmp/kubearmor-relay.log'), true);
  assert.equal(isRelayLog('/tmp/app.log', '/tmp/app.log'), false);
});

test("check: what the end of a relay log holds, events or only the relay's own lines", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'silent-relay-'));
  try {
    const normal = await generateRelayLogs({
      out: join(dir, 'on'),
      records: 3000,
      seed: 3,
      maxFiles: 1,
      startMs: START,
    });
    const whole = await summarizeRelayLog(normal.currentFile, 1 << 26);
    assert.deepEqual(whole.records, normal.counts);
    assert.match(
      describeRelayLog('p', whole),
      /^relay log: p: \d+ alerts, \d+ logs, \d+ messages and \d+ other lines in it$/,
    );
    // From the middle: the piece of a line it starts in is not counted.
    const size = readFileSync(normal.currentFile).length;
    const tail = await summarizeRelayLog(normal.currentFile, Math.floor(size / 3));
    assert.match(
      describeRelayLog('p', await summarizeRelayLog(normal.currentFile)),
      / in its last 1\.0 MiB$/,
    );
    const seen = (s: typeof tail) => s.records.alert + s.records.log + s.records.message + s.records.relay;
    assert.ok(
      seen(tail) > normal.lines / 4 && seen(tail) < normal.lines / 2,
      `${seen(tail)} of ${normal.lines}`,
    );

    const quiet = await generateRelayLogs({
      out: join(dir, 'off'),
      records: 30,
      seed: 3,
      maxFiles: 1,
      startMs: START,
      relayStdout: false,
    });
    const own = await summarizeRelayLog(quiet.currentFile);
    assert.deepEqual(own.records, { alert: 0, log: 0, message: 0, relay: 30 });
    assert.ok(own.firstTime.startsWith('2024-07-26T10:0') && own.lastTime > own.firstTime, own.lastTime);
    assert.equal(
      describeRelayLog('p', own),
      `relay log: p: no KubeArmor event in it, only 30 of the relay's own lines (${own.firstTime} to ${own.lastTime}): ${RELAY_STDOUT_HINT}`,
    );
    writeFileSync(join(dir, 'partial.log'), '2024-07-26T10:00:00Z stdout F {"Type":');
    assert.equal(
      describeRelayLog('p', await summarizeRelayLog(join(dir, 'partial.log'))),
      'relay log: p: no complete line yet',
    );
    // From the middle of a line that has no end yet: nothing whole in what was read.
    assert.deepEqual((await summarizeRelayLog(join(dir, 'partial.log'), 10)).records, {
      alert: 0,
      log: 0,
      message: 0,
      relay: 0,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the daemon: a relay log read to its end with only the relay's own lines, for long enough, is reported once", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'silent-relay-'));
  try {
    const pods = join(dir, 'pods');
    const write = (name: string, lines: string[]) => {
      mkdirSync(join(pods, name, 'kubearmor-relay-server'), { recursive: true });
      writeFileSync(join(pods, name, 'kubearmor-relay-server', '0.log'), lines.join(''));
    };
    const own = (time: string) =>
      `${time} stderr F {"level":"info","ts":"x","caller":"log/logger.go:54","msg":"Host not found for this IP"}\n`;
    const event = (time: string) => `${time} stdout F {"Timestamp":1721988000,"Type":"ContainerLog"}\n`;
    // Only its own lines, over six minutes; over one minute; with an event among them.
    write('kubearmor_relay-a_u1', [own('2024-07-26T10:00:00Z'), own('2024-07-26T10:06:00Z')]);
    write('kubearmor_relay-b_u2', [own('2024-07-26T10:00:00Z'), own('2024-07-26T10:01:00Z')]);
    write('kubearmor_relay-c_u3', [
      own('2024-07-26T10:00:00Z'),
      event('2024-07-26T10:03:00Z'),
      own('2024-07-26T10:09:00Z'),
    ]);
    const consumer: RecordConsumer = {
      onRecord: (file, record) => file.ack(record.ticket),
      hasCapacity: () => true,
      waitForCapacity: () => Promise.resolve(),
    };
    const tailer = new Tailer(
      {
        includes: [join(pods, '*', '*', '*.log')],
        excludes: [],
        startAt: 'beginning',
        nodeName: 'n',
        record: { indexPrefix: 'kubearmor' },
        maxEventBytes: 1 << 20,
        bufferBytes: 4096,
        rotateWaitMs: 1000,
        releasedRetentionMs: 60_000,
      },
      consumer,
      new Counters(),
      [],
    );
    try {
      let now = Date.now();
      const watch = new SilentRelayWatch(5 * 60_000, () => now);
      await tailer.scan();
      // Not read yet: nothing to say.
      assert.deepEqual(watch.silent(tailer.trackedFiles()), []);
      while ((await tailer.readTurn()) > 0);
      await tailer.maintain(false);
      const names = (found: { path: string }[]) => found.map((s) => s.path.split('/').at(-3));
      const first = watch.silent(tailer.trackedFiles());
      assert.deepEqual(names(first), ['kubearmor_relay-a_u1']);
      assert.equal(first[0]?.relayLines, 2);
      assert.equal(first[0]?.minutes, 6);
      // Once per file.
      assert.deepEqual(watch.silent(tailer.trackedFiles()), []);
      assert.equal(watch.stillSilent(tailer.trackedFiles()), 1);
      // The quiet one whose lines span a minute, once followed for five (and a line of its own written meanwhile).
      appendFileSync(
        join(pods, 'kubearmor_relay-b_u2', 'kubearmor-relay-server', '0.log'),
        own('2024-07-26T10:02:00Z'),
      );
      now += 6 * 60_000;
      await tailer.maintain(true);
      while ((await tailer.readTurn()) > 0);
      await tailer.maintain(true);
      const later = watch.silent(tailer.trackedFiles());
      assert.deepEqual(names(later), ['kubearmor_relay-b_u2']);
      assert.equal(later[0]?.relayLines, 3);
      assert.equal(watch.stillSilent(tailer.trackedFiles()), 2);
      // Its stdout turned on: the first event takes it off the gauge (and nothing is said again).
      appendFileSync(
        join(pods, 'kubearmor_relay-a_u1', 'kubearmor-relay-server', '0.log'),
        event('2024-07-26T10:20:00Z'),
      );
      await tailer.maintain(true);
      while ((await tailer.readTurn()) > 0);
      await tailer.maintain(true);
      assert.equal(watch.stillSilent(tailer.trackedFiles()), 1);
      assert.deepEqual(watch.silent(tailer.trackedFiles()), []);
    } finally {
      await tailer.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
