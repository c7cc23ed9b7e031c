import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCK_FILE, type LockAttempt, type LockOwner, lockDirectory } from './directory-lock.js';

let root: string;
let n = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'directory-lock-'));
});
after(() => rm(root, { recursive: true, force: true }));

async function freshDir(): Promise<string> {
  const dir = join(root, String(n++));
  await mkdir(dir);
  return dir;
}

/** Polls: under a loaded test run a 20 ms beat may come late. */
async function until(what: string, ok: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (await ok()) return;
    await sleep(20);
  }
  assert.fail(`not within 5 s: ${what}`);
}

function held(attempt: LockAttempt) {
  assert.equal(attempt.kind, 'held', JSON.stringify(attempt));
  return (attempt as Extract<LockAttempt, { kind: 'held' }>).lock;
}

async function ownerIn(dir: string): Promise<LockOwner> {
  return JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as LockOwner;
}

test('a second shipper finds the directory busy and is told who holds it; after the release it takes it', async () => {
  const dir = await freshDir();
  const first = held(await lockDirectory(dir));
  const owner = await ownerIn(dir);
  assert.equal(owner.pid, process.pid);

  const second = await lockDirectory(dir);
  assert.equal(second.kind, 'busy');
  assert.equal((second as Extract<LockAttempt, { kind: 'busy' }>).owner?.token, owner.token);

  await first.release();
  const third = held(await lockDirectory(dir));
  assert.notEqual((await ownerIn(dir)).token, owner.token);
  await third.release();
  await assert.rejects(readFile(join(dir, LOCK_FILE)), { code: 'ENOENT' });
});

test('a lock left by a process that is gone, in our PID namespace, is taken over at once', async () => {
  const dir = await freshDir();
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  const first = held(await lockDirectory(dir));
  const owner = await ownerIn(dir);
  await first.release();
  await writeFile(
    join(dir, LOCK_FILE),
    JSON.stringify({ ...owner, pid: Number(gone.stdout), token: 'dead' }),
  );
  const taken = held(await lockDirectory(dir));
  assert.notEqual((await ownerIn(dir)).token, 'dead');
  await taken.release();
});

test('a lock from another PID namespace is waited for while fresh and taken over once stale', async () => {
  const dir = await freshDir();
  const path = join(dir, LOCK_FILE);
  const other = { host: 'kubearmor-shipper-old', pid: 1, pidNamespace: 'pid:[1]', since: '', token: 'other' };
  await writeFile(path, JSON.stringify(other));
  const busy = await lockDirectory(dir, { staleMs: 10_000 });
  assert.equal(busy.kind, 'busy');

  const old = new Date(Date.now() - 11_000);
  await utimes(path, old, old);
  const taken = held(await lockDirectory(dir, { staleMs: 10_000 }));
  assert.notEqual((await ownerIn(dir)).token, 'other');
  await taken.release();
});

test('a lock being written (empty) is fresh: waited for, not taken', async () => {
  const dir = await freshDir();
  await writeFile(join(dir, LOCK_FILE), '');
  const attempt = await lockDirectory(dir);
  assert.equal(attempt.kind, 'busy');
  assert.equal((attempt as Extract<LockAttempt, { kind: 'busy' }>).owner, undefined);
});

test('the holder refreshes its lock, and notices when another shipper took it over; its release leaves the other one alone', async () => {
  const dir = await freshDir();
  const path = join(dir, LOCK_FILE);
  const lost: (LockOwner | undefined)[] = [];
  const lock = held(await lockDirectory(dir, { heartbeatMs: 20, onLost: (o) => lost.push(o) }));
  const old = new Date(Date.now() - 60_000);
  await utimes(path, old, old);
  await until(
    'the refresh moves the lock’s time',
    async () => Date.now() - (await stat(path)).mtimeMs < 1000,
  );
  assert.equal(lost.length, 0);

  const other = { host: 'elsewhere', pid: 1, pidNamespace: 'pid:[1]', since: '', token: 'other' };
  // Whole, as a rename: a refresh that reads the file while it is being written sees no owner.
  await writeFile(`${path}.new`, JSON.stringify(other));
  await rename(`${path}.new`, path);
  await until('the take-over noticed', () => lost.length > 0);
  await sleep(100);
  assert.equal(lost.length, 1, 'told once');
  assert.equal(lost[0]?.token, 'other');
  await lock.release();
  assert.equal((await ownerIn(dir)).token, 'other', 'the other shipper’s lock stays');
});

test('a directory where no lock can be written, or a lock that cannot be read, is unavailable, not busy', async () => {
  const dir = join(await freshDir(), 'a-file');
  await writeFile(dir, '');
  assert.equal((await lockDirectory(dir)).kind, 'unavailable');
  // A directory in the lock's place: waiting for it would never end.
  const other = await freshDir();
  await mkdir(join(other, LOCK_FILE));
  const attempt = await lockDirectory(other);
  assert.equal(attempt.kind, 'unavailable');
  assert.match((attempt as Extract<LockAttempt, { kind: 'unavailable' }>).error.message, /EISDIR/);
});

test('a lock removed under its holder (by hand, or with its directory) is put back, not lost', async () => {
  const dir = await freshDir();
  const path = join(dir, LOCK_FILE);
  const lost: (LockOwner | undefined)[] = [];
  const errors: Error[] = [];
  const lock = held(
    await lockDirectory(dir, {
      heartbeatMs: 20,
      onLost: (o) => lost.push(o),
      onRefreshError: (e) => errors.push(e),
    }),
  );
  const token = (await ownerIn(dir)).token;
  await rm(path);
  await until('the lock put back', async () => (await ownerIn(dir).catch(() => undefined))?.token === token);
  // The whole directory, then the directory made again (the checkpoint store does so).
  await rm(dir, { recursive: true });
  await until('a refresh failing', () => errors.length > 0);
  await mkdir(dir);
  await until(
    'the lock put back again',
    async () => (await ownerIn(dir).catch(() => undefined))?.token === token,
  );
  assert.equal(lost.length, 0);
  assert.equal((await lockDirectory(dir)).kind, 'busy', 'still held against others');
  await lock.release();
  await assert.rejects(readFile(path), { code: 'ENOENT' });
});
