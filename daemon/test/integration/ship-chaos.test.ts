// Crashes and outages: the shipper killed with SIGKILL at random moments — over a finished corpus,
// and as the daemon following files that are being written and rotated — stopped with SIGTERM,
// and Elasticsearch itself stopped mid-run. Each time it is started again; in the end every
// record is in Elasticsearch exactly once.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@elastic/elasticsearch';
import { KubeletLogWriter } from '../../src/generate/kubelet-log-writer.js';
import { Random } from '../../src/generate/relay-records.js';
import { byIndexKind, type Corpus, makeCorpus } from '../support/corpus.js';
import {
  cleanUp,
  countsByKind,
  linesIndexedTwice,
  ownNodeEnv,
  testClient,
  testEsUrl,
  uniquePrefix,
} from '../support/elasticsearch.js';
import {
  runShipper,
  shipArgs,
  startShipper,
  statusPort,
  stoppedSummary,
} from '../support/shipper-process.js';

const exec = promisify(execFile);
const esScript = fileURLToPath(new URL('../../../scripts/elasticsearch.sh', import.meta.url));

let client: Client;
const corpora: { dir: string }[] = [];
const prefixes: string[] = [];

before(() => {
  client = testClient();
});
after(async () => {
  for (const p of prefixes) await cleanUp(client, p);
  await client.close();
  for (const c of corpora) await rm(c.dir, { recursive: true, force: true });
});

/** A prefix, and a configuration with small batches, so that many are in flight whenever the shipper dies. */
async function shipperSetUp(label: string, dir: string) {
  const prefix = uniquePrefix(label);
  prefixes.push(prefix);
  const config = join(dir, 'shipper.yaml');
  await writeFile(
    config,
    'batch:\n  maxDocs: 300\n  maxAgeMs: 200\n  maxInFlight: 3\nretry:\n  initialMs: 100\n  maxMs: 2000\n',
  );
  return { prefix, config };
}

async function setUp(label: string, records: number, seed: number) {
  const corpus = await makeCorpus(label, records, seed, 2_000_000);
  corpora.push(corpus);
  return { corpus, ...(await shipperSetUp(label, corpus.dir)) };
}

type Files = Pick<Corpus, 'glob' | 'checkpointDir'>;

function runArgs(corpus: Files, prefix: string, config: string, url = testEsUrl()): string[] {
  return [
    'run',
    '--once',
    '--config',
    config,
    ...shipArgs({ paths: corpus.glob, checkpointDir: corpus.checkpointDir, esUrl: url, prefix }),
    '--no-http',
  ];
}

test('kill -9 at random moments, three times, then a full run: exactly the records', async () => {
  // Large enough that three kills land before the end: the shipper ships ~20k records a second here.
  const { corpus, prefix, config } = await setUp('chaos-kill', 120_000, 21);
  const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 100_000);
  const rnd = new Random(seed);
  let killed = 0;
  for (let round = 0; round < 3; round++) {
    const running = startShipper(runArgs(corpus, prefix, config));
    const delay = 500 + rnd.int(0, 1500);
    const finished = await Promise.race([running.done, sleep(delay).then(() => undefined)]);
    if (finished === undefined) {
      running.child.kill('SIGKILL');
      const result = await running.done;
      assert.equal(result.signal, 'SIGKILL');
      killed++;
    }
  }
  const final = await runShipper(runArgs(corpus, prefix, config));
  assert.equal(final.code, 0, final.stderr);
  assert.ok(killed >= 2, `killed ${killed} times (seed ${seed})`);
  assert.deepEqual(await countsByKind(client, prefix), corpus.byKind, `seed ${seed}`);
  assert.deepEqual(await linesIndexedTwice(client, prefix), [], `seed ${seed}`);
});

