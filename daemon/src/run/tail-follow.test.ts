import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { documentOf } from '../../test/support/records.js';
import { Counters } from '../metrics/counters.js';
import type { ShippableRecord } from '../parse/kubearmor-record.js';
import type { RecordConsumer, TailedFile } from '../tail/tailed-file.js';
import { Tailer } from '../tail/tailer.js';
import { tailFollow } from './tail-follow.js';

test('follows a file until stopped, picks up appends and new files, saves checkpoints on the way', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'follow-'));
  try {
    const line = (n: number) =>
      `2024-01-01T00:00:00.${n}Z stdout F {"Timestamp":1,"Type":"HostLog","Seq":${n}}\n`;
    writeFileSync(join(dir, 'a.log'), line(1));
    const seen: number[] = [];
    const consumer: RecordConsumer = {
      onRecord(file: TailedFile, record: ShippableRecord) {
        seen.push(documentOf(record).Seq as number);
        file.ack(record.ticket);
      },
      hasCapacity: () => true,
      waitForCapacity: async () => {},
    };
    const tailer = new Tailer(
      {
        includes: [join(dir, '*.log')],
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
    const stop = new AbortController();
    let saves = 0;
    const done = tailFollow(tailer, {
      scanIntervalMs: 50,
      pollIntervalMs: 10,
      checkpointIntervalMs: 30,
      signal: stop.signal,
      saveCheckpoints: async () => {
        saves++;
      },
    });
    await sleep(100);
    appendFileSync(join(dir, 'a.log'), line(2));
    writeFileSync(join(dir, 'b.log'), line(3));
    for (let i = 0; i < 100 && seen.length < 3; i++) await sleep(20);
    stop.abort();
    await done;
    await tailer.close();
    assert.deepEqual(seen.sort(), [1, 2, 3]);
    assert.ok(saves >= 2, `${saves} saves`);
    assert.equal(tailer.checkpoints().length, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
