import assert from 'node:assert/strict';
import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { documentOf, keptRecord } from '../../test/support/records.js';
import type { FileCheckpoint } from '../checkpoint/checkpoint-store.js';
import { Counters } from '../metrics/counters.js';
import { documentId, documentIdPrefix, type ShippableRecord } from '../parse/kubearmor-record.js';
import { tailOnce } from '../run/tail-once.js';
import { FINGERPRINT_MAX_BYTES, hashHead } from './file-identity.js';
import type { RecordConsumer, TailedFile } from './tailed-file.js';
import { Tailer, type TailerOptions } from './tailer.js';

/** Acknowledges everything at once, like the dry-run output. */
class Collector implements RecordConsumer {
  records: ShippableRecord[] = [];
  onRecord(file: TailedFile, record: ShippableRecord): void {
    this.records.push(keptRecord(record));
    file.ack(record.ticket);
  }
  hasCapacity(): boolean {
    return true;
  }
  async waitForCapacity(): Promise<void> {}
  seqs(): number[] {
    return this.records.map((r) => Number(documentOf(r).Seq ?? -1));
  }
}

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tailer-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

let seq = 0;
/** CRI lines with increasing sequence numbers (and times, so every file's first line differs). */
function lines(count: number): { text: string; seqs: number[] } {
  let text = '';
  const seqs: number[] = [];
  for (let i = 0; i < count; i++) {
    const n = seq++;
    seqs.push(n);
    text += `2024-01-01T00:00:00.${String(n).padStart(9, '0')}Z stdout F {"Timestamp":1704067200,"Type":"ContainerLog","Seq":${n},"Pad":"${'x'.repeat(80)}"}\n`;
  }
  return { text, seqs };
}

/** A kubelet-like layout: pods/<ns>_<pod>_<uid>/<container>/0.log, symlinked from containers/. */
function container(name: string): { dir: string; current: string; glob: string } {
  const base = join(root, name);
  const dir = join(base, 'pods', `ns_${name}_uid`, 'ctr');
  mkdirSync(dir, { recursive: true });
  mkdirSync(join(base, 'containers'), { recursive: true });
  const current = join(dir, '0.log');
  writeFileSync(current, '');
  symlinkSync(current, join(base, 'containers', `${name}_ns_ctr-abc.log`));
  return { dir, current, glob: join(base, 'containers', '*.log') };
}

function options(glob: string, extra: Partial<TailerOptions> = {}): TailerOptions {
  return {
    includes: [glob],
    excludes: [],
    startAt: 'beginning',
    nodeName: 'node-a',
    record: { indexPrefix: 'kubearmor' },
    maxEventBytes: 1 << 20,
    bufferBytes: 4096,
    rotateWaitMs: 5000,
    releasedRetentionMs: 3600_000,
    ...extra,
  };
}

/** A tailer on a clock the test moves, with a rotate wait of 1 s. */
function clockedTailer(glob: string, collector: Collector): { tailer: Tailer; clock: { now: number } } {
  const clock = { now: 0 };
  const tailer = new Tailer(
    options(glob, { rotateWaitMs: 1000, now: () => clock.now }),
    collector,
    new Counters(),
    [],
  );
  return { tailer, clock };
}

async function runOnce(
  glob: string,
  checkpoints: FileCheckpoint[],
  extra: Partial<TailerOptions> = {},
): Promise<{ collector: Collector; checkpoints: FileCheckpoint[]; counters: Counters }> {
  const collector = new Collector();
  const counters = new Counters();
  const tailer = new Tailer(options(glob, extra), collector, counters, structuredClone(checkpoints));
  await tailOnce(tailer);
  await tailer.close();
  return { collector, checkpoints: tailer.checkpoints(), counters };
}

