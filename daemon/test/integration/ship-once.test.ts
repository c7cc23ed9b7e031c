// `run --once` into the real Elasticsearch: every record exactly once, with our mappings; a replay
// with the checkpoints gone indexes nothing twice.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { type Corpus, makeCorpus } from '../support/corpus.js';
import { cleanUp, countsByKind, testClient, testEsUrl, uniquePrefix } from '../support/elasticsearch.js';
import { runShipper, shipArgs, stoppedSummary } from '../support/shipper-process.js';

let client: Client;
let corpus: Corpus;
const prefix = uniquePrefix('once');

before(async () => {
  client = testClient();
  corpus = await makeCorpus('ship-once', 6000, 11, 600_000);
});
after(async () => {
  await cleanUp(client, prefix);
  await client.close();
  await rm(corpus.dir, { recursive: true, force: true });
});

const args = () => [
  'run',
  '--once',
  ...shipArgs({ paths: corpus.glob, checkpointDir: corpus.checkpointDir, esUrl: testEsUrl(), prefix }),
  '--http-port',
  '0',
];

test('every record of rotated and gzipped files is indexed once, in the index of its kind', async () => {
  assert.ok(corpus.rotations >= 3 && corpus.files.some((f) => f.endsWith('.gz')));
  const run = await runShipper(args());
  assert.equal(run.code, 0, run.stderr);
  // No call of the shipper earns a deprecation warning (run against 8.x and 9.x: see scripts/test.sh).
  assert.doesNotMatch(run.stdout, /Elasticsearch warns/);
  assert.deepEqual(await countsByKind(client, prefix), corpus.byKind);
  assert.deepEqual(stoppedSummary(run.stdout).documents, { indexed: corpus.total });

  const mapping = await client.indices.getMapping({ index: `${prefix}-alerts-*` });
  const props = Object.values(mapping)[0]?.mappings.properties ?? {};
  assert.equal(props.Type?.type, 'keyword');
  assert.equal(props.HostPID?.type, 'long');
  assert.equal(props.severity_num?.type, 'integer');
  assert.equal(props.labels?.type, 'flattened');
  assert.equal(props['@timestamp']?.type, 'date');
});

test('run again: nothing new; with the checkpoints gone: every document is already there (409), none twice', async () => {
  const again = await runShipper(args());
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(stoppedSummary(again.stdout).documents, {});

  await rm(corpus.checkpointDir, { recursive: true, force: true });
  const replay = await runShipper(args());
  assert.equal(replay.code, 0, replay.stderr);
  assert.deepEqual(stoppedSummary(replay.stdout).documents, { already_present: corpus.total });
  assert.deepEqual(await countsByKind(client, prefix), corpus.byKind);
});
