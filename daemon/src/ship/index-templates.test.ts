import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ElasticsearchRequester, ResponseError } from './elasticsearch-http.js';
import { detectLifecycle, withoutLifecycle } from './index-templates.js';

function answering(statusCode: number | undefined): ElasticsearchRequester {
  return {
    request: async () => {
      if (statusCode === undefined) throw new Error('socket hang up');
      if (statusCode >= 400) throw new ResponseError({ statusCode, body: {} });
      return { operation_mode: 'RUNNING' };
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
});
