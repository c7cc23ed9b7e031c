// Proves the wiring to a real Elasticsearch with the real client: a composable index template,
// a bulk request, a refresh and an aggregation, and that the answers come from Elasticsearch.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { ElasticsearchHttp } from '../../src/ship/elasticsearch-http.js';
import { expectedEsVersion, testClient, testEsUrl, uniquePrefix } from '../support/elasticsearch.js';

let client: Client;
const prefix = uniquePrefix('wiring');

before(() => {
  client = testClient();
});

after(async () => {
  await client.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true });
  await client.indices.deleteIndexTemplate({ name: prefix }, { ignore: [404] });
  await client.close();
});

test('the server is a real Elasticsearch of the version asked for (product header and version)', async () => {
  const res = await client.cluster.health({}, { meta: true });
  assert.equal(res.headers['x-elastic-product'], 'Elasticsearch');
  const nodes = await client.nodes.info({ metric: ['settings'] });
  const versions = Object.values(nodes.nodes).map((n) => n.version);
  assert.equal(versions.length, 1);
  assert.match(versions[0] ?? '', expectedEsVersion());
});

test('template mappings apply, bulk-indexed documents come back through a terms aggregation', async () => {
  await client.indices.putIndexTemplate({
    name: prefix,
    index_patterns: [`${prefix}-*`],
    template: {
      settings: { number_of_shards: 1, number_of_replicas: 0 },
      mappings: {
        dynamic: false,
        properties: {
          '@timestamp': { type: 'date' },
          Type: { type: 'keyword' },
          Severity: { type: 'keyword' },
          HostPID: { type: 'long' },
        },
      },
    },
  });

  const index = `${prefix}-2024.07.26`;
  const docs = [
    { '@timestamp': '2024-07-26T10:41:47.932526Z', Type: 'MatchedPolicy', Severity: '5', HostPID: 495877 },
    { '@timestamp': '2024-07-26T10:43:32.118204Z', Type: 'MatchedPolicy', Severity: '7', HostPID: 2514068 },
    { '@timestamp': '2024-07-26T10:45:00.000812Z', Type: 'SystemEvent', HostPID: 1 },
    {
      '@timestamp': '2023-08-23T18:08:09.522743Z',
      Type: 'MatchedHostPolicy',
      Severity: '1',
      HostPID: 1791316,
    },
  ];
  const bulk = await client.bulk({
    operations: docs.flatMap((doc, i) => [{ create: { _index: index, _id: `doc-${i}` } }, doc]),
  });
  assert.equal(bulk.errors, false);
  assert.deepEqual(
    bulk.items.map((item) => item.create?.status),
    [201, 201, 201, 201],
  );

  // The template, not dynamic mapping, decided the types.
  const mapping = await client.indices.getMapping({ index });
  const properties = mapping[index]?.mappings.properties ?? {};
  assert.equal(properties.Type?.type, 'keyword');
  assert.equal(properties.HostPID?.type, 'long');

  await client.indices.refresh({ index });
  const res = await client.search(
    {
      index,
      size: 0,
      aggs: { by_type: { terms: { field: 'Type' } }, max_pid: { max: { field: 'HostPID' } } },
    },
    { meta: true },
  );
  assert.equal(res.headers['x-elastic-product'], 'Elasticsearch');
  const hits = res.body.hits.total;
  assert.equal(typeof hits === 'number' ? hits : hits?.value, 4);
  const aggs = res.body.aggregations as {
    by_type: { buckets: { key: string; doc_count: number }[] };
    max_pid: { value: number };
  };
  assert.deepEqual(
    aggs.by_type.buckets.map((b) => [b.key, b.doc_count]),
    [
      ['MatchedPolicy', 2],
      ['MatchedHostPolicy', 1],
      ['SystemEvent', 1],
    ],
  );
  assert.equal(aggs.max_pid.value, 2514068);
});

test('create with an id that exists is refused with 409, not indexed twice', async () => {
  const index = `${prefix}-dupes`;
  const first = await client.bulk({
    operations: [{ create: { _index: index, _id: 'same' } }, { n: 1 }],
    refresh: true,
  });
  const second = await client.bulk({
    operations: [{ create: { _index: index, _id: 'same' } }, { n: 2 }],
    refresh: true,
  });
  assert.equal(first.items[0]?.create?.status, 201);
  assert.equal(second.items[0]?.create?.status, 409);
  const count = await client.count({ index });
  assert.equal(count.count, 1);
});

test('a deprecation Elasticsearch warns of reaches the shipper (once), so a clean run is evidence', async () => {
  const heard: string[] = [];
  const es = new ElasticsearchHttp({ url: testEsUrl(), tlsVerify: true, requestTimeoutMs: 30_000 }, (w) =>
    heard.push(w),
  );
  try {
    // Legacy templates are deprecated in 8.x and 9.x alike; the shipper only uses composable ones.
    for (let i = 0; i < 2; i++) {
      await es.request('PUT', `/_template/legacy-${prefix}`, {
        body: JSON.stringify({ index_patterns: [`legacy-${prefix}-*`] }),
      });
    }
    assert.equal(heard.length, 1, heard.join('\n'));
    assert.match(heard[0] ?? '', /^299 Elasticsearch-\S+ "Legacy index templates are deprecated/);
  } finally {
    await es.request('DELETE', `/_template/legacy-${prefix}`).catch(() => undefined);
    es.close();
  }
});
