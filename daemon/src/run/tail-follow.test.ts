import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, renameSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { documentOf } from '../../test/support/records.js';
import { Counters } from '../metrics/counters.js';
import type { ShippableRecord } from '../parse/kubearmor-record.js';
import type { RecordConsumer, TailedFile } from '../tail/tailed-file.js';
import { Tailer, type TailerOptions } from '../tail/tailer.js';
import { readDeletedBeforeStop, tailFollow } from './tail-follow.js';

function tailerOptions(dir: string): TailerOptions {
  return {
    includes: [join(dir, '*.log')],
    excludes: [],
    startAt: 'beginning',
    nodeName: 'n',
    record: { indexPrefix: 'kubearmor' },
    maxEventBytes: 1 << 20,
    bufferBytes: 1024,
    rotateWaitMs: 1000,
    releasedRetentionMs: 60_000,
  };
}

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
    const tailer = new Tailer(tailerOptions(dir), consumer, new Counters(), []);
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

let next = 0;
function lines(count: number): { text: string; seqs: number[] } {
  let text = '';
  const seqs: number[] = [];
  for (let i = 0; i < count; i++, next++) {
    seqs.push(next);
    text += `2024-01-01T00:00:00.${String(next).padStart(9, '0')}Z stdout F {"Timestamp":1,"Type":"HostLog","Seq":${next}}\n`;
  }
  return { text, seqs };
}

/** Holds at most `limit` records unacknowledged, like the shipper with Elasticsearch down. */
class FullConsumer implements RecordConsumer {
  seen: number[] = [];
  private held: { file: TailedFile; ticket: number }[] = [];
  private waiting: (() => void)[] = [];
  constructor(private limit: number) {}
  /** Records that are not KubeArmor's (a lone piece of an event would be one). */
  relay = 0;
  /** Records flagged truncated (an event's pieces with no end). */
  truncated = 0;
  private acksAtOnce = false;
  onRecord(file: TailedFile, record: ShippableRecord): void {
    if (record.kind === 'relay') this.relay++;
    if (record.flags.includes('truncated')) this.truncated++;
    this.seen.push(documentOf(record).Seq as number);
    if (this.acksAtOnce) file.ack(record.ticket);
    else this.held.push({ file, ticket: record.ticket });
  }
  hasCapacity(): boolean {
    return this.held.length < this.limit;
  }
  waitForCapacity(): Promise<void> {
    if (this.hasCapacity()) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  /** Elasticsearch is back: everything held is acknowledged, and there is room from now on. */
  recover(): void {
    this.limit = Number.POSITIVE_INFINITY;
    this.acksAtOnce = true;
    for (const h of this.held) h.file.ack(h.ticket);
    this.held = [];
    for (const w of this.waiting.splice(0)) w();
  }
}

/**
 * kubelet rotates `current` twice, 150 ms apart (the loop's scans see each file), then deletes
 * both rotated files. `b` and `c` are the lines of the second and third file (the third is live).
 */
async function rotateTwiceThenDelete(
  current: string,
): Promise<{ b: ReturnType<typeof lines>; c: ReturnType<typeof lines> }> {
  const b = lines(6);
  renameSync(current, `${current}.20240101-000001`);
  writeFileSync(current, b.text);
  await sleep(150);
  const c = lines(3);
  renameSync(current, `${current}.20240101-000002`);
  writeFileSync(current, c.text);
  await sleep(150);
  unlinkSync(`${current}.20240101-000001`);
  unlinkSync(`${current}.20240101-000002`);
  return { b, c };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 250 && !condition(); i++) await sleep(20);
  assert.ok(condition(), what);
}