describe('rotation', () => {
  test('stopped during rotation: the checkpointed file is finished from its gzip, then the newer files', async () => {
    const c = container('stopped');
    const a = lines(60);
    writeFileSync(c.current, a.text);
    // First run reads part of A: a tailer with a tiny buffer, stopped after two reads.
    const collector = new Collector();
    const tailer = new Tailer(options(c.glob, { bufferBytes: 512 }), collector, new Counters(), []);
    await tailer.scan();
    await tailer.readTurn();
    await tailer.readTurn();
    const saved = tailer.checkpoints();
    await tailer.close();
    const firstSeqs = collector.seqs();
    assert.ok(firstSeqs.length > 0 && firstSeqs.length < 60, `read ${firstSeqs.length} of 60 lines`);

    // While stopped: A rotated (renamed), B written and rotated, A gzipped, C written.
    renameSync(c.current, `${c.current}.20240101-000001`);
    const b = lines(25);
    writeFileSync(c.current, b.text);
    renameSync(c.current, `${c.current}.20240101-000002`);
    writeFileSync(`${c.current}.20240101-000001.gz`, gzipSync(readFileSync(`${c.current}.20240101-000001`)));
    unlinkSync(`${c.current}.20240101-000001`);
    const cc = lines(10);
    writeFileSync(c.current, cc.text);

    const second = await runOnce(c.glob, saved);
    assert.deepEqual(second.collector.seqs(), [...a.seqs.slice(firstSeqs.length), ...b.seqs, ...cc.seqs]);
    assert.deepEqual(second.counters.byLabel('bytes_lost'), {});
    // Ids continue those of the first run: the same file, whatever its name and inode now.
    const ids = new Set([...collector.records, ...second.collector.records].map((r) => documentId(r)));
    assert.equal(ids.size, 60 + 25 + 10);
    assert.equal(collector.records[0]?.idPrefix, second.collector.records[0]?.idPrefix);
  });

  test('rotated between the listing and the open, after a restart: the file is read once, under one id', async () => {
    const c = container('renamedmidscan');
    const a = lines(20);
    writeFileSync(c.current, a.text);
    const first = await runOnce(c.glob, []);
    // While stopped: A rotated, B written. On the restart the tailer opens B as the current file,
    // and kubelet rotates B and starts C before the tailer has looked at the directory's siblings.
    renameSync(c.current, `${c.current}.20240101-000001`);
    const b = lines(15);
    writeFileSync(c.current, b.text);
    const collector = new Collector();
    const counters = new Counters();
    const tailer = new Tailer(options(c.glob), collector, counters, structuredClone(first.checkpoints));
    // The window: after the tailer opened the listed file, before it looks at the siblings.
    const inside = tailer as unknown as { takeCheckpoint(identity: unknown): unknown };
    const takeCheckpoint = inside.takeCheckpoint.bind(tailer);
    let rotated = false;
    const cc = lines(5);
    inside.takeCheckpoint = (identity) => {
      if (!rotated) {
        rotated = true;
        renameSync(c.current, `${c.current}.20240101-000002`);
        writeFileSync(c.current, cc.text);
      }
      return takeCheckpoint(identity);
    };
    await tailOnce(tailer);
    await tailer.close();
    assert.deepEqual(collector.seqs(), [...b.seqs, ...cc.seqs]);
    assert.equal(new Set(collector.records.map((r) => documentId(r))).size, collector.records.length);
  });

  test("docker's rotation while stopped (every rotated file renamed up by one, older ones gzipped): resumed, in order", async () => {
    const base = join(root, 'dockerrot');
    const dir = join(base, 'docker', 'containers', 'abc');
    mkdirSync(dir, { recursive: true });
    mkdirSync(join(base, 'containers'), { recursive: true });
    const current = join(dir, 'abc-json.log');
    symlinkSync(current, join(base, 'containers', 'pod_ns_ctr-abc.log'));
    const glob = join(base, 'containers', '*.log');
    const a = lines(60);
    writeFileSync(current, a.text);
    const collector = new Collector();
    const tailer = new Tailer(options(glob, { bufferBytes: 512 }), collector, new Counters(), []);
    await tailer.scan();
    await tailer.readTurn();
    const saved = tailer.checkpoints();
    await tailer.close();
    const firstSeqs = collector.seqs();
    assert.ok(firstSeqs.length > 0 && firstSeqs.length < 60);
    // Two rotations while stopped: A becomes .1 then .2 (gzipped), B becomes .1, C is current.
    renameSync(current, `${current}.1`);
    const b = lines(20);
    writeFileSync(current, b.text);
    writeFileSync(`${current}.2.gz`, gzipSync(readFileSync(`${current}.1`)));
    unlinkSync(`${current}.1`);
    renameSync(current, `${current}.1`);
    const cc = lines(7);
    writeFileSync(current, cc.text);
    const second = await runOnce(glob, saved);
    assert.deepEqual(second.collector.seqs(), [...a.seqs.slice(firstSeqs.length), ...b.seqs, ...cc.seqs]);
    assert.deepEqual(second.counters.byLabel('bytes_lost'), {});
  });

  test("docker's rotated files get the pod their directory's link names, though their own path names none", async () => {
    const id = 'd'.repeat(64);
    const base = join(root, 'dockermeta');
    const dir = join(base, 'docker', 'containers', id);
    const podDir = join(base, 'pods', 'shop_cart-1_uid-7', 'app');
    for (const d of [dir, podDir, join(base, 'containers')]) mkdirSync(d, { recursive: true });
    const current = join(dir, `${id}-json.log`);
    // kubelet's two links, as under cri-dockerd: containers/… → pods/…/0.log → docker's file.
    symlinkSync(current, join(podDir, '0.log'));
    symlinkSync(join(podDir, '0.log'), join(base, 'containers', `cart-1_shop_app-${id}.log`));
    const glob = join(base, 'containers', '*.log');
    const a = lines(3);
    writeFileSync(`${current}.1`, a.text);
    const b = lines(2);
    writeFileSync(current, b.text);
    const run = await runOnce(glob, []);
    assert.deepEqual(run.collector.seqs(), [...a.seqs, ...b.seqs]);
    // The same fields as the current file's (the middle link, which names the uid, is not seen).
    const fields = run.collector.records.map((r) => {
      const k = documentOf(r).kubernetes as Record<string, Record<string, unknown>>;
      return [k.namespace, k.pod?.name, k.container?.name, k.container?.id];
    });
    assert.deepEqual(fields, Array(5).fill(['shop', 'cart-1', 'app', id]));
  });

  test('a directory first seen just after a rotation (its current file empty): its rotated files are read now', async () => {
    const c = container('quiet');
    const a = lines(8);
    writeFileSync(`${c.current}.20240101-000001.gz`, gzipSync(a.text));
    const b = lines(5);
    writeFileSync(`${c.current}.20240101-000002`, b.text);
    const run = await runOnce(c.glob, []);
    assert.deepEqual(run.collector.seqs(), [...a.seqs, ...b.seqs]);
    // Once the container writes again, only the new lines come.
    const cc = lines(2);
    writeFileSync(c.current, cc.text);
    const next = await runOnce(c.glob, run.checkpoints);
    assert.deepEqual(next.collector.seqs(), cc.seqs);
  });

  test('rotations between two looks, the file we followed already deleted: the newer rotated files are still read, in order', async () => {
    for (const restart of [false, true]) {
      const c = container(`deleted-${restart}`);
      const a = lines(5);
      writeFileSync(c.current, a.text);
      const collector = new Collector();
      const tailer = new Tailer(options(c.glob), collector, new Counters(), []);
      await tailer.scan();
      await tailer.readTurn();
      if (restart) await tailer.close();
      // Three rotations before the next scan; kubelet deletes the oldest rotated file, ours.
      const b = lines(4);
      const cc = lines(3);
      const d = lines(2);
      for (const [n, next] of [b, cc, d].entries()) {
        renameSync(c.current, `${c.current}.20240101-00000${n + 1}`);
        writeFileSync(c.current, next.text);
      }
      unlinkSync(`${c.current}.20240101-000001`);
      if (restart) {
        const second = await runOnce(c.glob, tailer.checkpoints());
        assert.deepEqual(
          [...collector.seqs(), ...second.collector.seqs()],
          [...a.seqs, ...b.seqs, ...cc.seqs, ...d.seqs],
        );
        assert.deepEqual(second.counters.byLabel('bytes_lost'), {});
      } else {
        await tailOnce(tailer);
        await tailer.close();
        assert.deepEqual(collector.seqs(), [...a.seqs, ...b.seqs, ...cc.seqs, ...d.seqs], 'live');
      }
    }
  });

  test('a live rotation: the old file is read to its end, then the new one from byte 0', async () => {
    const c = container('live');
    const a = lines(5);
    writeFileSync(c.current, a.text);
    const collector = new Collector();
    const { tailer, clock } = clockedTailer(c.glob, collector);
    await tailer.scan();
    await tailer.readTurn();
    const late = lines(3);
    appendFileSync(c.current, late.text);
    renameSync(c.current, `${c.current}.20240101-000001`);
    const b = lines(4);
    writeFileSync(c.current, b.text);
    await tailer.scan();
    for (let i = 0; i < 5; i++) {
      await tailer.readTurn();
      await tailer.maintain(false);
    }
    assert.deepEqual(collector.seqs(), [...a.seqs, ...late.seqs, ...b.seqs]);
    // The rotated file stays open for the grace period, then is let go.
    assert.equal(tailer.trackedFiles().length, 2);
    clock.now += 1500;
    await tailer.maintain(false);
    await tailer.maintain(false);
    assert.equal(tailer.trackedFiles().length, 1);
    await tailer.close();
  });

  test('a deleted file is read to its end, then released', async () => {
    const c = container('deleted');
    const a = lines(50);
    writeFileSync(c.current, a.text);
    const collector = new Collector();
    const counters = new Counters();
    const tailer = new Tailer(options(c.glob, { bufferBytes: 512 }), collector, counters, []);
    await tailer.scan();
    await tailer.readTurn();
    unlinkSync(c.current);
    await tailOnce(tailer);
    assert.deepEqual(collector.seqs(), a.seqs);
    assert.equal(counters.get('files_released'), 1);
    assert.deepEqual(tailer.trackedFiles(), []);
    await tailer.close();
  });
});