test('the daemon following files being written and rotated (containerd and docker, gzip too), a container restarted, killed -9 three times: exactly the records', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'chaos-live-'));
  corpora.push({ dir });
  const { prefix, config } = await shipperSetUp('chaos-live', dir);
  const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 100_000);
  const rnd = new Random(seed);
  // Two containers, each rotated every ~1,200 lines, one under containerd (CRI lines, kubelet's
  // rotation), one under cri-dockerd (docker's json-file lines and rotation); the older rotated
  // files are gzipped, often while the shipper is down and has the renamed file checkpointed.
  const writers = (['cri', 'docker'] as const).map(
    (runtime, k) =>
      new KubeletLogWriter({
        out: join(dir, 'node'),
        seed: seed + k,
        // A due rotation waits for a long line (below): a little sooner, so as many come.
        rotateBytes: 700_000,
        // Most rotations between two pieces of a long line: each must still be one document, and
        // docker's files then begin alike (a piece of `A`s) for far more than their first KiB.
        rotateBetweenPieces: true,
        maxFiles: 1000,
        startMs: Date.parse('2024-07-26T10:00:00Z'),
        runtime,
      }),
  );
  const files: Files = { glob: writers[0]?.glob as string, checkpointDir: join(dir, 'checkpoints') };
  const daemonArgs = runArgs(files, prefix, config).filter((a) => a !== '--once');
  let writing = true;
  // At least 6 rotations whatever the machine's speed: after the kills, writing goes on until
  // then (a due rotation waits for a long line, so how many come in a given time varies).
  const rotated = () => writers.reduce((n, w) => n + w.result().rotations, 0);
  // The containerd container restarts, twice if the kills last long enough: `1.log`, then
  // `2.log`, beside the earlier runs' files in its directory, each under a link of its own.
  const restartsAt = [rnd.int(300, 2300), rnd.int(2400, 5000)].map((ms) => Date.now() + ms);
  let restarts = 0;
  const written = (async () => {
    const until = Date.now() + 60_000;
    while (writing || (rotated() < 6 && Date.now() < until)) {
      if (restarts < restartsAt.length && Date.now() >= (restartsAt[restarts] as number)) {
        writers[0]?.restartContainer();
        restarts++;
      }
      for (const w of writers) w.write(rnd.int(20, 150));
      await sleep(50);
    }
    for (const w of writers) w.close();
  })();
  let running = startShipper(daemonArgs);
  try {
    for (let kill = 0; kill < 3; kill++) {
      await sleep(800 + rnd.int(0, 1700));
      assert.equal(running.child.exitCode, null, running.output().stderr);
      running.child.kill('SIGKILL');
      assert.equal((await running.done).signal, 'SIGKILL');
      running = startShipper(daemonArgs);
    }
    await sleep(1000);
  } finally {
    writing = false;
    await written;
  }
  const expected: Record<string, number> = {};
  let rotations = 0;
  for (const w of writers) {
    const r = w.result();
    rotations += r.rotations;
    for (const [kind, n] of Object.entries(byIndexKind(r.counts)))
      if (n > 0) expected[kind] = (expected[kind] ?? 0) + n;
  }
  const total = Object.values(expected).reduce((a, b) => a + b, 0);
  // The daemon never finishes by itself: wait until everything is there (or too long), then stop it.
  let indexed = 0;
  for (let i = 0; i < 240 && indexed < total; i++) {
    await sleep(500);
    // A search may fail while a new daily index's shard starts (no_shard_available): ask again.
    const counts = await countsByKind(client, prefix).catch(() => ({}));
    indexed = Object.values(counts).reduce((a, b) => a + b, 0);
  }
  running.child.kill('SIGTERM');
  const stopped = await running.done;
  // Checked once the daemon is stopped: a failed check before would leave it running.
  assert.ok(rotations >= 6, `${rotations} rotations`);
  assert.ok(restarts >= 1, `${restarts} container restarts`);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(stoppedSummary(stopped.stdout).unacknowledged, 0);
  assert.deepEqual(
    await countsByKind(client, prefix),
    expected,
    `seed ${seed}, ${rotations} rotations, ${restarts} container restarts`,
  );
  assert.deepEqual(await linesIndexedTwice(client, prefix), [], `seed ${seed}`);
});

test('SIGTERM: stops reading, finishes in-flight batches, saves checkpoints, exits 0; a restart completes exactly', async () => {
  const { corpus, prefix, config } = await setUp('chaos-term', 30_000, 22);
  const running = startShipper(runArgs(corpus, prefix, config).filter((a) => a !== '--once'));
  for (let i = 0; i < 100 && !running.output().stdout.includes('index templates installed'); i++)
    await sleep(100);
  await sleep(700);
  running.child.kill('SIGTERM');
  const stopped = await running.done;
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(stoppedSummary(stopped.stdout).unacknowledged, 0);
  const final = await runShipper(runArgs(corpus, prefix, config));
  assert.equal(final.code, 0, final.stderr);
  const { documents } = stoppedSummary(final.stdout);
  // A clean stop saved what was acknowledged: the restart sends only the rest, nothing again.
  assert.equal(documents.already_present, undefined, JSON.stringify(documents));
  assert.deepEqual(await countsByKind(client, prefix), corpus.byKind);
  assert.deepEqual(await linesIndexedTwice(client, prefix), []);
});

