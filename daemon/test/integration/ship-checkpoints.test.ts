// The checkpoint directory becoming unwritable under the daemon (a full disk, a volume gone
// read-only): here, as root, a directory put where the store writes its temporary file. Shipping must go on —
// a crash loop would stop it while kubelet goes on rotating and deleting files — and the saves
// resume once the directory is back. A last save that fails is logged and the exit code says so;
// the next start sends again only what came after the last good save, which Elasticsearch
// answers 409.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@elastic/elasticsearch';
import { KubeletLogWriter } from '../../src/generate/kubelet-log-writer.js';
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
let dir: string;
const prefix = uniquePrefix('checkpoints');
const lockPrefix = uniquePrefix('checkpoint-lock');

before(async () => {
  client = testClient();
  dir = await mkdtemp(join(tmpdir(), 'ship-checkpoints-'));
});
after(async () => {
  await cleanUp(client, prefix);
  await cleanUp(client, lockPrefix);
  await client.close();
  await rm(dir, { recursive: true, force: true });
});

async function indexed(): Promise<number> {
  return Object.values(await countsByKind(client, prefix)).reduce((a, b) => a + b, 0);
}

async function waitFor(what: string, ok: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 150; i++) {
    // A search may fail while a new daily index's shard starts: that is a "not yet".
    if (await ok().catch(() => false)) return;
    await sleep(200);
  }
  assert.fail(`not within 30 s: ${what}`);
}

/** Relay logs written as kubelet would, and how many records so far. */
function relayWriter(name: string, seed: number, day: string) {
  const writer = new KubeletLogWriter({
    out: join(dir, name),
    seed,
    rotateBytes: 10_000_000,
    maxFiles: 5,
    startMs: Date.parse(`${day}T10:00:00Z`),
  });
  const written = () => {
    const { counts } = writer.result();
    return counts.alert + counts.log + counts.message + counts.relay;
  };
  return { writer, written };
}

test('checkpoint directory unwritable under the daemon: shipping goes on, saves resume once it is back; a failed last save exits 1 and the restart only re-sends', async () => {
  const { writer, written } = relayWriter('node', 61, '2024-07-26');
  const checkpointDir = join(dir, 'checkpoints');
  const checkpointFile = join(checkpointDir, 'checkpoints.json');
  const args = shipArgs({ paths: writer.glob, checkpointDir, esUrl: testEsUrl(), prefix });
  const daemon = () => startShipper(['run', ...args, '--http-port', '0']);
  // Every save writes `<file>.tmp` first: a directory there fails it, the last good file stays.
  const breakSaves = () => mkdir(`${checkpointFile}.tmp`);
  const repairSaves = () => rm(`${checkpointFile}.tmp`, { recursive: true });
  const metric = async (port: number, name: string) => {
    const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    return Number(new RegExp(`^kubearmor_shipper_${name} ([\\d.]+)`, 'm').exec(text)?.[1] ?? 0);
  };

  let running = daemon();
  try {
    let port = await statusPort(running);
    writer.write(200);
    await waitFor('the first lines indexed', async () => (await indexed()) === written());
    await waitFor('a checkpoint saved', () =>
      stat(checkpointFile).then(
        () => true,
        () => false,
      ),
    );

    await breakSaves();
    writer.write(300);
    await waitFor('lines written after the break indexed', async () => (await indexed()) === written());
    await waitFor(
      'a failed save counted',
      async () => (await metric(port, 'checkpoint_save_errors_total')) > 0,
    );
    assert.equal(running.child.exitCode, null, running.output().stderr);
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    assert.ok((await metric(port, 'checkpoint_age_seconds')) >= 1, 'the checkpoint age grows');
    const failed = logLines(running.output().stdout).find((l) => l.msg.startsWith('cannot save checkpoints'));
    assert.match(String(failed?.error), /EISDIR/);

    // Writable again: the next save writes everything acknowledged so far.
    await repairSaves();
    await waitFor(
      'a checkpoint saved again',
      async () => (await metric(port, 'checkpoint_age_seconds')) < 1.5,
    );
    running.child.kill('SIGTERM');
    let stopped = await running.done;
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stoppedSummary(stopped.stdout).checkpointsSaved, true);
    const again = await runShipper(['run', '--once', ...args, '--no-http']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      stoppedSummary(again.stdout).documents,
      {},
      'nothing sent again after the saves resumed',
    );

    // Unwritable at the stop: the last save fails, and the exit code says so.
    running = daemon();
    port = await statusPort(running);
    await breakSaves();
    const before = written();
    writer.write(100);
    await waitFor('the last lines indexed', async () => (await indexed()) === written());
    running.child.kill('SIGTERM');
    stopped = await running.done;
    assert.equal(stopped.code, 1, 'a failed last save exits 1');
    assert.equal(stoppedSummary(stopped.stdout).checkpointsSaved, false);
    await repairSaves();
    const replay = await runShipper(['run', '--once', ...args, '--no-http']);
    assert.equal(replay.code, 0, replay.stderr);
    // The checkpoints of before the break: what came since is sent again, and is already there.
    assert.deepEqual(stoppedSummary(replay.stdout).documents, { already_present: written() - before });
  } finally {
    if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
    writer.close();
  }
  assert.equal(await indexed(), written());
});

