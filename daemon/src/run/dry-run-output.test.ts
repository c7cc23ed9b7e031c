import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import type { ShippableRecord } from '../parse/kubearmor-record.js';
import type { TailedFile } from '../tail/tailed-file.js';
import { DryRunOutput } from './dry-run-output.js';

test("stdout backed up, then drained before a reader asks: the reader does not wait for a 'drain' that came already", async () => {
  const out = new Writable({
    highWaterMark: 1024,
    write(_chunk, _encoding, done) {
      setImmediate(done);
    },
  });
  const dry = new DryRunOutput(out);
  const file = { ack: () => undefined } as unknown as TailedFile;
  const body = Buffer.from(`{"Message":"${'a'.repeat(70_000)}"`);
  const record = {
    index: 'kubearmor-logs-2024.07.26',
    idPrefix: 'x',
    start: 0,
    body,
    bodyFrom: 0,
    bodyTo: body.length,
    tail: Buffer.from('}'),
    tailTo: 1,
    suffix: Buffer.alloc(0),
    similarity: 0,
  } as ShippableRecord;
  dry.onRecord(file, record);
  assert.equal(dry.hasCapacity(), false, 'backed up');
  for (let i = 0; i < 5; i++) await tick();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    dry.waitForCapacity(),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('still waiting for a drain that already happened')), 2000);
    }),
  ]).finally(() => clearTimeout(timer));
  assert.equal(dry.hasCapacity(), true);
  await dry.end();
});
