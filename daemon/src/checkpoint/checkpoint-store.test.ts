import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CheckpointStore, type FileCheckpoint } from './checkpoint-store.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'checkpoints-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entry: FileCheckpoint = {
  key: '/var/log/pods/ns_pod_uid/ctr#0123456789abcdef',
  dev: 2049,
  ino: 1234,
  fingerprint: '0123456789abcdef',
  fingerprintBytes: 120,
  path: '/var/log/pods/ns_pod_uid/ctr/0.log',
  offset: 4096,
  size: 8192,
  released: false,
  updatedAt: '2024-01-01T00:00:00.000Z',
};

test('a missing file is reported, not fatal', async () => {
  const load = await new CheckpointStore(join(dir, 'none')).load();
  assert.deepEqual(load, { files: [], status: 'missing' });
});

test('saved checkpoints load back, and no temporary file is left', async () => {
  const store = new CheckpointStore(join(dir, 'ok'));
  await store.save([entry]);
  assert.deepEqual(await store.load(), { files: [entry], status: 'ok' });
  assert.deepEqual(await readdir(join(dir, 'ok')), ['checkpoints.json']);
});

test('a corrupt file is reported, kept aside, and treated as empty', async () => {
  const store = new CheckpointStore(join(dir, 'bad'));
  await store.save([entry]);
  await writeFile(store.path, '{"version":1,"files":[{"key":');
  const load = await store.load();
  assert.deepEqual(load.files, []);
  assert.match(load.status, /^corrupt/);
  const names = await readdir(join(dir, 'bad'));
  assert.ok(names.some((n) => n.startsWith('checkpoints.json.corrupt-')));
  assert.equal((await new CheckpointStore(join(dir, 'bad')).load()).status, 'missing');
});

test('invalid entries are skipped, valid ones kept', async () => {
  const store = new CheckpointStore(join(dir, 'partial'));
  await store.save([entry]);
  const data = JSON.parse(await readFile(store.path, 'utf8')) as { files: unknown[] };
  data.files.push({ key: 'x', offset: -1 });
  await writeFile(store.path, JSON.stringify(data));
  const load = await store.load();
  assert.deepEqual(load.files, [entry]);
  assert.equal(load.status, 'ok (invalid entries skipped)');
});