test('one shipper per checkpoint directory: a backfill beside the daemon refuses, a second daemon waits and goes on from the first one’s checkpoints, a killed holder’s lock is taken over, a lock taken away stops the daemon', async () => {
  const { writer, written } = relayWriter('lock-node', 62, '2024-07-27');
  const lockIndexed = async () =>
    Object.values(await countsByKind(client, lockPrefix)).reduce((a, b) => a + b, 0);
  const checkpointDir = join(dir, 'lock-checkpoints');
  const lockFile = join(checkpointDir, 'shipper.lock');
  const args = shipArgs({ paths: writer.glob, checkpointDir, esUrl: testEsUrl(), prefix: lockPrefix });
  const daemon = () => startShipper(['run', ...args, '--http-port', '0']);
  const logged = (running: { output(): { stdout: string } }, msg: string) =>
    logLines(running.output().stdout).find((l) => l.msg.startsWith(msg));
  const running: ReturnType<typeof daemon>[] = [];
  try {
    const first = daemon();
    running.push(first);
    await statusPort(first);
    writer.write(200);
    await waitFor('the first lines indexed', async () => (await lockIndexed()) === written());

    // A backfill with the daemon's directory: refused at once, nothing read.
    const backfill = await runShipper(['run', '--once', ...args, '--no-http']);
    assert.equal(backfill.code, 1, backfill.stderr);
    const refused = logLines(backfill.stdout).find((l) =>
      l.msg.startsWith('the checkpoint directory is in use'),
    );
    assert.match(String(refused?.holder), new RegExp(`^pid ${first.child.pid} on `));
    assert.equal(
      logLines(backfill.stdout).find((l) => l.msg === 'stopped'),
      undefined,
      'the backfill did not ship',
    );

    // `check` says who holds it, and when the checkpoints were saved.
    const checked = await runShipper(['check', ...args]);
    assert.match(
      checked.stdout,
      new RegExp(
        `^checkpoints: .*checkpoints\\.json saved \\d+ s ago \\(\\d+ files\\); held by pid ${first.child.pid} on `,
        'm',
      ),
    );

    // A second daemon (a rollout's new pod) waits; the first goes on shipping meanwhile.
    const second = daemon();
    running.push(second);
    await waitFor(
      'the second daemon waiting',
      async () => logged(second, 'the checkpoint directory is in use') !== undefined,
    );
    writer.write(300);
    await waitFor('lines written while both run indexed', async () => (await lockIndexed()) === written());
    first.child.kill('SIGTERM');
    assert.equal((await first.done).code, 0);
    const secondPort = await statusPort(second);
    const before = written();
    writer.write(100);
    await waitFor(
      'lines written after the handover indexed',
      async () => (await lockIndexed()) === written(),
    );
    // It went on from the first one's checkpoints: it sent only what came after.
    const metrics = await fetch(`http://127.0.0.1:${secondPort}/metrics`).then((r) => r.text());
    assert.match(metrics, /kubearmor_shipper_documents_total\{result="indexed"\} 100\n/);
    assert.doesNotMatch(metrics, /kubearmor_shipper_documents_total\{result="already_present"\} [1-9]/);
    // Killed: its lock stays behind, naming a process that is gone.
    second.child.kill('SIGKILL');
    await second.done;
    await stat(lockFile);
    writer.write(50);
    const afterKill = await runShipper(['run', '--once', ...args, '--no-http']);
    assert.equal(afterKill.code, 0, afterKill.stderr);
    // What the killed one shipped since its last save comes again as 409s; nothing older.
    const { documents } = stoppedSummary(afterKill.stdout);
    assert.equal(documents.indexed, 50);
    assert.ok((documents.already_present ?? 0) <= written() - 50 - before, JSON.stringify(documents));
    await assert.rejects(stat(lockFile), { code: 'ENOENT' }, 'released at the end');
    assert.match((await runShipper(['check', ...args])).stdout, /; no shipper holds the directory$/m);

    // The lock taken away while a daemon runs (it stalled past the stale time, another took it):
    // it stops within a refresh, exit 1, and does not save over the other's checkpoints.
    const third = daemon();
    running.push(third);
    await statusPort(third);
    const other = { host: 'elsewhere', pid: process.pid, pidNamespace: 'pid:[1]', since: '', token: 'other' };
    await writeFile(lockFile, JSON.stringify(other));
    const stopped = await third.done;
    assert.equal(stopped.code, 1);
    assert.ok(logLines(stopped.stdout).some((l) => l.msg.startsWith('another shipper took over')));
    assert.equal(stoppedSummary(stopped.stdout).checkpointsSaved, false);
    assert.equal(JSON.parse(await readFile(lockFile, 'utf8')).token, 'other', 'the other’s lock stays');
  } finally {
    for (const r of running)
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    writer.close();
  }
  assert.equal(await lockIndexed(), written());
});