/** The daemon's loop following `dir` into a consumer with room for `room` records, once that is full. */
async function followUntilFull(
  dir: string,
  room: number,
  signal: AbortSignal,
  scanIntervalMs = 20,
): Promise<{ consumer: FullConsumer; tailer: Tailer; done: Promise<void> }> {
  const consumer = new FullConsumer(room);
  const tailer = new Tailer(tailerOptions(dir), consumer, new Counters(), []);
  const done = tailFollow(tailer, {
    scanIntervalMs,
    pollIntervalMs: 10,
    checkpointIntervalMs: 1000,
    signal,
    saveCheckpoints: async () => {},
  });
  await until(() => !consumer.hasCapacity(), 'the consumer fills up');
  return { consumer, tailer, done };
}

/** The runtime's prefix of the pieces of the split events below. */
const PIECE = '2024-01-01T00:00:01.000000000Z stdout';
/** The first piece of a split event (its sequence number comes in its last piece). */
const EVENT_HEAD = `${PIECE} P {"Timestamp":1,"Type":"HostLog",`;

/** The split event came after the lines before it as one KubeArmor record, none of its pieces alone. */
function assertEventWhole(consumer: FullConsumer, before: number[], split: number): void {
  assert.deepEqual(consumer.seen.slice(0, before.length + 1), [...before, split], 'the event is one record');
  assert.equal(consumer.relay, 0);
}

test('while the consumer is full the loop still turns: files rotated and deleted meanwhile are held and read later; a stop is answered', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'follow-full-'));
  const stop = new AbortController();
  const stopOther = new AbortController();
  try {
    const current = join(dir, '0.log');
    const a = lines(40);
    writeFileSync(current, a.text);
    const consumer = new FullConsumer(10);
    const tailer = new Tailer(tailerOptions(dir), consumer, new Counters(), []);
    let turns = 0;
    let saves = 0;
    const done = tailFollow(tailer, {
      scanIntervalMs: 20,
      pollIntervalMs: 10,
      checkpointIntervalMs: 30,
      signal: stop.signal,
      saveCheckpoints: async () => {
        saves++;
      },
      onTurn: () => {
        turns++;
      },
    });
    await until(() => !consumer.hasCapacity(), 'the consumer fills up');
    // A turn may overshoot by what one read of a file holds; then reading stops.
    await sleep(50);
    const seenWhenFull = consumer.seen.length;
    const turnsWhenFull = turns;
    const savesWhenFull = saves;
    // kubelet rotates twice and deletes each rotated file before there is room to read it.
    const { b, c } = await rotateTwiceThenDelete(current);
    assert.equal(consumer.seen.length, seenWhenFull, 'nothing is read while the consumer is full');
    assert.ok(turns > turnsWhenFull + 5, `the loop turned ${turns - turnsWhenFull} times while full`);
    assert.ok(saves > savesWhenFull, 'checkpoints are still saved');
    consumer.recover();
    await until(() => consumer.seen.length === 49, `all 49 records (${consumer.seen.length})`);
    assert.deepEqual(consumer.seen, [...a.seqs, ...b.seqs, ...c.seqs]);

    // Full again, then stopped: the loop returns at once, not when room comes.
    const full = new FullConsumer(2);
    const other = new Tailer(tailerOptions(dir), full, new Counters(), tailer.checkpoints());
    appendFileSync(current, lines(10).text);
    const following = tailFollow(other, {
      scanIntervalMs: 1000,
      pollIntervalMs: 10,
      checkpointIntervalMs: 1000,
      signal: stopOther.signal,
      saveCheckpoints: async () => {},
    });
    await until(() => full.seen.length >= 2, 'the new records arrive');
    const stopped = Date.now();
    stopOther.abort();
    stop.abort();
    await Promise.all([following, done]);
    assert.ok(Date.now() - stopped < 500, `stopped after ${Date.now() - stopped} ms`);
    await other.close();
    await tailer.close();
  } finally {
    stop.abort();
    stopOther.abort();
    await rm(dir, { recursive: true, force: true });
  }
});