describe('an event whose pieces straddle a rotation', () => {
  /** CRI pieces of one event: the first `head` of `count` pieces, and the rest. */
  function splitEvent(count: number, head: number): { head: string; rest: string; seq: number } {
    const n = seq++;
    const json = `{"Timestamp":1704067200,"Type":"ContainerLog","Seq":${n},"Pad":"${'y'.repeat(200)}"}`;
    const size = Math.ceil(json.length / count);
    const pieces: string[] = [];
    for (let i = 0; i < count; i++) {
      const flag = i === count - 1 ? 'F' : 'P';
      pieces.push(
        `2024-01-01T00:00:01.${String(n).padStart(9, '0')}Z stdout ${flag} ${json.slice(i * size, (i + 1) * size)}\n`,
      );
    }
    return { head: pieces.slice(0, head).join(''), rest: pieces.slice(head).join(''), seq: n };
  }
  /** A line of the other stream (not KubeArmor's: a relay record). */
  const stderrLine = `2024-01-01T00:00:02.000000000Z stderr F starting\n`;

  /** Acknowledges only when told. */
  class Holder implements RecordConsumer {
    delivered: { file: TailedFile; record: ShippableRecord }[] = [];
    onRecord(file: TailedFile, record: ShippableRecord): void {
      this.delivered.push({ file, record: keptRecord(record) });
    }
    hasCapacity(): boolean {
      return true;
    }
    async waitForCapacity(): Promise<void> {}
    ack(which: (r: ShippableRecord) => boolean): void {
      for (const d of this.delivered) if (which(d.record)) d.file.ack(d.record.ticket);
    }
    seqs(): number[] {
      return this.delivered.map((d) => Number(documentOf(d.record).Seq ?? -1));
    }
  }

  test("a live rotation between its pieces: one record, with the first file's id and offset", async () => {
    const c = container('straddle');
    const before = lines(2);
    const event = splitEvent(4, 3);
    writeFileSync(c.current, before.text + event.head);
    const collector = new Collector();
    const { tailer, clock } = clockedTailer(c.glob, collector);
    await tailer.scan();
    await tailer.readTurn();
    const originKey = (tailer.trackedFiles()[0] as TailedFile).key;
    renameSync(c.current, `${c.current}.20240101-000001`);
    const after = lines(1);
    writeFileSync(c.current, event.rest + after.text);
    await tailer.scan();
    for (let i = 0; i < 4; i++) {
      await tailer.readTurn();
      await tailer.maintain(false);
    }
    assert.deepEqual(collector.seqs(), [...before.seqs, event.seq, ...after.seqs]);
    const joined = collector.records[2] as ShippableRecord;
    const doc = documentOf(joined);
    assert.equal(joined.kind, 'log');
    assert.equal(joined.start, Buffer.byteLength(before.text));
    assert.equal(joined.idPrefix, documentIdPrefix('node-a', originKey));
    assert.deepEqual((doc.log as { parts: number; flags?: unknown }).parts, 4);
    assert.equal((doc.log as { flags?: unknown }).flags, undefined);
    // Both files' checkpoints are past it; the old file goes after its grace.
    clock.now += 1500;
    await tailer.scan();
    await tailer.maintain(false);
    const saved = tailer.checkpoints();
    await tailer.maintain(false);
    assert.equal(tailer.trackedFiles().length, 1);
    assert.ok(
      saved.every((cp) => cp.offset === cp.size),
      JSON.stringify(saved),
    );
    await tailer.close();
  });

  test('a restart before both files are past it reads it again, whole, under the same id; after, never', async () => {
    const c = container('straddle-restart');
    const event = splitEvent(3, 2);
    const headAt = 0;
    writeFileSync(c.current, event.head);
    renameSync(c.current, `${c.current}.20240101-000001`);
    const after = lines(1);
    writeFileSync(c.current, stderrLine + event.rest + after.text);

    // First run: the joined record is acknowledged, the stderr line before its last piece is not.
    const first = new Holder();
    let tailer = new Tailer(options(c.glob), first, new Counters(), []);
    await tailOnce(tailer);
    const joined = first.delivered.find((d) => d.record.start === headAt && d.record.kind === 'log');
    assert.ok(joined, 'the event came whole');
    first.ack((r) => r.kind !== 'relay');
    let saved = tailer.checkpoints();
    await tailer.close();
    // The new file stops before the stderr line; so the old one must stop before the event.
    const byName = new Map(saved.map((cp) => [cp.path.endsWith('0.log') ? 'new' : 'old', cp.offset]));
    assert.equal(byName.get('new'), 0);
    assert.equal(byName.get('old'), headAt);

    // Restart there: the event again, whole, under the same id; no piece of it alone.
    const second = new Holder();
    tailer = new Tailer(options(c.glob), second, new Counters(), structuredClone(saved));
    await tailOnce(tailer);
    const again = second.delivered.map((d) => d.record);
    assert.ok(
      again.every((r) => r.kind !== 'relay' || documentOf(r).message === 'starting'),
      'no piece came alone',
    );
    assert.deepEqual(
      again.filter((r) => r.start === headAt && r.kind === 'log').map((r) => documentId(r)),
      [documentId(joined.record)],
    );
    second.ack(() => true);
    saved = tailer.checkpoints();
    await tailer.close();
    for (const cp of saved) assert.equal(cp.offset, statSync(cp.path).size, cp.path);

    // Everything acknowledged and saved: nothing comes again.
    const third = await runOnce(c.glob, saved);
    assert.deepEqual(third.collector.records, []);
  });

  test('in one file, a line of the other stream between its pieces acknowledged after it: the checkpoint stays before the event', async () => {
    const c = container('interleaved');
    const event = splitEvent(3, 2);
    writeFileSync(c.current, event.head + stderrLine + event.rest);
    const first = new Holder();
    let tailer = new Tailer(options(c.glob), first, new Counters(), []);
    await tailOnce(tailer);
    first.ack((r) => r.kind !== 'relay');
    const saved = tailer.checkpoints();
    await tailer.close();
    // Not at the stderr line: from there, the event's last piece would be a record of its own.
    assert.deepEqual(
      saved.map((cp) => cp.offset),
      [0],
    );
    const second = new Holder();
    tailer = new Tailer(options(c.glob), second, new Counters(), structuredClone(saved));
    await tailOnce(tailer);
    await tailer.close();
    assert.deepEqual(
      second.delivered.map((d) => [d.record.kind, d.record.start]),
      [
        ['relay', Buffer.byteLength(event.head)],
        ['log', 0],
      ],
    );
  });

  test('rotated away mid-event and the new file stays empty: after the grace and a scan, its pieces go out flagged truncated', async () => {
    const c = container('straddle-alone');
    const event = splitEvent(3, 2);
    writeFileSync(c.current, event.head);
    const collector = new Collector();
    const { tailer, clock } = clockedTailer(c.glob, collector);
    await tailer.scan();
    await tailer.readTurn();
    renameSync(c.current, `${c.current}.20240101-000001`);
    writeFileSync(c.current, '');
    await tailer.scan();
    await tailer.readTurn();
    await tailer.readTurn();
    clock.now += 1500;
    await tailer.maintain(false);
    // Not before a scan has looked for the new file.
    assert.equal(collector.records.length, 0);
    clock.now += 200;
    await tailer.scan();
    await tailer.maintain(false);
    // Cut short, the JSON does not parse: a relay record, its text kept whole.
    assert.equal(collector.records.length, 1);
    const doc = documentOf(collector.records[0] as ShippableRecord);
    assert.match(String(doc.message), new RegExp(`"Seq":${event.seq},`));
    assert.deepEqual((doc.log as { flags?: string[] }).flags, ['truncated']);
    await tailer.close();
  });
});

