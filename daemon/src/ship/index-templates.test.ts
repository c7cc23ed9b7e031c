import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ElasticsearchRequester, ResponseError } from './elasticsearch-http.js';
import {
  detectDistribution,
  detectLifecycle,
  indexTemplates,
  indicesOlderThan,
  mappingsFor,
  pruneIndices,
  withoutLifecycle,
} from './index-templates.js';

function answering(
  statusCode: number | undefined,
  body: unknown = { operation_mode: 'RUNNING' },
): ElasticsearchRequester {
  return {
    request: async () => {
      if (statusCode === undefined) throw new Error('socket hang up');
      if (statusCode >= 400) throw new ResponseError({ statusCode, body: {} });
      return body;
    },
  };
}

test('ILM is there, is not, or these credentials may not tell; bad credentials and outages are errors', async () => {
  assert.equal(await detectLifecycle(answering(200)), 'ilm');
  // No such endpoint: the integ-test distribution answers 405, others 400 or 404.
  for (const status of [400, 404, 405]) assert.equal(await detectLifecycle(answering(status)), 'none');
  assert.equal(await detectLifecycle(answering(403)), 'forbidden');
  await assert.rejects(detectLifecycle(answering(401)), ResponseError);
  await assert.rejects(detectLifecycle(answering(503)), ResponseError);
  await assert.rejects(detectLifecycle(answering(undefined)), /socket hang up/);
});

test('without a policy, the advice names prune with the retention; with ILM there is none', () => {
  assert.equal(withoutLifecycle('ilm', 30), undefined);
  assert.match(withoutLifecycle('none', 30) ?? '', /no ILM.*prune --older-than 30d/);
  assert.match(withoutLifecycle('forbidden', 7) ?? '', /manage_ilm.*prune --older-than 7d/);
  assert.match(withoutLifecycle('none', 14, 'opensearch') ?? '', /OpenSearch .*ISM.*prune --older-than 14d/);
});

test('OpenSearch names itself in GET /; anything else, or a refusal of GET /, is Elasticsearch', async () => {
  const root = (distribution?: string) => ({ version: { number: '2.19.6', distribution } });
  assert.equal(await detectDistribution(answering(200, root('opensearch'))), 'opensearch');
  assert.equal(await detectDistribution(answering(200, root())), 'elasticsearch');
  assert.equal(await detectDistribution(answering(200, null)), 'elasticsearch');
  // The integ-test distribution has no GET / (405); an API key without `monitor` gets 403.
  for (const status of [403, 405]) assert.equal(await detectDistribution(answering(status)), 'elasticsearch');
  await assert.rejects(detectDistribution(answering(401)), ResponseError);
  await assert.rejects(detectDistribution(answering(undefined)), /socket hang up/);
});

/** Every `type` in a mapping, by its dotted path. */
function typesOf(mapping: Record<string, unknown>, path = ''): Map<string, string> {
  const out = new Map<string, string>();
  const properties = (mapping.properties ?? {}) as Record<string, Record<string, unknown>>;
  for (const [name, field] of Object.entries(properties)) {
    if (typeof field.type === 'string') out.set(path + name, field.type);
    for (const [k, v] of typesOf(field, `${path}${name}.`)) out.set(k, v);
  }
  return out;
}

test('for OpenSearch every flattened field is a flat_object (no ignore_above), and nothing else changes', () => {
  for (const kind of ['alerts', 'relay', 'deadletter'] as const) {
    const es = typesOf(mappingsFor(kind));
    const os = typesOf(mappingsFor(kind, 'opensearch'));
    assert.deepEqual([...os.keys()], [...es.keys()]);
    for (const [path, type] of es)
      assert.equal(os.get(path), type === 'flattened' ? 'flat_object' : type, path);
  }
  const alerts = typesOf(mappingsFor('alerts'));
  assert.deepEqual(
    [...alerts].filter(([, t]) => t === 'flattened').map(([p]) => p),
    ['EventData', 'labels', 'kubernetes.labels', 'kubernetes.annotations', 'kubernetes.namespace_labels'],
  );
  const [template] = indexTemplates({ prefix: 'p', distribution: 'opensearch', shards: 1, replicas: 0 });
  assert.ok(template);
  const props = (template.body.template as { mappings: { properties: Record<string, unknown> } }).mappings
    .properties;
  assert.deepEqual(props.labels, { type: 'flat_object' });
  // The Elasticsearch mapping is not changed by building OpenSearch's.
  assert.deepEqual((mappingsFor('alerts').properties as Record<string, unknown>).labels, {
    type: 'flattened',
    ignore_above: 1024,
  });
});

test('prune takes an index past retention by its name and its creation; one written lately is kept, nothing else is ours', async () => {
  const now = new Date('2026-12-05T12:00:00Z');
  const daysAgo = (d: number) => String(now.getTime() - d * 86_400_000);
  const rows = [
    { index: 'ka-alerts-2026.11.04', 'creation.date': daysAgo(31) },
    // 30 days before today's day by name, 30 days and 12 hours old: not past until tomorrow.
    { index: 'ka-logs-2026.11.05', 'creation.date': daysAgo(30.5) },
    // Old records shipped today (a backfill, a clock behind): kept, as ILM would keep them.
    { index: 'ka-relay-2000.01.01', 'creation.date': daysAgo(0.1) },
    { index: 'ka-deadletter-2026.10.01', 'creation.date': daysAgo(29) },
    // No creation date to go by: never deleted on a guess.
    { index: 'ka-messages-2026.10.01' },
    { index: 'ka-deadletter-2026.09.01', 'creation.date': daysAgo(90) },
    { index: 'ka-unrelated-2026.01.01', 'creation.date': daysAgo(400) },
    { index: 'ka-alerts-2026.01.01-restored', 'creation.date': daysAgo(400) },
    { index: 'kb-alerts-2026.01.01', 'creation.date': daysAgo(400) },
  ];
  const asked: string[] = [];
  const es: ElasticsearchRequester = {
    request: async (method, path, options) => {
      asked.push(`${method} ${path}`);
      if (method === 'GET') {
        assert.equal(options?.query?.h, 'index,creation.date');
        return rows;
      }
      return { acknowledged: true };
    },
  };
  const found = await indicesOlderThan(es, 'ka', 30, now);
  assert.deepEqual(found.past, ['ka-alerts-2026.11.04', 'ka-deadletter-2026.09.01']);
  assert.deepEqual(
    found.writtenLately.map((k) => [k.index, k.created?.toISOString()]),
    [
      ['ka-deadletter-2026.10.01', new Date(Number(daysAgo(29))).toISOString()],
      ['ka-messages-2026.10.01', undefined],
      ['ka-relay-2000.01.01', new Date(Number(daysAgo(0.1))).toISOString()],
    ],
  );
  assert.deepEqual(asked, ['GET /_cat/indices/ka-*']);

  asked.length = 0;
  await pruneIndices(es, 'ka', 30, { dryRun: true, now });
  assert.deepEqual(asked, ['GET /_cat/indices/ka-*']);
  asked.length = 0;
  await pruneIndices(es, 'ka', 30, { now });
  assert.deepEqual(asked, [
    'GET /_cat/indices/ka-*',
    'DELETE /ka-alerts-2026.11.04',
    'DELETE /ka-deadletter-2026.09.01',
  ]);
});
