import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ReadinessState, readinessProblems } from './status-server.js';

const ready: ReadinessState = {
  templatesInstalled: true,
  now: 1_000_000,
  lastAnswer: 999_000,
  lastAccepted: 999_000,
  waitingDocuments: 0,
};

test('ready: templates installed, Elasticsearch answering and taking documents', () => {
  assert.deepEqual(readinessProblems(ready), []);
  // Nothing waiting: nothing to take, however long ago the last one was.
  assert.deepEqual(readinessProblems({ ...ready, lastAccepted: 0 }), []);
  // Waiting, the last one taken within the minute.
  assert.deepEqual(readinessProblems({ ...ready, waitingDocuments: 500, lastAccepted: 941_000 }), []);
});

test('not ready: no templates; Elasticsearch silent for 30 s; or answering but taking none of the waiting documents for 60 s', () => {
  assert.deepEqual(readinessProblems({ ...ready, templatesInstalled: false }), [
    'index templates are not installed yet',
  ]);
  assert.deepEqual(
    readinessProblems({ ...ready, lastAnswer: 969_000, waitingDocuments: 5, lastAccepted: 0 }),
    ['Elasticsearch has not answered for 30 s'],
  );
  assert.deepEqual(readinessProblems({ ...ready, waitingDocuments: 1200, lastAccepted: 939_000 }), [
    'Elasticsearch has taken none of the 1200 documents waiting for 60 s: see item_errors_total and the log',
  ]);
});
