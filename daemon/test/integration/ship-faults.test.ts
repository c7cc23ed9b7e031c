// Item-level 429s, a request-level 429 and mapping rejections on chosen documents, injected by a
// proxy in front of the real Elasticsearch: retried items get in, rejected ones are dead-lettered,
// and the result is still exact. And a proxy's limit on request bodies (413), and a node lost
// mid-run when the shipper has the cluster's other nodes' URLs too.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { type Corpus, makeCorpus } from '../support/corpus.js';
import {
  cleanUp,
  countsByKind,
  linesIndexedTwice,
  testClient,
  testEsUrl,
  uniquePrefix,
} from '../support/elasticsearch.js';
import { type FaultStats, startFaultProxy } from '../support/fault-proxy.js';
import { logLines, runShipper, shipArgs, startShipper, stoppedSummary } from '../support/shipper-process.js';

let client: Client;
let corpus: Corpus;
const prefix = uniquePrefix('faults');

before(async () => {
  client = testClient();
  corpus = await makeCorpus('ship-faults', 5000, 31);
});
after(async () => {
  await cleanUp(client, prefix);
  await client.close();
  await rm(corpus.dir, { recursive: true, force: true });
});

test('429 on chosen items and on a whole request are retried; chosen mapping rejections are dead-lettered; exact', async () => {
  const proxy = await startFaultProxy(testEsUrl(), {
    rejectRequests: new Set([1]),
    throttleEvery: 37,
    breakEvery: 500,
  });
  let stats: FaultStats;
  try {
    const run = await runShipper(
      [
        'run',
        '--once',
        ...shipArgs({ paths: corpus.glob, checkpointDir: corpus.checkpointDir, esUrl: proxy.url, prefix }),
        '--no-http',
      ],
      { SHIPPER_LOG_LEVEL: 'info' },
    );
    assert.equal(run.code, 0, run.stderr);
    stats = proxy.stats;
    const summary = stoppedSummary(run.stdout);
    assert.ok(stats.throttled.size > 50, `${stats.throttled.size} items throttled`);
    assert.ok(stats.broken.size >= 3, `${stats.broken.size} documents broken`);
    assert.equal(summary.documents.retried, stats.throttled.size);
    assert.equal(summary.documents.dead_lettered, stats.broken.size);
    assert.equal(summary.documents.indexed, corpus.total - stats.broken.size);
    assert.match(run.stdout, /bulk request failed; retrying with backoff/);
  } finally {
    await new Promise((resolve) => proxy.server.close(resolve));
  }
  const counts = await countsByKind(client, prefix);
  const { deadletter = 0, ...kept } = counts;
  assert.equal(deadletter, stats.broken.size);
  assert.equal(Object.values(kept).reduce((a, b) => a + b, 0) + deadletter, corpus.total);
  const dead = await client.search<{ target: { id: string }; error: { type: string } }>({
    index: `${prefix}-deadletter-*`,
    size: 100,
  });
  assert.deepEqual(new Set(dead.hits.hits.map((h) => h._id)), stats.broken);
  for (const h of dead.hits.hits) assert.match(h._source?.error.type ?? '', /pars|mapp/);
});