describe('truncation', () => {
  test('copy-truncate while stopped: the rest comes from the copy, the new content from byte 0', async () => {
    const c = container('copytrunc');
    const a = lines(20);
    writeFileSync(c.current, a.text);
    const first = await runOnce(c.glob, []);
    const more = lines(5);
    appendFileSync(c.current, more.text);
    copyFileSync(c.current, `${c.current}.1`);
    truncateSync(c.current, 0);
    const fresh = lines(3);
    writeFileSync(c.current, fresh.text);
    const second = await runOnce(c.glob, first.checkpoints);
    assert.deepEqual(second.collector.seqs(), [...more.seqs, ...fresh.seqs]);
    assert.deepEqual(second.counters.byLabel('bytes_lost'), {});
  });

  test('truncated with no copy: what was not read is counted as lost, the new content read from 0', async () => {
    const c = container('trunc');
    const a = lines(10);
    writeFileSync(c.current, a.text);
    const collector = new Collector();
    const counters = new Counters();
    const tailer = new Tailer(options(c.glob), collector, counters, []);
    await tailOnce(tailer);
    const unread = lines(4);
    appendFileSync(c.current, unread.text);
    const size = statSync(c.current).size;
    truncateSync(c.current, 0);
    const b = lines(2);
    writeFileSync(c.current, b.text);
    await tailer.maintain(true);
    await tailOnce(tailer);
    assert.deepEqual(collector.seqs(), [...a.seqs, ...b.seqs]);
    assert.equal(counters.get('truncations'), 1);
    // We had seen the file at its old size: the unread part of it is reported.
    assert.ok(counters.get('bytes_lost', 'truncated') <= size);
    await tailer.close();
  });

  test('copy-truncated, written on, then deleted before a scan: the new content comes by the descriptor held', async () => {
    await replacedThenPodDeleted('trunc-deleted', (current) => {
      appendFileSync(current, lines(3).text);
      copyFileSync(current, `${current}.20240101-000001`);
      truncateSync(current, 0);
      // Longer than what was read: by its size alone, the file only grew. (The copy's 3 lines go
      // with the pod: the tailer never held the copy.)
      const fresh = lines(20);
      appendFileSync(current, fresh.text);
      return fresh.seqs;
    });
  });

  test('replaced in place by content exactly as long as what was read, then deleted: the new content still comes', async () => {
    await replacedThenPodDeleted('trunc-same-size', (current, read) => {
      truncateSync(current, 0);
      const fresh = lines(9);
      const last = lines(1);
      // The last line padded so the new content is as long as the old: the size shows no change.
      const missing = Buffer.byteLength(read) - Buffer.byteLength(fresh.text + last.text);
      appendFileSync(current, fresh.text + last.text.replace('"Pad":"', `"Pad":"${'y'.repeat(missing)}`));
      assert.equal(statSync(current).size, Buffer.byteLength(read));
      return [...fresh.seqs, ...last.seqs];
    });
  });
});

