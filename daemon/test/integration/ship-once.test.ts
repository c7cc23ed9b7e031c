// `run --once` into the real Elasticsearch: every record exactly once, with our mappings; a replay
// with the checkpoints gone indexes nothing twice.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { generateRelayLogs } from '../../src/generate/kubelet-log-writer.js';
import { RELAY_STDOUT_HINT } from '../../src/run/silent-relay.js';
import { type Corpus, makeCorpus } from '../support/corpus.js';
import { cleanUp, countsByKind, testClient, testEsUrl, uniquePrefix } from '../support/elasticsearch.js';
import { logLines, runShipper, shipArgs, stoppedSummary } from '../support/shipper-process.js';

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
  // A relay that prints its events is not taken for one that does not.
  assert.doesNotMatch(run.stdout, /holds no KubeArmor event/);
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

test('a relay left as KubeArmor installs it (ENABLE_STDOUT_* off): its own lines are indexed, and the log and check say why no event came', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ship-once-quiet-'));
  const own = uniquePrefix('quiet');
  try {
    const quiet = await generateRelayLogs({
      out: join(dir, 'node'),
      records: 40,
      seed: 4,
      maxFiles: 1,
      startMs: Date.parse('2024-07-26T10:00:00Z'),
      relayStdout: false,
    });
    const paths = {
      paths: quiet.glob,
      checkpointDir: join(dir, 'checkpoints'),
      esUrl: testEsUrl(),
      prefix: own,
    };
    const run = await runShipper(['run', '--once', ...shipArgs(paths), '--no-http']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await countsByKind(client, own), { relay: 40 });
    const said = logLines(run.stdout).filter((l) => l.msg.includes('holds no KubeArmor event'));
    assert.equal(said.length, 1, run.stdout);
    assert.equal(said[0]?.relayLines, 40);
    assert.ok((said[0]?.minutes as number) >= 5, JSON.stringify(said[0]));
    assert.ok(said[0]?.msg.endsWith(RELAY_STDOUT_HINT));

    const checked = await runShipper(['check', ...shipArgs(paths)]);
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(
      checked.stdout,
      /^relay log: \S+kubearmor-relay-server-\w+\.log: no KubeArmor event in it, only 40 of the relay's own lines \(2024-07-26T10:\S+ to 2024-07-26T1\S+\): the relay prints/m,
    );
  } finally {
    await cleanUp(client, own);
    await rm(dir, { recursive: true, force: true });
  }
});