test('at a stop, what is left of the files deleted while held open is read first (no restart could); the live file is not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'follow-stop-'));
  const stop = new AbortController();
  try {
    const current = join(dir, '0.log');
    const a = lines(40);
    writeFileSync(current, a.text);
    // Elasticsearch away: room for 10 records.
    const { consumer, tailer, done } = await followUntilFull(dir, 10, stop.signal);
    // Two rotations, both files seen (held open), then deleted by kubelet.
    const { b, c } = await rotateTwiceThenDelete(current);
    assert.equal((await tailer.deletedUnread()).length, 2);
    stop.abort();
    await done;
    // Elasticsearch is back just as the stop comes.
    consumer.recover();
    assert.equal(await readDeletedBeforeStop(tailer, Date.now() + 2000), 2);
    assert.deepEqual(consumer.seen, [...a.seqs, ...b.seqs]);
    assert.deepEqual(await tailer.deletedUnread(), []);
    // Nothing left that only this run could read: the rest is the live file's, for the next start.
    assert.equal(await readDeletedBeforeStop(tailer, Date.now() + 2000), 0);
    assert.ok(!consumer.seen.includes(c.seqs[0] as number));
    await tailer.close();
  } finally {
    stop.abort();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a gzipped rotated file deleted while held open counts too: it is read to its end at the stop', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'follow-stop-gz-'));
  try {
    const current = join(dir, '0.log');
    // kubelet's history: an older rotated file, gzipped, then the live one.
    const a = lines(30);
    writeFileSync(`${current}.20240101-000001.gz`, gzipSync(a.text));
    const b = lines(3);
    writeFileSync(current, b.text);
    const consumer = new FullConsumer(5);
    const tailer = new Tailer(tailerOptions(dir), consumer, new Counters(), []);
    await tailer.scan();
    await tailer.readTurn(false);
    assert.ok(consumer.seen.length < 30, `${consumer.seen.length} read before the stop`);
    unlinkSync(`${current}.20240101-000001.gz`);
    assert.equal((await tailer.deletedUnread()).length, 1);
    consumer.recover();
    assert.equal(await readDeletedBeforeStop(tailer, Date.now() + 2000), 1);
    assert.deepEqual(consumer.seen, a.seqs);
    await tailer.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/**
 * kubelet rotates between an event's pieces while the consumer is full, then deletes the rotated
 * file; the shipper stops. `laterSuccessor`: the new file is still empty at the scan that sees the
 * rotation (only the stop's own scan finds it). `otherRun`: the container's other run (`1.log`)
 * is in the directory too, tracked before the new file and not read to its end.
 */
async function stopWithEventSplitOverDeletedFile(laterSuccessor: boolean, otherRun = false): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'follow-stop-split-'));
  const stop = new AbortController();
  try {
    const current = join(dir, '0.log');
    const a = lines(40);
    const split = next++;
    writeFileSync(current, `${a.text}${EVENT_HEAD}\n`);
    const other = otherRun ? lines(40) : lines(0);
    if (otherRun) writeFileSync(join(dir, '1.log'), other.text);
    const { consumer, tailer, done } = await followUntilFull(dir, 10, stop.signal);
    // kubelet rotates between the event's pieces, the scan sees the new file, then the rotated one is deleted.
    renameSync(current, `${current}.20240101-000001`);
    const b = lines(5);
    if (laterSuccessor) {
      writeFileSync(current, '');
      await sleep(150);
      appendFileSync(current, `${PIECE} F "Seq":${split}}\n${b.text}`);
    } else {
      writeFileSync(current, `${PIECE} F "Seq":${split}}\n${b.text}`);
      await sleep(150);
    }
    unlinkSync(`${current}.20240101-000001`);
    stop.abort();
    await done;
    consumer.recover();
    assert.equal(await readDeletedBeforeStop(tailer, Date.now() + 2000), 1);
    const ofOtherRun = new Set(other.seqs);
    const seen = consumer.seen.filter((n) => !ofOtherRun.has(n));
    assert.deepEqual(seen.slice(0, a.seqs.length + 1), [...a.seqs, split], 'the event is one record');
    assert.equal(consumer.relay, 0);
    const checkpoints = tailer.checkpoints();
    await tailer.close();

    // The restart: the rotated file is gone; the new one resumes past the event's last piece.
    const again = new FullConsumer(Number.POSITIVE_INFINITY);
    const restarted = new Tailer(tailerOptions(dir), again, new Counters(), checkpoints);
    await restarted.scan();
    while ((await restarted.readTurn(false)) > 0) {}
    await restarted.close();
    assert.equal(again.relay, 0, 'no piece of the event is a record of its own');
    assert.deepEqual([...seen.slice(41), ...again.seen.filter((n) => !ofOtherRun.has(n))], b.seqs);
  } finally {
    stop.abort();
    await rm(dir, { recursive: true, force: true });
  }
}

