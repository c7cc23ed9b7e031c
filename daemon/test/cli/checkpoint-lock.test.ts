// The checkpoint directory's lock as the shipper meets it before it talks to anyone: held by a
// shipper on the same node (a rollout's old pod), the daemon waits; held by one on another node (a
// directory shared between nodes), waiting would never end: it says so and exits 1. `--once`
// does not wait for a live holder, but does for a lock no one refreshes (a container that died).
import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parsedObject } from '../support/json-text.js';
import { logLines, runShipper, startShipper } from '../support/shipper-process.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'checkpoint-lock-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** A lock as a live shipper on `node` holds it (this test's own process stands in for it). */
async function heldBy(
  checkpointDir: string,
  node: string,
  pidNamespace = readlinkSync('/proc/self/ns/pid'),
): Promise<void> {
  const owner = {
    host: 'kubearmor-shipper-b7x2k',
    node,
    pid: process.pid,
    pidNamespace,
    since: new Date().toISOString(),
    token: 'the-other-one',
  };
  await writeFile(join(checkpointDir, 'shipper.lock'), JSON.stringify(owner));
}

const args = (checkpointDir: string, node: string) => [
  'run',
  '--paths',
  join(dir, 'none', '*.log'),
  '--checkpoint-dir',
  checkpointDir,
  '--node-name',
  node,
  // Never reached: the lock comes first.
  '--es-url',
  'http://127.0.0.1:9',
  '--no-http',
];

test('held by a shipper on another node: the daemon names it and exits 1 at once', {
  timeout: 30_000,
}, async () => {
  const checkpointDir = await mkdtemp(join(dir, 'shared-'));
  await heldBy(checkpointDir, 'node-b');
  const run = await runShipper(args(checkpointDir, 'node-a'));
  assert.equal(run.code, 1, run.stderr);
  const line = logLines(run.stdout).find((l) =>
    l.msg.startsWith('the checkpoint directory is held by a shipper on another node'),
  );
  assert.match(String(line?.holder), /^pid \d+ on kubearmor-shipper-b7x2k \(node node-b\) since /);
});

test('held by a shipper on the same node: the daemon waits, and a SIGTERM meanwhile exits 0', {
  timeout: 30_000,
}, async () => {
  const checkpointDir = await mkdtemp(join(dir, 'same-'));
  await heldBy(checkpointDir, 'node-b');
  const running = startShipper(args(checkpointDir, 'node-b'));
  for (let i = 0; i < 100 && !running.output().stdout.includes('waiting for it to stop'); i++)
    await sleep(100);
  assert.match(running.output().stdout, /in use by another shipper; waiting for it to stop/);
  running.child.kill('SIGTERM');
  const done = await running.done;
  assert.equal(done.code, 0, done.stderr);
});

test('`--once` and a lock of another PID namespace: a holder that refreshes it is alive (exit 1 at once); one that does not is taken over once stale', {
  timeout: 60_000,
}, async () => {
  const live = await mkdtemp(join(dir, 'live-'));
  await heldBy(live, 'node-b', 'pid:[1]');
  const refresh = setInterval(() => {
    const now = new Date();
    void utimes(join(live, 'shipper.lock'), now, now);
  }, 300);
  try {
    const started = Date.now();
    const run = await runShipper(['run', '--once', ...args(live, 'node-b').slice(1)]);
    assert.equal(run.code, 1, run.stderr);
    assert.ok(logLines(run.stdout).some((l) => l.msg.startsWith('the checkpoint directory is in use')));
    assert.ok(Date.now() - started < 10_000, 'it waited for a live holder');
  } finally {
    clearInterval(refresh);
  }

  // Left 13 s ago by a container that is gone: stale 2 s later, then taken.
  const dead = await mkdtemp(join(dir, 'dead-'));
  await heldBy(dead, 'node-b', 'pid:[1]');
  const old = new Date(Date.now() - 13_000);
  await utimes(join(dead, 'shipper.lock'), old, old);
  const running = startShipper(['run', '--once', ...args(dead, 'node-b').slice(1)]);
  let owner: { pid?: number } = {};
  for (let i = 0; i < 200 && owner.pid !== running.child.pid; i++) {
    await sleep(100);
    // Empty for a moment while the new holder writes it.
    owner = (parsedObject(await readFile(join(dead, 'shipper.lock'), 'utf8').catch(() => '')) ?? {}) as {
      pid?: number;
    };
  }
  assert.equal(owner.pid, running.child.pid, running.output().stdout);
  // Elasticsearch (never there) is what it waits for now.
  running.child.kill('SIGTERM');
  assert.equal((await running.done).code, 0);
});