/**
 * A container's file of 10 lines, read whole; then `replace` rewrites it in place (returning the
 * lines it wrote), the pod is deleted (its files and link: the tailer holds only the live file's
 * descriptor), and the tailer turns past its grace. The new content must come after the old.
 */
async function replacedThenPodDeleted(
  name: string,
  replace: (current: string, read: string) => number[],
): Promise<void> {
  const c = container(name);
  const a = lines(10);
  writeFileSync(c.current, a.text);
  const collector = new Collector();
  const { tailer, clock } = clockedTailer(c.glob, collector);
  await tailer.scan();
  await tailer.readTurn();
  await tailer.readTurn();
  const fresh = replace(c.current, a.text);
  await rm(join(c.dir, '..', '..', '..'), { recursive: true });
  await tailer.scan();
  for (let i = 0; i < 6; i++) {
    clock.now += 300;
    await tailer.maintain(false);
    await tailer.readTurn();
  }
  assert.deepEqual(collector.seqs(), [...a.seqs, ...fresh]);
  await tailer.close();
}

describe('container restarts', () => {
  /** The container's next run: `<n>.log` beside the last run's files, with a link of its own. */
  function nextRun(c: ReturnType<typeof container>, n: number): string {
    const current = join(c.dir, `${n}.log`);
    writeFileSync(current, '');
    symlinkSync(current, c.glob.replace('*.log', `run${n}_ns_ctr-${n}.log`));
    return current;
  }

  test('first start on a directory with two runs, each rotated: both histories are read, each in order', async () => {
    const c = container('two-runs');
    const a = lines(5);
    writeFileSync(`${c.current}.20240101-000001`, a.text);
    const b = lines(5);
    writeFileSync(c.current, b.text);
    const second = nextRun(c, 1);
    const d = lines(5);
    writeFileSync(`${second}.20240101-000002`, d.text);
    const e = lines(5);
    writeFileSync(second, e.text);
    const { collector } = await runOnce(c.glob, []);
    // Each run in order (the runs themselves may come in either order).
    const seqs = collector.seqs();
    const secondRun = d.seqs[0] as number;
    assert.deepEqual(
      seqs.filter((n) => n < secondRun),
      [...a.seqs, ...b.seqs],
    );
    assert.deepEqual(
      seqs.filter((n) => n >= secondRun),
      [...d.seqs, ...e.seqs],
    );
  });
});