/** A node of its own that tests may stop and start, started once for the file and stopped after it. */
const outage = (() => {
  const port = process.env.TEST_ES_OUTAGE_PORT ?? '9251';
  const env = ownNodeEnv(port);
  let started: Promise<{ url: string; client: Client }> | undefined;
  return {
    up: async (): Promise<{ url: string; client: Client }> => {
      started ??= exec('bash', [esScript, 'start'], { env }).then(({ stdout }) => {
        const url = stdout.trim().split('\n').pop() as string;
        return { url, client: new Client({ node: url }) };
      });
      return started;
    },
    stop: () => exec('bash', [esScript, 'stop'], { env }),
    start: () => exec('bash', [esScript, 'start'], { env }),
    close: async () => {
      if (started === undefined) return;
      await (await started).client.close();
      await exec('bash', [esScript, 'stop'], { env });
    },
  };
})();
after(() => outage.close());

test('Elasticsearch stopped mid-run and started again: the shipper waits, resumes, ends exact', async () => {
  const { url, client: own } = await outage.up();
  const { corpus, prefix, config } = await setUp('chaos-outage', 30_000, 23);
  const running = startShipper(runArgs(corpus, prefix, config, url));
  // Let it index a part, then take Elasticsearch away for a while.
  for (let i = 0; i < 200; i++) {
    const n = await own.count({ index: `${prefix}-*`, allow_no_indices: true }).then(
      (r) => r.count,
      () => 0,
    );
    if (n > 2000) break;
    await sleep(100);
  }
  await outage.stop();
  await sleep(3000);
  assert.equal(running.child.exitCode, null, 'the shipper waits for Elasticsearch instead of exiting');
  await outage.start();
  const result = await running.done;
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /bulk request failed; retrying with backoff/);
  assert.deepEqual(await countsByKind(own, prefix), corpus.byKind);
  assert.deepEqual(await linesIndexedTwice(own, prefix), []);
  await cleanUp(own, prefix);
});

/**
 * The own node, and a live container whose kubelet keeps 2 files (each rotated file deleted at
 * the next rotation, ~1.5 s apart when written as the tests do), followed by a daemon with a
 * small budget (full soon after Elasticsearch goes) that scans more often than kubelet rotates.
 * `more` is the rest of its configuration (retries, grace).
 */
async function liveOutageSetUp(label: string, seed: number, more: string) {
  const { url, client: own } = await outage.up();
  const dir = await mkdtemp(join(tmpdir(), `${label}-`));
  corpora.push({ dir });
  const prefix = uniquePrefix(label);
  const config = join(dir, 'shipper.yaml');
  await writeFile(
    config,
    `batch:\n  maxDocs: 300\n  maxAgeMs: 200\nmemoryBudgetBytes: 262144\nscanIntervalMs: 300\n${more}`,
  );
  const writer = new KubeletLogWriter({
    out: join(dir, 'node'),
    seed,
    rotateBytes: 300_000,
    maxFiles: 2,
    startMs: Date.parse('2024-07-26T10:00:00Z'),
  });
  const files: Files = { glob: writer.glob, checkpointDir: join(dir, 'checkpoints') };
  const indexed = () =>
    own.count({ index: `${prefix}-*`, allow_no_indices: true }).then(
      (r) => r.count,
      () => 0,
    );
  return {
    url,
    own,
    prefix,
    writer,
    indexed,
    daemonArgs: runArgs(files, prefix, config, url).filter((a) => a !== '--once'),
  };
}

/** Everything the writer wrote, by index kind: the files kubelet deleted included. */
function everythingWritten(writer: KubeletLogWriter): { expected: Record<string, number>; total: number } {
  const { counts, deleted } = writer.result();
  const expected = byIndexKind({
    alert: counts.alert + deleted.alert,
    log: counts.log + deleted.log,
    message: counts.message + deleted.message,
    relay: counts.relay + deleted.relay,
  });
  return { expected, total: Object.values(expected).reduce((a, b) => a + b, 0) };
}

