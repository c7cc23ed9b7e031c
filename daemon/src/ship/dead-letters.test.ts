import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Counters } from '../metrics/counters.js';
import type { TailedFile } from '../tail/tailed-file.js';
import { Backoff } from './backoff.js';
import type { PendingDocument } from './bulk-shipper.js';
import { DeadLetters } from './dead-letters.js';
import { type ElasticsearchRequester, ResponseError } from './elasticsearch-http.js';

/** A client whose dead-letter index refuses every dead letter's content (a stand-in: real ES cannot be made to). */
function refusingClient(bodies: string[]): ElasticsearchRequester {
  return {
    request: async (_method, _path, options) => {
      const operations = String(options?.body);
      bodies.push(operations);
      const count = operations.split('\n').filter((l) => l !== '').length / 2;
      return {
        items: Array.from({ length: count }, () => ({
          create: { status: 400, error: { type: 'document_parsing_exception', reason: 'no' } },
        })),
      };
    },
  };
}

function doc(i: number): PendingDocument {
  const source = `{"Timestamp":1721990507,"Type":"HostLog","N":${i}}`;
  const buffer = Buffer.from(
    `{"create":{"_index":"kubearmor-logs-2024.07.26","_id":"abc-${i}"}}\n${source}\n`,
  );
  return {
    file: { path: '/var/log/containers/relay.log' } as TailedFile,
    ticket: i,
    start: i * 100,
    buffer,
    from: 0,
    to: buffer.length,
  };
}