describe('identity', () => {
  test('a checkpoint whose inode now holds other content is not trusted', async () => {
    const c = container('reuse');
    const a = lines(3);
    writeFileSync(c.current, a.text);
    const st = statSync(c.current);
    const stale: FileCheckpoint = {
      key: 'old',
      dev: st.dev,
      ino: st.ino,
      fingerprint: '0123456789abcdef',
      fingerprintBytes: 100,
      path: c.current,
      offset: 150,
      size: 400,
      released: false,
      updatedAt: new Date().toISOString(),
    };
    const run = await runOnce(c.glob, [stale]);
    assert.deepEqual(run.collector.seqs(), a.seqs);
    assert.equal(run.counters.get('bytes_lost', 'missing_after_restart'), 250);
  });

  test('the current file put back as a copy of itself while stopped (new inode, same bytes): resumed, not read again', async () => {
    const c = container('copiedback');
    writeFileSync(c.current, lines(10).text);
    const first = await runOnce(c.glob, []);
    const more = lines(3);
    copyFileSync(c.current, `${c.current}.tmp`);
    appendFileSync(`${c.current}.tmp`, more.text);
    renameSync(`${c.current}.tmp`, c.current);
    const second = await runOnce(c.glob, first.checkpoints);
    assert.deepEqual(second.collector.seqs(), more.seqs);
    assert.equal(first.collector.records[0]?.idPrefix, second.collector.records[0]?.idPrefix);
  });

  /** docker json-file lines; each file begins with the last piece of a long line, alike for its first KiB. */
  function dockerFiles(
    name: string,
    count: number,
  ): { dir: string; current: string; glob: string; seqs: number[] } {
    const base = join(root, name);
    const dir = join(base, 'docker', 'containers', 'abc');
    mkdirSync(dir, { recursive: true });
    mkdirSync(join(base, 'containers'), { recursive: true });
    const current = join(dir, 'abc-json.log');
    symlinkSync(current, join(base, 'containers', 'pod_ns_ctr-abc.log'));
    const seqs: number[] = [];
    // Oldest first: .<count-1>, …, .1, then the current file.
    for (let k = count - 1; k >= 0; k--) {
      const time = `2024-07-26T10:00:0${count - k}.000000001Z`;
      let text = `${JSON.stringify({ log: `${'A'.repeat(3000)}"}\n`, stream: 'stdout', time })}\n`;
      for (let i = 0; i < 3; i++) {
        const n = seq++;
        seqs.push(n);
        const log = `{"Timestamp":1721988000,"Type":"ContainerLog","Seq":${n}}\n`;
        text += `${JSON.stringify({ log, stream: 'stdout', time })}\n`;
      }
      writeFileSync(k === 0 ? current : `${current}.${k}`, text);
    }
    return { dir, current, glob: join(base, 'containers', '*.log'), seqs };
  }

  test('docker files whose first lines begin with the same KiB are told apart by the rest of it (docker writes `time` last)', async () => {
    const d = dockerFiles('same-kib', 3);
    const first = await runOnce(d.glob, []);
    assert.deepEqual(
      first.collector.seqs().filter((n) => n >= 0),
      d.seqs,
    );
    assert.deepEqual(first.counters.byLabel('bytes_lost'), {});
    assert.equal(new Set(first.checkpoints.map((c) => c.key)).size, 3);
    // Rotated once more while stopped: each file is found by its own checkpoint, nothing again.
    renameSync(`${d.current}.2`, `${d.current}.3`);
    renameSync(`${d.current}.1`, `${d.current}.2`);
    renameSync(d.current, `${d.current}.1`);
    writeFileSync(
      d.current,
      `${JSON.stringify({ log: `${'A'.repeat(3000)}"}\n`, stream: 'stdout', time: '2024-07-26T10:00:09Z' })}\n`,
    );
    const second = await runOnce(d.glob, first.checkpoints);
    assert.deepEqual(
      second.collector.records.map((r) => r.kind),
      ['relay'],
    );
    assert.deepEqual(second.counters.byLabel('bytes_lost'), {});
  });

  test('a checkpoint saved when only the first KiB was fingerprinted still resumes its file, under its key', async () => {
    const d = dockerFiles('legacy-kib', 1);
    const bytes = readFileSync(d.current);
    const firstLineEnd = bytes.indexOf(0x0a) + 1;
    const { ino, dev } = statSync(d.current);
    const legacy: FileCheckpoint = {
      key: 'legacy-key',
      dev,
      ino,
      fingerprint: hashHead(bytes.subarray(0, FINGERPRINT_MAX_BYTES)),
      fingerprintBytes: FINGERPRINT_MAX_BYTES,
      path: d.current,
      offset: firstLineEnd,
      size: bytes.length,
      released: false,
      updatedAt: new Date().toISOString(),
    };
    const run = await runOnce(d.glob, [legacy]);
    assert.deepEqual(run.collector.seqs(), d.seqs);
    assert.ok(run.collector.records.every((r) => r.idPrefix === documentIdPrefix('node-a', 'legacy-key')));
    // Saved again under the same key, with the whole line's fingerprint now.
    assert.equal(run.checkpoints[0]?.key, 'legacy-key');
    assert.ok((run.checkpoints[0]?.fingerprintBytes as number) > FINGERPRINT_MAX_BYTES);
  });

  test('two files that begin with the same line are two files, with different ids', async () => {
    const c = container('twins');
    const same = lines(1).text;
    writeFileSync(c.current, `${same}${lines(2).text}`);
    writeFileSync(join(c.dir, '1.log'), `${same}${lines(2).text}`);
    const run = await runOnce(join(c.dir, '*.log'), []);
    assert.equal(run.collector.records.length, 6);
    assert.equal(new Set(run.collector.records.map((r) => documentId(r))).size, 6);
  });

  test('a file without a complete first line waits; offsets stay bytes', async () => {
    const c = container('short');
    writeFileSync(c.current, '2024-01-01T00:00:00.1Z stdout F {"Timestamp":1,"Type":"HostLog","Seq":1,"é":"');
    const first = await runOnce(c.glob, []);
    assert.equal(first.collector.records.length, 0);
    appendFileSync(
      c.current,
      'ü"}\n2024-01-01T00:00:00.2Z stdout F {"Timestamp":1,"Type":"HostLog","Seq":2}\n',
    );
    const second = await runOnce(c.glob, first.checkpoints);
    assert.deepEqual(second.collector.seqs(), [1, 2]);
    const firstLine = readFileSync(c.current).indexOf(0x0a) + 1;
    assert.equal(second.collector.records[1]?.start, firstLine);
  });
});

