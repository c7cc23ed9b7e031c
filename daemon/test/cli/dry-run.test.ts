// The dry-run command end to end, as a user runs it: generated relay logs with rotations in,
// one JSON document per record out, positions kept between runs.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type GenerateResult, generateRelayLogs } from '../../src/generate/kubelet-log-writer.js';
import type { GeneratedLine } from '../../src/generate/relay-records.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../src/bin.ts', import.meta.url));

async function shipper(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['--import', 'tsx', bin, ...args], { maxBuffer: 256 * 1024 * 1024 });
}

interface Out {
  index: string;
  id: string;
  document: Record<string, unknown>;
}
const parse = (stdout: string): Out[] =>
  stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Out);

let root: string;
let generated: GenerateResult;
const written: GeneratedLine[] = [];
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'dry-run-'));
  generated = await generateRelayLogs({
    out: join(root, 'node'),
    records: 4000,
    seed: 7,
    rotateBytes: 400_000,
    maxFiles: 100,
    startMs: Date.parse('2024-07-26T10:00:00Z'),
    onLine: (line) => written.push(line),
  });
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('reads every generated record once, across rotated and gzipped files; nothing new on a second run', async () => {
  assert.ok(generated.rotations >= 3, `${generated.rotations} rotations`);
  assert.ok(generated.files.some((f) => f.endsWith('.gz')));
  const checkpoints = join(root, 'cp');
  const dryRun = () =>
    shipper(
      'run',
      '--once',
      '--dry-run',
      '--paths',
      generated.glob,
      '--checkpoint-dir',
      checkpoints,
      '--node-name',
      'node-a',
    );
  const first = await dryRun();
  const out = parse(first.stdout);
  assert.equal(out.length, written.length);
  assert.equal(new Set(out.map((o) => o.id)).size, out.length);

  // Counted independently from what the generator wrote.
  const expected = new Map<string, number>();
  for (const line of written) {
    const key = line.kind === 'relay' ? 'relay' : `${line.kind}:${line.facts?.Type}`;
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  const actual = new Map<string, number>();
  for (const o of out) {
    const kind = o.index.split('-')[1] as string;
    const key = kind === 'relay' ? 'relay' : `${kind.replace(/s$/, '')}:${o.document.Type}`;
    actual.set(key, (actual.get(key) ?? 0) + 1);
  }
  assert.deepEqual(actual, expected);
  // In the order written.
  const texts = out.filter((o) => !o.index.includes('-relay-')).map((o) => o.document.UpdatedTime);
  assert.deepEqual(
    texts,
    written
      .filter((l) => l.kind !== 'relay')
      .map((l) => (JSON.parse(l.text) as { UpdatedTime: string }).UpdatedTime),
  );
  // The path says which container wrote the file (until the pod watch adds the rest). Rotated
  // files, found in the pod directory, get the container id from the symlink to their directory's
  // current file: the same run wrote them.
  const link = readdirSync(dirname(generated.glob))[0] as string;
  const kubernetesOf = (o: Out | undefined) =>
    (o?.document as { kubernetes: unknown } | undefined)?.kubernetes;
  const viaLink = out.find((o) =>
    (o.document.log as { file: { path: string } }).file.path.includes('/containers/'),
  );
  const uid = (generated.currentFile.split('/').at(-3) as string).split('_')[2];
  const expectedKubernetes = {
    namespace: 'kubearmor',
    pod: { name: 'kubearmor-relay-6b9d8c7f5-x2x4k', uid },
    container: { name: 'kubearmor-relay-server', id: link.slice(-68, -4) },
    metadata: { partial: true, reason: 'path_only' },
  };
  assert.deepEqual(kubernetesOf(viaLink), expectedKubernetes);
  assert.notEqual(out[0], viaLink);
  assert.deepEqual(kubernetesOf(out[0]), expectedKubernetes);
  assert.match(first.stderr, /records: alert=\d+ log=\d+ message=\d+ relay=\d+/);
  assert.match(first.stderr, /not KubeArmor \(kept as relay records\): not_json=\d+ stderr=\d+/);
  assert.match(first.stderr, /bytes lost: none/);

  // Its positions are its own: the daemon's file, were the directory the daemon's, is untouched.
  assert.match(first.stderr, /dry-run-checkpoints\.json/);
  assert.deepEqual(readdirSync(checkpoints), ['dry-run-checkpoints.json']);

  const second = await dryRun();
  assert.equal(second.stdout, '');

  // Appended lines come out exactly once; an incomplete line waits for its newline.
  const time = '2024-07-26T11:00:00.000000001Z';
  appendFileSync(
    generated.currentFile,
    `${time} stdout F {"Timestamp":1721991600,"Type":"MatchedPolicy","Action":"Block","Severity":"9"}\n${time} stdout F {"Timestamp":1721991600,"Type":"Mess`,
  );
  const third = parse((await dryRun()).stdout);
  assert.deepEqual(
    third.map((o) => [o.index, o.document.severity_num, o.document.action_base]),
    [['kubearmor-alerts-2024.07.26', 9, 'Block']],
  );
  appendFileSync(generated.currentFile, 'age"}\n');
  const fourth = parse((await dryRun()).stdout);
  assert.deepEqual(
    fourth.map((o) => o.index),
    ['kubearmor-messages-2024.07.26'],
  );
  assert.ok(!out.some((o) => o.id === fourth[0]?.id || o.id === third[0]?.id));
});

test('bad options are usage errors (exit 2) that name the option', async () => {
  await assert.rejects(
    shipper('run', '--once', '--dry-run', '--paths', '/x/*.log', '--start-at', 'middle'),
    (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /startAt: /);
      return true;
    },
  );
  await assert.rejects(
    shipper('run', '--once', '--dry-run', '--bogus'),
    (err: { code: number }) => err.code === 2,
  );
});

