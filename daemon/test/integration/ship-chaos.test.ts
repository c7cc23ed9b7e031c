// Crashes and outages: the shipper killed with SIGKILL at random moments, stopped with SIGTERM,
// and Elasticsearch itself stopped mid-run. Each time it is started again; in the end every
// record is in Elasticsearch exactly once.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@elastic/elasticsearch';
import { Random } from '../../src/generate/relay-records.js';
import { type Corpus, makeCorpus } from '../support/corpus.js';
import {
  cleanUp,
  countsByKind,
  ownNodeEnv,
  testClient,
  testEsUrl,
  uniquePrefix,
} from '../support/elasticsearch.js';
import { runShipper, shipArgs, startShipper, stoppedSummary } from '../support/shipper-process.js';

const exec = promisify(execFile);
const esScript = fileURLToPath(new URL('../../../scripts/elasticsearch.sh', import.meta.url));

let client: Client;
const corpora: Corpus[] = [];
const prefixes: string[] = [];

before(() => {
  client = testClient();
});
after(async () => {
  for (const p of prefixes) await cleanUp(client, p);
  await client.close();
  for (const c of corpora) await rm(c.dir, { recursive: true, force: true });
});

async function setUp(label: string, records: number, seed: number) {
  const corpus = await makeCorpus(label, records, seed, 2_000_000);
  corpora.push(corpus);
  const prefix = uniquePrefix(label);
  prefixes.push(prefix);
  // Small batches, so that many are in flight whenever the shipper dies.
  const config = join(corpus.dir, 'shipper.yaml');
  await writeFile(
    config,
    'batch:\n  maxDocs: 300\n  maxAgeMs: 200\n  maxInFlight: 3\nretry:\n  initialMs: 100\n  maxMs: 2000\n',
  );
  return { corpus, prefix, config };
}

function runArgs(corpus: Corpus, prefix: string, config: string, url = testEsUrl()): string[] {
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
});

test('Elasticsearch stopped mid-run and started again: the shipper waits, resumes, ends exact', async () => {
  const port = process.env.TEST_ES_OUTAGE_PORT ?? '9251';
  const env = ownNodeEnv(port);
  const url = (await exec('bash', [esScript, 'start'], { env })).stdout.trim().split('\n').pop() as string;
  const own = new Client({ node: url });
  try {
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
    await exec('bash', [esScript, 'stop'], { env });
    await sleep(3000);
    assert.equal(running.child.exitCode, null, 'the shipper waits for Elasticsearch instead of exiting');
    await exec('bash', [esScript, 'start'], { env });
    const result = await running.done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /bulk request failed; retrying with backoff/);
    assert.deepEqual(await countsByKind(own, prefix), corpus.byKind);
    await cleanUp(own, prefix);
  } finally {
    await own.close();
    await exec('bash', [esScript, 'stop'], { env });
  }
});
