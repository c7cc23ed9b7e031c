// The checkpoint directory's lock as the daemon meets it before it talks to anyone: held by a
// shipper on the same node (a rollout's old pod), it waits; held by one on another node (a
// directory shared between nodes), waiting would never end: it says so and exits 1.
import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { logLines, runShipper, startShipper } from '../support/shipper-process.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'checkpoint-lock-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** A lock as a live shipper on `node` holds it (this test's own process stands in for it). */
async function heldBy(checkpointDir: string, node: string): Promise<void> {
  const owner = {
    host: 'kubearmor-shipper-b7x2k',
    node,
    pid: process.pid,
    pidNamespace: readlinkSync('/proc/self/ns/pid'),
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
