// Bad input never crashes, never stalls a file, never disappears: a corpus of broken lines goes
// through the whole pipeline into the real Elasticsearch; each line is indexed (flagged or as a
// relay record) or, when Elasticsearch rejects it, kept in the dead-letter index with the reason.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { containerAlertBlock, relayKlogError, relayZapInfo } from '../fixtures/kubearmor-lines.js';
import { cleanUp, countsByKind, testClient, testEsUrl, uniquePrefix } from '../support/elasticsearch.js';
import { runShipper, shipArgs, stoppedSummary } from '../support/shipper-process.js';

let client: Client;
let dir: string;
const prefix = uniquePrefix('malformed');

before(async () => {
  client = testClient();
  dir = await mkdtemp(join(tmpdir(), 'malformed-'));
});
after(async () => {
  await cleanUp(client, prefix);
  await client.close();
  await rm(dir, { recursive: true, force: true });
});

test('a malformed corpus: no crash, no stall, every bad record counted, the rejected one dead-lettered with the reason', async () => {
  let n = 0;
  const t = () => `2024-07-26T10:41:${String(10 + (n++ % 40)).padStart(2, '0')}.000000001Z`;
  const cri = (stream: string, content: string | Buffer) =>
    Buffer.concat([
      Buffer.from(`${t()} ${stream} F `),
      Buffer.isBuffer(content) ? content : Buffer.from(content),
      Buffer.from('\n'),
    ]);
  const ka = (extra: string) =>
    `{"Timestamp":1721990507,"UpdatedTime":"2024-07-26T10:41:47.932526Z","Type":"ContainerLog",${extra}}`;
  const deep = `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`;
  const parts = [
    cri('stdout', containerAlertBlock),
    cri(
      'stdout',
      Buffer.concat([
        Buffer.from(ka('"Resource":"/tmp/bad-')),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}').subarray(0, 2),
      ]),
    ),
    cri('stdout', ka(`"Pad":"${'x'.repeat(5 * 1024 * 1024)}"`)),
    cri('stdout', '{"Timestamp":1721990507,"Type":"Mess'),
    cri('stdout', ka(`"Deep":${deep}`)),
    cri('stdout', ka('"HostPID":"not-a-number","PPID":-1,"UID":"0","Labels":42,"ATags":"x"')),
    cri('stdout', ka('"Owner":"Deployment/not-an-object"')),
    cri('stderr', relayZapInfo),
    cri('stderr', relayKlogError),
    cri('stdout', ''),
    // A hole an unclean shutdown left: a line cut short, zeros, the runtime's next line after them
    // (two records: the cut line, and the alert).
    Buffer.concat([
      Buffer.from(`${t()} stdout F {"Timestamp":17219`),
      Buffer.alloc(8192),
      cri(
        'stdout',
        containerAlertBlock.replace('"PodName":"wordpress-787f45786f-2q9wf"', '"PodName":"after-the-hole"'),
      ),
    ]),
    cri(
      'stdout',
      containerAlertBlock.replace('"PodName":"wordpress-787f45786f-2q9wf"', '"PodName":"after-the-bad-ones"'),
    ),
  ];
  const recordsWritten = parts.length + 1;
  const pod = join(dir, 'pods', 'kubearmor_kubearmor-relay-x_uid', 'kubearmor-relay-server');
  mkdirSync(pod, { recursive: true });
  writeFileSync(join(pod, '0.log'), Buffer.concat(parts));

  const run = await runShipper([
    'run',
    '--once',
    ...shipArgs({ paths: join(pod, '*.log'), checkpointDir: join(dir, 'cp'), esUrl: testEsUrl(), prefix }),
    '--no-http',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const summary = stoppedSummary(run.stdout);
  const records = Object.values(summary.records).reduce((a, b) => a + b, 0);
  assert.equal(records, recordsWritten);
  assert.deepEqual(summary.badLines, { truncated: 1, invalid_json: 2, stderr: 2, empty: 1 });
  assert.deepEqual(summary.bytesLost, { zero_filled: 8192 });
  assert.equal(summary.flags.invalid_utf8, 1);
  assert.equal(summary.flags.truncated, 1);
  // The 5 MiB line: past the default maxEventBytes (1 MiB) + 64 KiB it is skipped unread, and counted.
  const longLine = (parts.find((p) => p.length > 5 * 1024 * 1024) as Buffer).length - 1;
  assert.equal(summary.bytesSkippedLongLines, longLine - ((1 << 20) + 64 * 1024));
  const { indexed = 0, dead_lettered = 0 } = summary.documents;
  assert.equal(indexed + dead_lettered, recordsWritten);
  assert.ok(dead_lettered >= 1, JSON.stringify(summary.documents));

  const counts = await countsByKind(client, prefix);
  assert.equal(counts.deadletter, dead_lettered);
  const dead = await client.search<{
    error: { type: string; reason: string };
    target: { id: string };
    event: { original: string };
  }>({
    index: `${prefix}-deadletter-*`,
    size: 10,
  });
  const owner = dead.hits.hits.find((h) => h._source?.event.original.includes('not-an-object'));
  assert.ok(owner, 'the document with a string Owner is in the dead-letter index');
  assert.match(owner._source?.error.reason ?? '', /Owner/);
  assert.equal(owner._id, owner._source?.target.id);
  // The line after the bad ones was not held up, and the alert after the hole is an alert.
  for (const pod of ['after-the-bad-ones', 'after-the-hole']) {
    const after = await client.count({ index: `${prefix}-alerts-*`, query: { term: { PodName: pod } } });
    assert.equal(after.count, 1, pod);
  }
});