test('at a stop, an event whose first pieces end a file deleted while held open is completed from the file after it', async () => {
  await stopWithEventSplitOverDeletedFile(false);
});

test('at a stop, the file after a deleted one that ends in an open event is looked for, if no scan found it yet', async () => {
  await stopWithEventSplitOverDeletedFile(true);
});

test("at a stop, the file after a deleted one is read though the container's other run waits unread in the directory", async () => {
  await stopWithEventSplitOverDeletedFile(false, true);
});

/**
 * A live file of 40 lines followed until the consumer is full, with no scan after the first (none
 * sees what happens to it next); `meanwhile` changes the directory and returns the lines to come
 * after those read. Then the stop: room again, and what is left of the deleted files read.
 */
async function stopAfterNoScanSaw(
  prefix: string,
  meanwhile: (dir: string, current: string) => number[],
): Promise<{ written: number[]; rest: number[]; seen: number[]; deleted: number }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const stop = new AbortController();
  try {
    const current = join(dir, '0.log');
    const a = lines(40);
    writeFileSync(current, a.text);
    const { consumer, tailer, done } = await followUntilFull(dir, 10, stop.signal, 60_000);
    const rest = meanwhile(dir, current);
    stop.abort();
    await done;
    consumer.recover();
    const deleted = await readDeletedBeforeStop(tailer, Date.now() + 2000);
    await tailer.close();
    return { written: a.seqs, rest, seen: consumer.seen, deleted };
  } finally {
    stop.abort();
    await rm(dir, { recursive: true, force: true });
  }
}

test('at a stop, a file deleted before any scan saw it go (its pod deleted) is read to its end too', async () => {
  const { written, seen, deleted } = await stopAfterNoScanSaw('follow-stop-pod-', (_dir, current) => {
    unlinkSync(current);
    return [];
  });
  assert.equal(deleted, 1);
  assert.deepEqual(seen, written);
});

test('at a stop, a file copy-truncated, written on and deleted since the last look is read in its new content', async () => {
  const { written, rest, seen } = await stopAfterNoScanSaw('follow-stop-replaced-', (dir, current) => {
    copyFileSync(current, join(dir, '0.log.20240101-000001'));
    truncateSync(current, 0);
    // Shorter than what was read: only its head says it is other content.
    const fresh = lines(3);
    writeFileSync(current, fresh.text);
    // The pod deleted: the copy too, which the tailer never opened.
    unlinkSync(join(dir, '0.log.20240101-000001'));
    unlinkSync(current);
    return fresh.seqs;
  });
  // What was read of the old content (the rest of it went with the copy), then the new content.
  assert.deepEqual(seen, [...written.slice(0, seen.length - rest.length), ...rest]);
});

