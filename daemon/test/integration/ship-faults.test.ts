// Item-level 429s, a request-level 429 and mapping rejections on chosen documents, injected by a
// proxy in front of the real Elasticsearch: retried items get in, rejected ones are dead-lettered,
// and the result is still exact.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { type Corpus, makeCorpus } from '../support/corpus.js';
import { cleanUp, countsByKind, testClient, testEsUrl, uniquePrefix } from '../support/elasticsearch.js';
import { type FaultStats, startFaultProxy } from '../support/fault-proxy.js';
import { runShipper, shipArgs, stoppedSummary } from '../support/shipper-process.js';

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
