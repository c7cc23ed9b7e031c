// The shipper against a real OpenSearch 2.x (scripts/test.sh starts one): `check` and `setup` tell
// it from Elasticsearch and map label maps as `flat_object`; every record of a rotated corpus is
// indexed exactly once and a replay adds nothing; refused documents are dead-lettered with the
// reason; `prune` keeps indices written within retention and deletes them once past it.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ElasticsearchHttp } from '../../src/ship/elasticsearch-http.js';
import { pruneIndices } from '../../src/ship/index-templates.js';
import { containerAlertBlock } from '../fixtures/kubearmor-lines.js';
import { type Corpus, makeCorpus } from '../support/corpus.js';
import { countsByKind, linesIndexedTwice, uniquePrefix } from '../support/elasticsearch.js';
import {
  cleanUpOpenSearch,
  openSearch,
  openSearchSearcher,
  testOpenSearchUrl,
} from '../support/opensearch.js';
import { runShipper, shipArgs, stoppedSummary } from '../support/shipper-process.js';

let corpus: Corpus;
const prefix = uniquePrefix('opensearch');

before(async () => {
  corpus = await makeCorpus('ship-opensearch', 3000, 23, 300_000);
});
after(async () => {
  await cleanUpOpenSearch(prefix);
  await rm(corpus.dir, { recursive: true, force: true });
});

const common = () => ['--es-url', testOpenSearchUrl(), '--index-prefix', prefix, '--es-replicas', '0'];
const once = (paths: string, checkpointDir: string) => [
  'run',
  '--once',
  ...shipArgs({ paths, checkpointDir, esUrl: testOpenSearchUrl(), prefix }),
  '--no-http',
];

type Properties = Record<string, { type?: string; properties?: Properties }>;

test('check names OpenSearch and its lifecycle; setup maps the label maps as flat_object', async () => {
  const check = await runShipper(['check', ...common(), '--paths', corpus.glob]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(
    check.stdout,
    /^opensearch: \S+ cluster "[^"]+" status (green|yellow), 1 node\(s\), version 2\./m,
  );
  assert.match(check.stdout, /^lifecycle: OpenSearch has no ILM .*prune --older-than 30d/m);
  assert.match(check.stdout, /^privileges: not checked: OpenSearch has no API to ask/m);

  const setup = await runShipper(['setup', ...common()]);
  assert.equal(setup.code, 0, setup.stderr);
  const templates = (await openSearch('GET', `/_index_template/${prefix}-*`)) as {
    index_templates: {
      name: string;
      index_template: { template: { mappings: { properties: Properties } } };
    }[];
  };
  assert.equal(templates.index_templates.length, 5);
  const alerts = templates.index_templates.find((t) => t.name === `${prefix}-alerts`);
  const props = alerts?.index_template.template.mappings.properties ?? {};
  assert.equal(props.labels?.type, 'flat_object');
  assert.equal(props.EventData?.type, 'flat_object');
  assert.equal(props.kubernetes?.properties?.annotations?.type, 'flat_object');
  assert.equal(props.Type?.type, 'keyword');
  assert.equal(props.HostPID?.type, 'long');
});

test('every record of rotated and gzipped files is indexed once; a replay without checkpoints adds nothing', async () => {
  assert.ok(corpus.rotations >= 3 && corpus.files.some((f) => f.endsWith('.gz')));
  const run = await runShipper(once(corpus.glob, corpus.checkpointDir));
  assert.equal(run.code, 0, run.stderr);
  assert.doesNotMatch(run.stdout + run.stderr, /warns/);
  assert.deepEqual(stoppedSummary(run.stdout).documents, { indexed: corpus.total });
  assert.deepEqual(await countsByKind(openSearchSearcher, prefix), corpus.byKind);
  assert.deepEqual(await linesIndexedTwice(openSearchSearcher, prefix), []);

  await rm(corpus.checkpointDir, { recursive: true, force: true });
  const replay = await runShipper(once(corpus.glob, corpus.checkpointDir));
  assert.equal(replay.code, 0, replay.stderr);
  assert.deepEqual(stoppedSummary(replay.stdout).documents, { already_present: corpus.total });
  assert.deepEqual(await countsByKind(openSearchSearcher, prefix), corpus.byKind);
});