test('more files than open-file descriptors: `--once` says which it could not read and exits 1, loses and repeats nothing; a run with room completes exactly', async () => {
  // 400 one-line files, and a limit of 150 descriptors: Node itself starts in fewer.
  const dir = join(root, 'many');
  mkdirSync(dir);
  for (let i = 0; i < 400; i++)
    writeFileSync(
      join(dir, `kubearmor-relay-${i}.log`),
      `2024-07-26T10:00:00.000000000Z stdout F {"Timestamp":1721988000,"Type":"HostLog","N":${i}}\n`,
    );
  const checkpoints = join(root, 'cp-many');
  const args = ['run', '--once', '--dry-run', '--paths', join(dir, '*.log'), '--checkpoint-dir', checkpoints];
  const limited = await run(
    'prlimit',
    ['--nofile=150:150', process.execPath, '--import', 'tsx', bin, ...args],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  ).then(
    () => assert.fail('exit 0 with 400 files and 150 descriptors'),
    (err: { code: number; stdout: string; stderr: string }) => err,
  );
  assert.equal(limited.code, 1, limited.stderr);
  assert.match(limited.stderr, /^unreadable: .* \(EMFILE\): too many open files/m);
  assert.match(limited.stderr, /^bytes lost: none$/m);
  const first = parse(limited.stdout);
  assert.ok(first.length > 0 && first.length < 400, `${first.length} records with the limit`);
  const rest = parse((await shipper(...args)).stdout);
  const ns = [...first, ...rest].map((r) => r.document.N as number).sort((a, b) => a - b);
  assert.deepEqual(
    ns,
    Array.from({ length: 400 }, (_, i) => i),
  );
});

test('a reader that goes away (`| head`): the dry run ends quietly with 141, as SIGPIPE would, and saves no position past what was read', async () => {
  const checkpoints = join(root, 'cp-pipe');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      bin,
      'run',
      '--once',
      '--dry-run',
      '--paths',
      generated.glob,
      '--checkpoint-dir',
      checkpoints,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  // The first piece read, then the pipe closed: the next write fails with EPIPE.
  child.stdout.once('data', () => child.stdout.destroy());
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 141, stderr);
  assert.doesNotMatch(stderr, /EPIPE|at /);
  assert.equal(existsSync(join(checkpoints, 'dry-run-checkpoints.json')), false);
});
