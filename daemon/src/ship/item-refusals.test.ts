import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ElasticsearchRequester } from './elasticsearch-http.js';
import { ResponseError } from './elasticsearch-http.js';
import { type BulkItemResult, createIndices, describeItem, itemHandling } from './item-refusals.js';

const item = (status: number, type?: string): BulkItemResult =>
  type === undefined ? { status } : { status, error: { type, reason: 'r' } };

test("only a refusal that is the document's own fault is final; the cluster's state is retried", () => {
  const cases: [BulkItemResult | undefined, string][] = [
    [item(201), 'indexed'],
    [item(200), 'indexed'],
    [item(409, 'version_conflict_engine_exception'), 'already_present'],
    // The document's content: dead-lettered.
    [item(400, 'document_parsing_exception'), 'reject'],
    [item(400, 'mapper_parsing_exception'), 'reject'],
    [item(400, 'illegal_argument_exception'), 'reject'],
    [item(400), 'reject'],
    // Busy, broken, or no answer: retried.
    [item(429, 'es_rejected_execution_exception'), 'retry'],
    [item(429, 'circuit_breaking_exception'), 'retry'],
    [item(503, 'unavailable_shards_exception'), 'retry'],
    [item(500), 'retry'],
    [item(0), 'retry'],
    [undefined, 'retry'],
    // The cluster's state or configuration: every document alike, until an operator fixes it.
    [item(403, 'cluster_block_exception'), 'retry'],
    [item(403, 'security_exception'), 'retry'],
    [item(401, 'security_exception'), 'retry'],
    [item(404, 'index_not_found_exception'), 'retry'],
    [item(400, 'index_closed_exception'), 'retry'],
    [item(400, 'validation_exception'), 'retry'],
    [item(408), 'retry'],
    // The same type as a document's fault, but Elasticsearch's words say it is the index's setting.
    [
      {
        status: 400,
        error: { type: 'illegal_argument_exception', reason: 'pipeline with id [geoip] does not exist' },
      },
      'retry',
    ],
    [
      {
        status: 500,
        error: {
          type: 'illegal_state_exception',
          reason: 'There are no ingest nodes in this cluster, unable to forward request to an ingest node.',
        },
      },
      'retry',
    ],
    [
      {
        status: 400,
        error: {
          type: 'illegal_argument_exception',
          reason: 'field [pipeline with id [x] does not exist] x',
        },
      },
      'reject',
    ],
  ];
  for (const [answer, handling] of cases)
    assert.equal(itemHandling(answer), handling, JSON.stringify(answer));
});

test("a refused item is described in Elasticsearch's words", () => {
  assert.equal(
    describeItem({ status: 403, error: { type: 'cluster_block_exception', reason: 'index [a] blocked' } }),
    '403 cluster_block_exception: index [a] blocked',
  );
  assert.equal(describeItem(undefined), 'no answer for the item');
});

test('creating indices: one already there is fine, any other failure is thrown', async () => {
  const puts: string[] = [];
  const es = (error?: { status: number; type: string }): ElasticsearchRequester => ({
    request: async (method, path) => {
      puts.push(`${method} ${path}`);
      if (error !== undefined)
        throw new ResponseError({ statusCode: error.status, body: { error: { type: error.type } } });
      return { acknowledged: true };
    },
  });
  await createIndices(es(), ['kubearmor-alerts-2024.07.26', 'kubearmor-logs-2024.07.26']);
  assert.deepEqual(puts, ['PUT /kubearmor-alerts-2024.07.26', 'PUT /kubearmor-logs-2024.07.26']);
  await createIndices(es({ status: 400, type: 'resource_already_exists_exception' }), ['a']);
  await assert.rejects(createIndices(es({ status: 403, type: 'security_exception' }), ['a']), /HTTP 403/);
});