test('Elasticsearch down under the daemon on live files: files kubelet rotates and deletes meanwhile are held and shipped later, exactly; SIGTERM while it is down exits 0', async () => {
  const { own, prefix, writer, indexed, daemonArgs } = await liveOutageSetUp(
    'chaos-down',
    31,
    'retry:\n  initialMs: 100\n  maxMs: 1000\nshutdownGraceMs: 2000\n',
  );
  const running = startShipper([...daemonArgs.filter((a) => a !== '--no-http'), '--http-port', '0']);
  try {
    const port = await statusPort(running);
    let writing = true;
    const written = (async () => {
      while (writing) {
        writer.write(10);
        await sleep(50);
      }
    })();
    try {
      for (let i = 0; i < 200 && (await indexed()) < 500; i++) await sleep(100);
      await outage.stop();
      const rotationsBefore = writer.result().rotations;
      await sleep(6000);
      assert.equal(running.child.exitCode, null, running.output().stderr);
      await outage.start();
      const whileDown = writer.result().rotations - rotationsBefore;
      assert.ok(whileDown >= 3, `${whileDown} rotations (each deleting a file) while Elasticsearch was down`);
    } finally {
      writing = false;
      await written;
    }
    const { deleted } = writer.result();
    assert.ok(deleted.alert + deleted.log + deleted.message + deleted.relay > 0, 'kubelet deleted files');
    const { expected, total } = everythingWritten(writer);
    for (let i = 0; i < 240 && (await indexed()) < total; i++) await sleep(250);
    assert.deepEqual(await countsByKind(own, prefix), expected);
    assert.deepEqual(await linesIndexedTwice(own, prefix), []);

    // Down again, with more to read than the budget holds: a stop is answered within the grace.
    await outage.stop();
    // 400 lines: at most two rotations, so no file is deleted before the shipper has seen it.
    writer.write(400);
    writer.close();
    const inFlight = async () => {
      const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
      return Number(/^kubearmor_shipper_bytes_in_flight (\d+)/m.exec(text)?.[1] ?? 0);
    };
    for (let i = 0; i < 150 && (await inFlight()) < 196_608; i++) await sleep(200);
    assert.ok((await inFlight()) >= 196_608, 'the budget fills while Elasticsearch is down');
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    const stopping = Date.now();
    running.child.kill('SIGTERM');
    const stopped = await running.done;
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.ok(Date.now() - stopping < 10_000, `stopped in ${Date.now() - stopping} ms`);
    const summary = stoppedSummary(stopped.stdout);
    assert.ok(summary.unacknowledged > 0, `${summary.unacknowledged} unacknowledged at the stop`);
    assert.deepEqual(summary.bytesLost, {});
  } finally {
    // A failed assertion must not leave the daemon running (the test would wait for it).
    if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
  }
  await outage.start();
  await cleanUp(own, prefix);
});

test('SIGTERM just as Elasticsearch comes back: what is left of the files kubelet deleted while held open is read and shipped within the grace; a restart ends exact', async () => {
  // Retries seconds apart: when Elasticsearch is back the shipper has not caught up yet as the
  // SIGTERM comes.
  const { url, own, prefix, writer, indexed, daemonArgs } = await liveOutageSetUp(
    'chaos-back',
    41,
    'retry:\n  initialMs: 1000\n  maxMs: 4000\nshutdownGraceMs: 12000\n',
  );
  let running = startShipper(daemonArgs, { SHIPPER_LOG_LEVEL: 'info' });
  try {
    writer.write(200);
    for (let i = 0; i < 200 && (await indexed()) < 200; i++) await sleep(100);
    await outage.stop();
    // While it is down: rotations, each deleting a file, more than the budget holds.
    for (let i = 0; i < 100; i++) {
      writer.write(10);
      await sleep(50);
    }
    writer.close();
    assert.ok(writer.result().rotations >= 3, `${writer.result().rotations} rotations`);
    // The SIGTERM as soon as Elasticsearch answers HTTP again (any answer: it may not take
    // documents for a second or so yet), not when its start script is done. (fetch, not the
    // client: after the failed calls of the outage it may hold the node for dead.)
    const starting = outage.start();
    for (let i = 0; i < 1200; i++) {
      if (
        await fetch(url).then(
          () => true,
          () => false,
        )
      )
        break;
      await sleep(50);
    }
    running.child.kill('SIGTERM');
    await starting;
    const stopped = await running.done;
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /read what was left of the files deleted while held open/);
    const summary = stoppedSummary(stopped.stdout);
    assert.equal(summary.unacknowledged, 0, 'all acknowledged within the grace');
    // The restart reads the files still on disk from their checkpoints: nothing is missing.
    running = startShipper(daemonArgs, { SHIPPER_LOG_LEVEL: 'info' });
    const { expected, total } = everythingWritten(writer);
    for (let i = 0; i < 240 && (await indexed()) < total; i++) await sleep(250);
    running.child.kill('SIGTERM');
    const again = await running.done;
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(stoppedSummary(again.stdout).bytesLost, {});
    assert.deepEqual(await countsByKind(own, prefix), expected);
    assert.deepEqual(await linesIndexedTwice(own, prefix), []);
  } finally {
    if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
    await outage.start();
    await cleanUp(own, prefix);
  }
});