test('a proxy in front that refuses bodies over 256 KiB (413, like nginx): batches go in halves until they pass, exact; a document too large alone goes to the dead-letter file', {
  timeout: 180_000,
}, async () => {
  const own = uniquePrefix('faults-413');
  const dir = await mkdtemp(join(tmpdir(), 'ship-faults-413-'));
  try {
    // One alert of ~300 KB: more than the limit however it is cut.
    const big = join(dir, 'big', 'kubearmor-relay-big_kubearmor_kubearmor-relay-server-1.log');
    await mkdir(dirname(big), { recursive: true });
    await writeFile(
      big,
      `2024-07-26T10:00:00.000000000Z stdout F {"Timestamp":1721988000,"UpdatedTime":"2024-07-26T10:00:00.000000Z","Type":"MatchedPolicy","Operation":"Process","Action":"Block","Data":"${'x'.repeat(300_000)}"}\n`,
    );
    const config = join(dir, 'shipper.yaml');
    // Uncompressed, a 2 MiB batch is 2 MiB on the wire.
    await writeFile(config, 'elasticsearch:\n  compression: false\nretry:\n  initialMs: 50\n  maxMs: 500\n');
    const checkpointDir = join(dir, 'checkpoints');
    const proxy = await startFaultProxy(testEsUrl(), {
      rejectRequests: new Set(),
      throttleEvery: Number.MAX_SAFE_INTEGER,
      breakEvery: Number.MAX_SAFE_INTEGER,
      maxBodyBytes: 256 * 1024,
    });
    let run: Awaited<ReturnType<typeof runShipper>>;
    try {
      run = await runShipper(
        [
          'run',
          '--once',
          '--config',
          config,
          ...shipArgs({
            paths: `${corpus.glob},${join(dirname(big), '*.log')}`,
            checkpointDir,
            esUrl: proxy.url,
            prefix: own,
          }),
          '--no-http',
        ],
        { SHIPPER_LOG_LEVEL: 'info' },
      );
    } finally {
      await new Promise((resolve) => proxy.server.close(resolve));
    }
    assert.equal(run.code, 0, run.stderr);
    assert.ok(proxy.stats.tooLarge > 0, 'no request was refused as too large');
    assert.match(run.stdout, /a bulk request was refused as too large \(413/);
    const summary = stoppedSummary(run.stdout);
    assert.equal(summary.documents.indexed, corpus.total);
    assert.equal(summary.documents.dead_lettered, 1);
    assert.deepEqual(summary.deadLetters, { file: 1 });
    assert.deepEqual(await countsByKind(client, own), corpus.byKind);
    const [dead] = (await readFile(join(checkpointDir, 'deadletter.ndjson'), 'utf8')).trim().split('\n');
    const letter = JSON.parse(dead as string) as {
      error: { status: number; type: string };
      log: { file: { path: string } };
    };
    assert.deepEqual([letter.error.status, letter.error.type], [413, 'request_entity_too_large']);
    assert.equal(letter.log.file.path, big);
  } finally {
    await cleanUp(client, own);
    await rm(dir, { recursive: true, force: true });
  }
});

test('several URLs: the node in use goes away after indexing a request, its answer lost; the shipper goes on with the next URL, exact', async () => {
  const own = uniquePrefix('faults-urls');
  const dir = await mkdtemp(join(tmpdir(), 'ship-faults-urls-'));
  // Small batches: the node goes while most of the corpus is still to be sent.
  const config = join(dir, 'shipper.yaml');
  await writeFile(config, 'batch:\n  maxDocs: 200\nretry:\n  initialMs: 50\n  maxMs: 500\n');
  const proxy = await startFaultProxy(testEsUrl(), {
    rejectRequests: new Set(),
    throttleEvery: Number.MAX_SAFE_INTEGER,
    breakEvery: Number.MAX_SAFE_INTEGER,
    dieAtRequest: 4,
  });
  try {
    const running = startShipper(
      [
        'run',
        '--once',
        '--config',
        config,
        ...shipArgs({
          paths: corpus.glob,
          checkpointDir: join(dir, 'checkpoints'),
          // The proxy is the first node; the real one, reached directly, the second.
          esUrl: `${proxy.url},${testEsUrl()}`,
          prefix: own,
        }),
        '--no-http',
      ],
      { SHIPPER_LOG_LEVEL: 'info' },
    );
    // Without the next URL it would retry the gone node without end: stopped, and the test fails.
    const stuck = setTimeout(() => running.child.kill('SIGKILL'), 60_000);
    const run = await running.done;
    clearTimeout(stuck);
    assert.equal(run.code, 0, `${run.signal ?? ''} ${run.stderr}${run.stdout.slice(-1500)}`);
    // Four answered, then the fifth taken when it went. With two in flight, requests sent after
    // the fifth may have been answered before it (Elasticsearch does not answer in order), so more
    // than one may have followed it: how many is the machine's timing, not the shipper's doing.
    assert.ok(proxy.stats.requests >= 5, `${proxy.stats.requests} bulk requests at the proxy`);
    assert.equal(proxy.server.listening, false);
    // Said once in the log, whichever of the requests in flight failed first.
    const moves = logLines(run.stdout).filter((l) => l.msg.startsWith('Elasticsearch node cannot serve'));
    assert.deepEqual(
      moves.map((l) => [l.from, l.to]),
      [[`${proxy.url}/`, `${testEsUrl()}/`]],
    );
    const { documents, nodeChanges } = stoppedSummary(run.stdout);
    assert.equal(nodeChanges, 1);
    // The lost answer's documents were indexed: sent again to the other node, they are there (409).
    assert.ok((documents.already_present ?? 0) > 0, JSON.stringify(documents));
    assert.equal((documents.indexed ?? 0) + (documents.already_present ?? 0), corpus.total);
    assert.deepEqual(await countsByKind(client, own), corpus.byKind);
    assert.deepEqual(await linesIndexedTwice(client, own), []);
  } finally {
    if (proxy.server.listening) await new Promise((resolve) => proxy.server.close(resolve));
    await cleanUp(client, own);
    await rm(dir, { recursive: true, force: true });
  }
});
