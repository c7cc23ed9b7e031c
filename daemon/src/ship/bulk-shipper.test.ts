import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TailedFile } from '../tail/tailed-file.js';
import { groupedBySimilarity, type PendingDocument } from './bulk-shipper.js';

const file = {} as TailedFile;
const doc = (start: number): PendingDocument => ({
  file,
  ticket: start,
  start,
  buffer: Buffer.alloc(0),
  from: 0,
  to: 0,
});

test('a batch grouped by similarity: each group where its first document was, each in arrival order', () => {
  const docs = [0, 1, 2, 3, 4, 5, 6].map(doc);
  const ordered = groupedBySimilarity({ docs, similarity: [7, 9, 7, 3, 9, 7, 3] });
  assert.deepEqual(
    ordered.map((d) => d.start),
    [0, 2, 5, 1, 4, 3, 6],
  );
  // All alike or all different: the batch as it is.
  assert.equal(groupedBySimilarity({ docs, similarity: [1, 1, 1, 1, 1, 1, 1] }), docs);
  assert.equal(groupedBySimilarity({ docs, similarity: [1, 2, 3, 4, 5, 6, 7] }), docs);
});