/** Runs `body` with the path of a dead-letter file in a directory of its own, removed after. */
async function withDeadLetterFile(body: (file: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'deadletters-'));
  try {
    await body(join(dir, 'deadletter.ndjson'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('documents the dead-letter index refuses go to the local file, with both reasons; the file stays bounded', () =>
  withDeadLetterFile(async (file) => {
    const bodies: string[] = [];
    const counters = new Counters();
    const dl = new DeadLetters(refusingClient(bodies), 'kubearmor', file, 4000, counters, new Backoff(1, 2));
    await dl.store([
      {
        doc: doc(1),
        item: { status: 400, error: { type: 'document_parsing_exception', reason: 'bad Owner' } },
      },
    ]);
    assert.match(bodies[0] ?? '', /"_index":"kubearmor-deadletter-2024\.07\.26","_id":"abc-1"/);
    const line = JSON.parse((await readFile(file, 'utf8')).trim()) as Record<string, unknown>;
    assert.deepEqual(line.error, { status: 400, type: 'document_parsing_exception', reason: 'bad Owner' });
    assert.deepEqual(line.target, { index: 'kubearmor-logs-2024.07.26', id: 'abc-1' });
    assert.deepEqual(line.log, { file: { path: '/var/log/containers/relay.log' }, offset: 100 });
    assert.equal(
      (line.event as { original: string }).original,
      '{"Timestamp":1721990507,"Type":"HostLog","N":1}',
    );
    assert.equal((line.dead_letter_error as { type: string }).type, 'document_parsing_exception');
    assert.equal(counters.get('dead_letters', 'file'), 1);
    assert.equal((await stat(file)).mode & 0o777, 0o600, 'the events, readable by their owner only');

    for (let i = 2; i < 40; i++) await dl.store([{ doc: doc(i), item: { status: 400 } }]);
    const size = (await stat(file)).size + (await stat(`${file}.1`)).size;
    assert.ok(size <= 4000, `${size} bytes kept`);
    assert.ok(counters.get('bytes_lost', 'dead_letter_file_rotated') > 0);
    assert.equal(counters.get('dead_letters', 'file'), 39);
  }));

type Answer = number | { status: number; type: string };

/**
 * A client answering each dead-letter bulk request with the next answers of the script (one per
 * item sent: a status, or a status and an error type); it answers index creations itself.
 */
function scriptedClient(
  script: Answer[][],
  bodies: string[],
  created: string[] = [],
): ElasticsearchRequester {
  return {
    request: async (method, path, options) => {
      if (method === 'PUT') {
        created.push(path);
        return { acknowledged: true };
      }
      bodies.push(String(options?.body));
      const answers = script.shift();
      if (answers === undefined) throw new Error('connect ECONNREFUSED');
      return {
        items: answers.map((a) =>
          typeof a === 'number'
            ? { create: { status: a } }
            : { create: { status: a.status, error: { type: a.type } } },
        ),
      };
    },
  };
}

test('a dead letter answered 429 or 5xx is sent again, alone, until the index has it; each is counted once', () =>
  withDeadLetterFile(async (file) => {
    const bodies: string[] = [];
    const counters = new Counters();
    const retries: number[] = [];
    const dl = new DeadLetters(
      scriptedClient(
        [
          [201, 429, 503],
          [409, 201],
        ],
        bodies,
      ),
      'kubearmor',
      file,
      4000,
      counters,
      new Backoff(1, 2),
      () => false,
      (_err, attempt) => retries.push(attempt),
    );
    const stored = await dl.store([1, 2, 3].map((i) => ({ doc: doc(i), item: { status: 400 } })));
    assert.equal(stored, true);
    assert.equal(bodies.length, 2);
    assert.doesNotMatch(bodies[1] ?? '', /"abc-1"/);
    assert.match(bodies[1] ?? '', /"_id":"abc-2"[^\n]*\n[^\n]*\n[^\n]*"_id":"abc-3"/);
    assert.equal(counters.get('dead_letters', 'index'), 3);
    assert.equal(counters.get('dead_letters', 'file'), 0);
    assert.deepEqual(retries, [0]);
    await assert.rejects(stat(file));
  }));

test('once shipping stopped, a dead letter that cannot be stored is left unacknowledged (false), never thrown', async () => {
  let stopped = false;
  const dl = new DeadLetters(
    scriptedClient([], []),
    'kubearmor',
    join(tmpdir(), 'never-written.ndjson'),
    4000,
    new Counters(),
    new Backoff(1, 2),
    () => stopped,
    () => {
      stopped = true;
    },
  );
  assert.equal(await dl.store([{ doc: doc(1), item: { status: 400 } }]), false);
});

test('a dead letter refused by the cluster (a write block, no such index) is sent again, never to the file; a missing index is created', () =>
  withDeadLetterFile(async (file) => {
    const bodies: string[] = [];
    const created: string[] = [];
    const counters = new Counters();
    const dl = new DeadLetters(
      scriptedClient(
        [
          [
            { status: 403, type: 'cluster_block_exception' },
            { status: 404, type: 'index_not_found_exception' },
          ],
          [201, 201],
        ],
        bodies,
        created,
      ),
      'kubearmor',
      file,
      4000,
      counters,
      new Backoff(1, 2),
    );
    assert.equal(await dl.store([1, 2].map((i) => ({ doc: doc(i), item: { status: 400 } }))), true);
    assert.equal(bodies.length, 2);
    assert.deepEqual(created, ['/kubearmor-deadletter-2024.07.26']);
    assert.equal(counters.get('dead_letters', 'index'), 2);
    assert.equal(counters.get('dead_letters', 'file'), 0);
    await assert.rejects(stat(file));
  }));

test('dead letters refused as too large together (a proxy’s body limit) go in halves until they pass; one too large alone goes to the file, with the 413', () =>
  withDeadLetterFile(async (file) => {
    const limit = 1500;
    const sizes: number[] = [];
    const client: ElasticsearchRequester = {
      request: async (_method, _path, options) => {
        const body = String(options?.body);
        sizes.push(body.length);
        if (body.length > limit)
          throw new ResponseError({ statusCode: 413, body: '<html>413 Request Entity Too Large</html>' });
        const count = body.split('\n').filter((l) => l !== '').length / 2;
        return { items: Array.from({ length: count }, () => ({ create: { status: 201 } })) };
      },
    };
    const counters = new Counters();
    const dl = new DeadLetters(client, 'kubearmor', file, 1_000_000, counters, new Backoff(1, 2));
    // Each dead letter ~330 bytes: eight together pass no limit of 1,500, two or four do.
    const rejected = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => ({ doc: doc(i), item: { status: 400 } }));
    assert.equal(await dl.store(rejected), true);
    assert.equal(counters.get('dead_letters', 'index'), 8);
    assert.equal(counters.get('dead_letters', 'file'), 0);
    assert.ok(sizes.filter((s) => s <= limit).length >= 2, `${sizes}`);
    await assert.rejects(stat(file));

    const huge = doc(9);
    const source = `{"Timestamp":1721990507,"Type":"HostLog","Data":"${'x'.repeat(2000)}"}`;
    huge.buffer = Buffer.from(`{"create":{"_index":"kubearmor-logs-2024.07.26","_id":"abc-9"}}\n${source}\n`);
    huge.to = huge.buffer.length;
    assert.equal(
      await dl.store([
        { doc: doc(10), item: { status: 400 } },
        { doc: huge, item: { status: 400 } },
      ]),
      true,
    );
    assert.equal(counters.get('dead_letters', 'index'), 9);
    assert.equal(counters.get('dead_letters', 'file'), 1);
    const line = JSON.parse((await readFile(file, 'utf8')).trim()) as Record<string, unknown>;
    assert.deepEqual(line.target, { index: 'kubearmor-logs-2024.07.26', id: 'abc-9' });
    assert.deepEqual(line.error, { status: 400 });
    assert.deepEqual(
      [
        (line.dead_letter_error as { status: number }).status,
        (line.dead_letter_error as { type: string }).type,
      ],
      [413, 'request_entity_too_large'],
    );
  }));