test('documents OpenSearch refuses are dead-lettered with the reason; the alert after them is indexed', async () => {
  const pod = join(
    corpus.dir,
    'refused',
    'pods',
    'kubearmor_kubearmor-relay-os_uid',
    'kubearmor-relay-server',
  );
  mkdirSync(pod, { recursive: true });
  const alert = (podName: string, edit: (line: string) => string) =>
    `2024-07-26T10:41:47.000000001Z stdout F ${edit(
      containerAlertBlock.replace('"PodName":"wordpress-787f45786f-2q9wf"', `"PodName":"${podName}"`),
    )}\n`;
  writeFileSync(
    join(pod, '0.log'),
    // An object field given a string; a label value past Lucene's 32 KB term (flat_object, unlike
    // Elasticsearch's flattened, has no ignore_above); then a good alert with a dotted label key.
    alert('owner-a-string', (l) => l.replace(/"Owner":\{[^}]*\}/, '"Owner":"Deployment/not-an-object"')) +
      alert('label-too-long', (l) =>
        l.replace('"Labels":"app=wordpress"', `"Labels":"app=${'x'.repeat(40_000)}"`),
      ) +
      alert('after-the-refused', (l) =>
        l.replace('"Labels":"app=wordpress"', '"Labels":"app.kubernetes.io/name=wordpress"'),
      ),
  );
  const run = await runShipper(once(join(pod, '*.log'), join(corpus.dir, 'refused-cp')));
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(stoppedSummary(run.stdout).documents, { indexed: 1, dead_lettered: 2 });

  await openSearch('POST', `/${prefix}-*/_refresh`);
  const dead = (await openSearch('POST', `/${prefix}-deadletter-*/_search`, { size: 10 })) as {
    hits: {
      hits: {
        _id: string;
        _source: { error: { reason: string }; target: { id: string }; event: { original: string } };
      }[];
    };
  };
  const reasonOf = (podName: string) => {
    const hit = dead.hits.hits.find((h) => h._source.event.original.includes(`"PodName":"${podName}"`));
    assert.ok(hit, `${podName} is in the dead-letter index`);
    assert.equal(hit._id, hit._source.target.id);
    return hit._source.error.reason;
  };
  assert.match(reasonOf('owner-a-string'), /Owner/);
  assert.match(reasonOf('label-too-long'), /immense term/);
  const good = (await openSearch('POST', `/${prefix}-alerts-*/_search`, {
    query: { term: { 'labels.app.kubernetes.io/name': 'wordpress' } },
  })) as { hits: { hits: { _source: { PodName: string } }[] } };
  assert.deepEqual(
    good.hits.hits.map((h) => h._source.PodName),
    ['after-the-refused'],
  );
});

test('prune keeps what was written within retention whatever its day, and deletes it once past', async () => {
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10).replaceAll('-', '.');
  await openSearch('PUT', `/${prefix}-alerts-${tomorrow}`);
  // The corpus is dated 2024-07-26 (its four kinds, and the dead letters) but was shipped today.
  const corpusDays = ['alerts', 'deadletter', 'logs', 'messages', 'relay'].map(
    (k) => `${prefix}-${k}-2024.07.26`,
  );
  const today = new Date().toISOString().slice(0, 10);
  const kept = `${corpusDays.map((i) => `kept ${i}: created ${today}, within the 30 days (old records shipped lately: a backfill, or a node's clock behind)\n`).join('')}no ${prefix}-* index is past 30 days of retention\n`;
  for (const dryRun of [['--dry-run'], []]) {
    const r = await runShipper(['prune', '--older-than', '30d', ...dryRun, ...common()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, kept);
  }
  const indices = async () =>
    ((await openSearch('GET', `/_cat/indices/${prefix}-*?format=json&h=index`)) as { index: string }[])
      .map((r) => r.index)
      .sort();
  assert.deepEqual(await indices(), [...corpusDays, `${prefix}-alerts-${tomorrow}`].sort());

  // 31 days on, by OpenSearch's own creation dates, the corpus's indices are past retention.
  const http = new ElasticsearchHttp(
    { url: testOpenSearchUrl(), tlsVerify: true, requestTimeoutMs: 30_000 },
    () => {},
  );
  try {
    const later = await pruneIndices(http, prefix, 30, { now: new Date(Date.now() + 31 * 86_400_000) });
    assert.deepEqual(later, { past: corpusDays, writtenLately: [] });
  } finally {
    http.close();
  }
  assert.deepEqual(await indices(), [`${prefix}-alerts-${tomorrow}`]);
});