test('at a stop, the older files before a deleted one are read first (in order), so the deleted one can be read at all', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'follow-stop-older-'));
  try {
    const current = join(dir, '0.log');
    const a = lines(30);
    writeFileSync(`${current}.20240101-000001`, a.text);
    const b = lines(20);
    writeFileSync(`${current}.20240101-000002`, b.text);
    const c = lines(3);
    writeFileSync(current, c.text);
    const consumer = new FullConsumer(5);
    const tailer = new Tailer(tailerOptions(dir), consumer, new Counters(), []);
    await tailer.scan();
    await tailer.readTurn(false);
    assert.ok(consumer.seen.length < 30, `${consumer.seen.length} read before the stop`);
    // The second file is deleted while the first, still on disk, is being read: the tailer reads
    // a directory's files oldest first, so the first must be read at the stop too.
    unlinkSync(`${current}.20240101-000002`);
    consumer.recover();
    assert.equal(await readDeletedBeforeStop(tailer, Date.now() + 2000), 1);
    assert.deepEqual(consumer.seen, [...a.seqs, ...b.seqs]);
    await tailer.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('at a stop, the file after a deleted one is followed into its copy if it was copy-truncated since the last scan', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'follow-stop-copy-'));
  try {
    const current = join(dir, '0.log');
    const a = lines(30);
    const split = next++;
    writeFileSync(`${current}.20240101-000001`, `${a.text}${EVENT_HEAD}\n`);
    const b = lines(5);
    writeFileSync(current, `${PIECE} F "Seq":${split}}\n${b.text}`);
    const consumer = new FullConsumer(5);
    const tailer = new Tailer(tailerOptions(dir), consumer, new Counters(), []);
    await tailer.scan();
    await tailer.readTurn(false);
    assert.ok(consumer.seen.length < 30, `${consumer.seen.length} read before the stop`);
    unlinkSync(`${current}.20240101-000001`);
    // Then the live file is copy-truncated, and no scan sees it before the stop.
    copyFileSync(current, `${current}.20240101-000002`);
    truncateSync(current, 0);
    consumer.recover();
    assert.equal(await readDeletedBeforeStop(tailer, Date.now() + 2000), 1);
    assertEventWhole(consumer, a.seqs, split);
    await tailer.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('at a stop, an event handed over by a file read to its end, let go and deleted is completed from the file after it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'follow-stop-handed-'));
  try {
    const current = join(dir, '0.log');
    const a = lines(30);
    const split = next++;
    writeFileSync(`${current}.20240101-000001`, `${a.text}${EVENT_HEAD}"Pad":"\n`);
    // The event's last pieces are more than one read (1 KiB) of the new file.
    const middle = `${PIECE} P ${'x'.repeat(80)}\n`.repeat(20);
    const b = lines(3);
    writeFileSync(current, `${middle}${PIECE} F ","Seq":${split}}\n${b.text}`);
    const consumer = new FullConsumer(Number.POSITIVE_INFINITY);
    const tailer = new Tailer(tailerOptions(dir), consumer, new Counters(), []);
    await tailer.scan();
    const live = () => tailer.trackedFiles().find((f) => f.realPath === current) as TailedFile;
    for (let i = 0; i < 20 && !live().begun; i++) await tailer.readTurn(false);
    assert.ok(live().decoder.hasHandedOverEvents(), 'the event went on in the new file');
    // The old file is let go (read to its end), then kubelet deletes it; the shipper stops.
    await tailer.maintain(true);
    assert.ok(tailer.trackedFiles()[0]?.closed);
    unlinkSync(`${current}.20240101-000001`);
    assert.equal(await readDeletedBeforeStop(tailer, Date.now() + 2000), 0);
    assertEventWhole(consumer, a.seqs, split);
    await tailer.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('at a stop, the first pieces of an event that end a deleted file no file completes are shipped, flagged truncated', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'follow-stop-pod-split-'));
  try {
    const current = join(dir, '0.log');
    const a = lines(5);
    writeFileSync(current, `${a.text}${EVENT_HEAD}\n`);
    const consumer = new FullConsumer(Number.POSITIVE_INFINITY);
    const tailer = new Tailer(tailerOptions(dir), consumer, new Counters(), []);
    await tailer.scan();
    while ((await tailer.readTurn(false)) > 0) {}
    // The pod is deleted, its file with it, the event still open.
    unlinkSync(current);
    assert.equal(await readDeletedBeforeStop(tailer, Date.now() + 2000), 1);
    assert.equal(consumer.seen.length, 6);
    assert.equal(consumer.truncated, 1);
    await tailer.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
