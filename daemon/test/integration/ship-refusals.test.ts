// Refusals that come from the cluster's state, not from the documents, made by the real
// Elasticsearch: index auto-creation turned off for our indices, a write block on them, and a
// default pipeline set on them that does not exist. Every
// document is refused alike; none may leave the main indices for the dead letters (where the
// dead-letter index is refused too, the bounded local file), and each gets in once it can.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@elastic/elasticsearch';
import { type Corpus, makeCorpus } from '../support/corpus.js';
import { cleanUp, countsByKind, testClient, testEsUrl, uniquePrefix } from '../support/elasticsearch.js';
import {
  logLines,
  runShipper,
  shipArgs,
  startShipper,
  statusPort,
  stoppedSummary,
} from '../support/shipper-process.js';

let client: Client;
let first: Corpus;
let second: Corpus;
const prefixes: string[] = [];
const REFUSED_LOG = 'Elasticsearch refused documents for now; retrying with backoff';

before(async () => {
  client = testClient();
  // The same start and size, other records: the same days, so the same daily indices.
  first = await makeCorpus('ship-refusals-1', 1500, 51);
  second = await makeCorpus('ship-refusals-2', 1500, 52);
});
after(async () => {
  await client.cluster
    .putSettings({ persistent: { 'action.auto_create_index': null } })
    .catch(() => undefined);
  for (const prefix of prefixes) await cleanUp(client, prefix);
  await client.close();
  for (const c of [first, second]) await rm(c.dir, { recursive: true, force: true });
});

function newPrefix(label: string): string {
  const prefix = uniquePrefix(label);
  prefixes.push(prefix);
  return prefix;
}

/** `run --once` over a corpus, with checkpoints of this prefix's own (each test ships it anew). */
function once(c: Corpus, prefix: string, ...more: string[]): string[] {
  const checkpointDir = join(c.dir, `checkpoints-${prefix}`);
  return [
    'run',
    '--once',
    ...shipArgs({ paths: c.glob, checkpointDir, esUrl: testEsUrl(), prefix }),
    ...more,
  ];
}

/** Documents in the main indices (not the dead letters), by kind, without kinds that have none. */
async function mainCounts(prefix: string): Promise<Record<string, number>> {
  const { deadletter = 0, ...kept } = await countsByKind(client, prefix);
  assert.equal(deadletter, 0, 'documents in the dead-letter index');
  return kept;
}

function expected(...corpora: Corpus[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of corpora)
    for (const [kind, n] of Object.entries(c.byKind)) if (n > 0) out[kind] = (out[kind] ?? 0) + n;
  return out;
}

test('index auto-creation turned off for our indices: the shipper creates them itself (the templates apply); exact, nothing dead-lettered', async () => {
  const prefix = newPrefix('noautocreate');
  // Only ours: every other test's indices on this node are still created as usual.
  await client.cluster.putSettings({ persistent: { 'action.auto_create_index': `-${prefix}-*,+*` } });
  try {
    const run = await runShipper(once(first, prefix, '--no-http'), { SHIPPER_LOG_LEVEL: 'info' });
    assert.equal(run.code, 0, run.stderr);
    const summary = stoppedSummary(run.stdout);
    assert.equal(summary.documents.dead_lettered ?? 0, 0);
    assert.deepEqual(summary.deadLetters, {});
    assert.equal(summary.documents.indexed, first.total);
    assert.ok((summary.documents.retried ?? 0) > 0, 'no document was refused: was auto-creation off?');
    const refused = logLines(run.stdout).find((l) => l.msg === REFUSED_LOG);
    assert.match(String(refused?.error), /^404 index_not_found_exception: .*; created /);
  } finally {
    await client.cluster.putSettings({ persistent: { 'action.auto_create_index': null } });
  }
  assert.deepEqual(await mainCounts(prefix), expected(first));
  // Created by the shipper, the indices still have the template's mapping.
  const mapping = await client.indices.getMapping({ index: `${prefix}-alerts-*` });
  for (const m of Object.values(mapping))
    assert.equal((m.mappings.properties?.Operation as { type?: string } | undefined)?.type, 'keyword');
});

/**
 * Ships `first`, then puts `setting` = `value` on its indices, ships `second` as the daemon would
 * see it, refused item by item with `errorType`; checks that nothing is dead-lettered while
 * refused, removes the setting, and that all of `second` gets in. Returns the log line of the
 * refusal.
 */
async function refusedWhileSet(
  prefix: string,
  errorType: string,
  setting: string,
  value: string | boolean,
): Promise<string> {
  const put = (v: string | boolean | null) =>
    client.indices.putSettings({ index: `${prefix}-*`, settings: { [setting]: v } });
  const made = await runShipper(once(first, prefix, '--no-http'));
  assert.equal(made.code, 0, made.stderr);
  await put(value);
  const running = startShipper(once(second, prefix, '--http-port', '0'), { SHIPPER_LOG_LEVEL: 'info' });
  let refused = 0;
  try {
    const port = await statusPort(running);
    const counted = new RegExp(`^kubearmor_shipper_item_errors_total\\{type="${errorType}"\\} (\\d+)`, 'm');
    for (let i = 0; i < 150 && refused === 0; i++) {
      await sleep(200);
      const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
        (r) => r.text(),
        () => '',
      );
      refused = Number(counted.exec(text)?.[1] ?? 0);
    }
    assert.ok(refused > 0, `no document was refused with ${errorType} in 30 s`);
    // A few more rounds of backoff while refused, then still nothing dead-lettered.
    await sleep(3000);
    assert.equal(running.child.exitCode, null, 'the shipper finished while its documents were refused');
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    assert.doesNotMatch(metrics, /^kubearmor_shipper_dead_letters_total\{/m);
  } catch (err) {
    running.child.kill('SIGKILL');
    throw err;
  } finally {
    await put(null);
  }
  const run = await running.done;
  assert.equal(run.code, 0, run.stderr);
  const summary = stoppedSummary(run.stdout);
  assert.equal(summary.documents.dead_lettered ?? 0, 0);
  assert.equal(summary.documents.indexed, second.total);
  assert.ok((summary.documents.retried ?? 0) >= refused);
  assert.deepEqual(await mainCounts(prefix), expected(first, second));
  return String(logLines(run.stdout).find((l) => l.msg === REFUSED_LOG)?.error);
}

test('a write block on our indices: documents wait, retried, and all get in once it is lifted; nothing dead-lettered', async () => {
  const prefix = newPrefix('writeblock');
  const refusal = await refusedWhileSet(prefix, 'cluster_block_exception', 'index.blocks.write', true);
  assert.match(refusal, /^403 cluster_block_exception: index \[.*\] blocked by/);
});

test('a default pipeline on our indices that does not exist (an administrator’s setting): documents wait, and all get in once it is fixed; nothing dead-lettered', async () => {
  const prefix = newPrefix('nopipeline');
  const refusal = await refusedWhileSet(
    prefix,
    'illegal_argument_exception',
    'index.default_pipeline',
    `missing-${prefix}`,
  );
  assert.match(refusal, /^400 illegal_argument_exception: pipeline with id \[missing-.*\] does not exist/);
});