describe('start position and globs', () => {
  test('--start-at end skips what exists at the first start only', async () => {
    const c = container('startend');
    writeFileSync(c.current, lines(5).text);
    const first = await runOnce(c.glob, [], { startAt: 'end' });
    assert.equal(first.collector.records.length, 0);
    const next = lines(2);
    appendFileSync(c.current, next.text);
    const second = await runOnce(c.glob, first.checkpoints, { startAt: 'end' });
    assert.deepEqual(second.collector.seqs(), next.seqs);
  });

  test('exclude globs apply to the matched path and to the real path', async () => {
    const c = container('excl');
    writeFileSync(c.current, lines(2).text);
    const byLink = await runOnce(c.glob, [], { excludes: [join(root, 'excl', 'containers', 'excl_*')] });
    assert.equal(byLink.collector.records.length, 0);
    const byReal = await runOnce(c.glob, [], { excludes: [join(root, 'excl', 'pods', '**')] });
    assert.equal(byReal.collector.records.length, 0);
    const none = await runOnce(c.glob, [], { excludes: [join(root, 'other', '**')] });
    assert.equal(none.collector.records.length, 2);
  });
});

/** Takes `room` more records, then is full; waiting for capacity gives it `refill`. */
class RoomConsumer implements RecordConsumer {
  got: number[] = [];
  constructor(
    public room: number,
    private readonly refill: number,
  ) {}
  onRecord(file: TailedFile, record: ShippableRecord): void {
    this.got.push(Number(documentOf(record).Seq));
    this.room--;
    file.ack(record.ticket);
  }
  hasCapacity(): boolean {
    return this.room > 0;
  }
  async waitForCapacity(): Promise<void> {
    this.room = Math.max(this.room, this.refill);
  }
}

