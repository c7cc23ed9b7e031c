import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FINGERPRINT_MAX_BYTES,
  hashHead,
  makeIdentity,
  runtimeTimeOfHead,
  sameFingerprint,
  wantsWholeFirstLine,
} from './file-identity.js';

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

test('a JSON first line is fingerprinted whole: two docker files that begin with the same KiB differ by their `time`', () => {
  // Both files begin with the last piece of the same long line, at different times.
  const rest = `{"log":"${'A'.repeat(3000)}\\n","stream":"stdout","time":"2024-07-26T10:41:48.5Z"}\n`;
  const other = rest.replace('10:41:48.5Z', '10:41:49.5Z');
  const a = makeIdentity(1, 2, Buffer.from(`${rest}{"log":"x\\n"}\n`));
  const b = makeIdentity(1, 3, Buffer.from(other));
  assert.ok(a && b);
  assert.notEqual(a.fingerprint, b.fingerprint);
  assert.equal(a.fingerprintBytes, Buffer.byteLength(rest));
  assert.equal(a.headTime, '2024-07-26T10:41:48.5Z');
  // What a checkpoint saved before covered, the first KiB, is the same for both, and still matches.
  assert.equal(a.shortFingerprint, b.shortFingerprint);
  assert.equal(a.shortFingerprint, hashHead(Buffer.from(rest).subarray(0, FINGERPRINT_MAX_BYTES)));
  assert.ok(sameFingerprint(a, a.shortFingerprint as string, FINGERPRINT_MAX_BYTES));
  assert.ok(sameFingerprint(a, a.fingerprint, a.fingerprintBytes));
  assert.ok(!sameFingerprint(a, b.fingerprint, b.fingerprintBytes));
  // A first KiB is not enough to know such a file: read on to the end of its first line.
  const firstKiB = Buffer.from(rest).subarray(0, FINGERPRINT_MAX_BYTES);
  assert.ok(wantsWholeFirstLine(firstKiB));
  assert.equal(makeIdentity(1, 2, firstKiB), undefined);
  // Lines that are not JSON keep the first KiB; short JSON lines are whole anyway.
  const cri = Buffer.from(`2024-07-26T10:41:48.5Z stdout F ${'A'.repeat(3000)}\n`);
  assert.ok(!wantsWholeFirstLine(cri.subarray(0, FINGERPRINT_MAX_BYTES)));
  assert.equal(
    makeIdentity(1, 2, cri.subarray(0, FINGERPRINT_MAX_BYTES))?.fingerprintBytes,
    FINGERPRINT_MAX_BYTES,
  );
  assert.equal(makeIdentity(1, 2, Buffer.from('{"log":"x\\n"}\n'))?.shortFingerprint, undefined);
});
