import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeIdentity, runtimeTimeOfHead } from './file-identity.js';

test("the runtime's time on a file's first line: CRI, docker json-file, or none", () => {
  const cri = Buffer.from(
    '2024-07-26T10:41:48.123456789Z stdout F {"Type":"MatchedPolicy"}\n2024-07-27T00:00:00Z stdout F x\n',
  );
  assert.equal(makeIdentity(1, 2, cri)?.headTime, '2024-07-26T10:41:48.123456789Z');
  const docker = Buffer.from('{"log":"hello\\n","stream":"stdout","time":"2024-07-26T10:41:48.5Z"}\n');
  assert.equal(makeIdentity(1, 2, docker)?.headTime, '2024-07-26T10:41:48.5Z');
  // Only the first line counts; a docker line cut before its `time` has none.
  assert.equal(runtimeTimeOfHead(Buffer.from('{"log":"aaaa')), undefined);
  assert.equal(runtimeTimeOfHead(Buffer.from('no-spaces-at-all')), undefined);
  assert.equal(runtimeTimeOfHead(Buffer.from(`${'x'.repeat(50)} y`)), undefined);
  assert.equal(makeIdentity(1, 2, Buffer.from('plain text line\n'))?.headTime, 'plain');
});