describe('backpressure', () => {
  test('a paused file is not read until resumed; a full consumer stops all reading', async () => {
    const c = container('pause');
    const a = lines(30);
    writeFileSync(c.current, a.text);
    const consumer = new RoomConsumer(5, 5);
    const got = consumer.got;
    const tailer = new Tailer(options(c.glob, { bufferBytes: 256 }), consumer, new Counters(), []);
    await tailer.scan();
    const [file] = tailer.trackedFiles();
    tailer.pause(file?.key ?? '');
    assert.equal(await tailer.readTurn(), 0);
    assert.deepEqual(got, []);
    tailer.resume(file?.key ?? '');
    await tailer.readTurn();
    // One read of 256 bytes holds at most two of these ~150-byte lines.
    assert.ok(got.length > 0 && got.length <= 2, `${got.length} lines after one turn`);
    await tailOnce(tailer);
    assert.deepEqual(got, a.seqs);
    await tailer.close();
  });

  test('with room for little at a time, turns that end early take the files in turn: none starves', async () => {
    const one = container('fair-one');
    const two = container('fair-two');
    const a = lines(20);
    writeFileSync(one.current, a.text);
    const b = lines(20);
    writeFileSync(two.current, b.text);
    const consumer = new RoomConsumer(0, 0);
    const got = consumer.got;
    const glob = join(root, 'fair-*', 'containers', '*.log');
    const tailer = new Tailer(options(glob, { bufferBytes: 256 }), consumer, new Counters(), []);
    await tailer.scan();
    // Room for one record per turn: each turn ends after one file's read.
    for (let turn = 0; turn < 10; turn++) {
      consumer.room = 1;
      await tailer.readTurn(false);
    }
    const fromOne = got.filter((s) => a.seqs.includes(s)).length;
    const fromTwo = got.filter((s) => b.seqs.includes(s)).length;
    assert.ok(fromOne >= 4 && fromTwo >= 4, `${fromOne} and ${fromTwo} records from the two files`);
    await tailer.close();
  });
});

describe('holes (NUL bytes an unclean shutdown left)', () => {
  test('the record after a hole is read whole, at its offset; the line cut by it and an event left open before it are their own records; the hole is counted', async () => {
    const c = container('hole');
    const before = lines(3);
    const after = lines(2);
    const last = lines(1);
    const final = lines(1);
    const cut = '2024-01-01T00:00:01.000000000Z stdout F {"Timestamp":1704067200,"Type":"Cont';
    const open =
      '2024-01-01T00:00:02.000000000Z stdout P {"Timestamp":1704067200,"Type":"ContainerLog","Seq":-2,\n';
    writeFileSync(
      c.current,
      Buffer.concat([
        Buffer.from(before.text + cut),
        Buffer.alloc(4096),
        Buffer.from(after.text + open),
        Buffer.alloc(100),
        Buffer.from(last.text),
        // Cut inside the runtime's time: a line with no time at all.
        Buffer.from('2024-01-0'),
        Buffer.alloc(10),
        Buffer.from(final.text),
      ]),
    );
    const { collector, counters, checkpoints } = await runOnce(c.glob, [], { bufferBytes: 1024 });
    assert.deepEqual(collector.seqs(), [
      ...before.seqs,
      -1,
      ...after.seqs,
      -1,
      ...last.seqs,
      -1,
      ...final.seqs,
    ]);
    const kinds = collector.records.map((r) => r.reason ?? r.kind);
    assert.deepEqual(kinds, [
      'log',
      'log',
      'log',
      'invalid_json',
      'log',
      'log',
      'truncated',
      'log',
      'undecodable',
      'log',
    ]);
    // That one is indexed on its file's first day, not on the day it is read: a replay after
    // midnight must meet it again.
    assert.equal(collector.records[8]?.index, 'kubearmor-relay-2024.01.01');
    // The event open before the second hole is not joined with the line after it.
    assert.deepEqual(collector.records[6]?.flags, ['truncated']);
    const size = statSync(c.current).size;
    assert.equal(collector.records[4]?.start, Buffer.byteLength(before.text + cut) + 4096);
    assert.deepEqual(counters.byLabel('bytes_lost'), { zero_filled: 4206 });
    assert.equal(checkpoints[0]?.offset, size);
    assert.equal((await runOnce(c.glob, checkpoints)).collector.records.length, 0);
  });
});
