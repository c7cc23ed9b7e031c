// The daemon's status endpoints while it runs: /metrics in Prometheus format with the pipeline's
// counters, /healthz and /readyz; and `--print-config`, `check`, `setup` and `prune` against the
// real Elasticsearch.
import assert from 'node:assert/strict';
import { rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@elastic/elasticsearch';
import { generateRelayLogs } from '../../src/generate/kubelet-log-writer.js';
import { ElasticsearchHttp } from '../../src/ship/elasticsearch-http.js';
import { pruneIndices } from '../../src/ship/index-templates.js';
import { type Corpus, makeCorpus } from '../support/corpus.js';
import { cleanUp, expectedEsVersion, testClient, testEsUrl, uniquePrefix } from '../support/elasticsearch.js';
import { logLines, runShipper, shipArgs, startShipper, statusPort } from '../support/shipper-process.js';

let client: Client;
let corpus: Corpus;
const prefix = uniquePrefix('http');

before(async () => {
  client = testClient();
  corpus = await makeCorpus('ship-http', 2000, 41);
});
after(async () => {
  await cleanUp(client, prefix);
  await client.close();
  await rm(corpus.dir, { recursive: true, force: true });
});

test('/metrics, /healthz and /readyz of a running daemon; a matched link into a directory not mounted is reported', async () => {
  // What a node under cri-dockerd looks like when docker's containers directory is not mounted.
  const unmounted = join(corpus.dir, 'docker', 'containers', 'abc', 'abc-json.log');
  const link = join(
    dirname(corpus.glob),
    'kubearmor-relay-unmounted_kubearmor_kubearmor-relay-server-abc.log',
  );
  await symlink(unmounted, link);
  // And a relay that prints no event (ENABLE_STDOUT_* off): its own lines over ten minutes.
  const quiet = await generateRelayLogs({
    out: join(corpus.dir, 'quiet'),
    records: 30,
    seed: 41,
    maxFiles: 1,
    startMs: Date.parse('2024-07-26T10:00:00Z'),
    relayStdout: false,
  });
  const running = startShipper([
    'run',
    ...shipArgs({ paths: corpus.glob, checkpointDir: corpus.checkpointDir, esUrl: testEsUrl(), prefix }),
    '--paths',
    quiet.glob,
    '--http-port',
    '0',
  ]);
  try {
    const port = await statusPort(running);
    const base = `http://127.0.0.1:${port}`;
    let metrics = '';
    for (let i = 0; i < 100; i++) {
      metrics = await fetch(`${base}/metrics`).then(
        (r) => r.text(),
        () => '',
      );
      if (
        /kubearmor_shipper_documents_total\{result="indexed"\} 2030/.test(metrics) &&
        /kubearmor_shipper_relay_logs_without_events 1/.test(metrics)
      )
        break;
      await sleep(200);
    }
    assert.match(metrics, /kubearmor_shipper_documents_total\{result="indexed"\} 2030/);
    assert.match(metrics, /kubearmor_shipper_relay_logs_without_events 1\n/);
    assert.match(metrics, /kubearmor_shipper_records_total\{kind="alert"\} \d+/);
    assert.match(metrics, /kubearmor_shipper_bad_lines_total\{reason="stderr"\} \d+/);
    assert.match(metrics, /kubearmor_shipper_bulk_latency_seconds_count \d+/);
    assert.match(metrics, /kubearmor_shipper_bytes_in_flight 0/);
    assert.match(metrics, /kubearmor_shipper_file_lag_bytes\{path="[^"]+"\} 0/);
    assert.match(metrics, /kubearmor_shipper_checkpoint_age_seconds \d/);
    assert.match(metrics, /kubearmor_shipper_elasticsearch_up 1/);
    assert.match(metrics, /kubearmor_shipper_process_resident_memory_bytes \d+/);
    assert.match(metrics, /kubearmor_shipper_files_unreadable 1/);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
  } finally {
    running.child.kill('SIGTERM');
    assert.equal((await running.done).code, 0);
    await rm(link);
  }
  const warned = logLines(running.output().stdout).filter((l) =>
    l.msg.startsWith('a matched path cannot be read'),
  );
  assert.deepEqual(
    warned.map((l) => [l.path, l.target, l.code]),
    [[link, unmounted, 'ENOENT']],
  );
  // Of the two relay logs, the one that holds no event, once.
  const silent = logLines(running.output().stdout).filter((l) => l.msg.includes('holds no KubeArmor event'));
  assert.deepEqual(
    silent.map((l) => [dirname(l.path as string), l.relayLines]),
    [[dirname(quiet.glob), 30]],
  );
});

test('--print-config shows the merged configuration without secrets', async () => {
  const file = join(corpus.dir, 'shipper.yaml');
  await writeFile(file, 'elasticsearch:\n  username: elastic\n  password: hunter2\nbatch:\n  maxDocs: 99\n');
  const run = await runShipper(['run', '--config', file, '--print-config'], {
    ES_URL: 'https://es.example:9200',
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /url:\n\s+- https:\/\/es\.example:9200\n/);
  assert.match(run.stdout, /maxDocs: 99/);
  assert.match(run.stdout, /password: "?\[redacted\]"?/);
  assert.ok(!run.stdout.includes('hunter2'));
  // Every command that takes the configuration prints it and stops there, reaching no cluster: a
  // `prune --print-config` that went on to delete would be the worst way to learn its config.
  for (const command of ['setup', 'check', 'prune']) {
    const printed = await runShipper([command, '--config', file, '--print-config'], {
      ES_URL: 'http://127.0.0.1:9',
    });
    assert.equal(printed.code, 0, `${command}: ${printed.stderr}`);
    assert.match(printed.stdout, /url:\n\s+- http:\/\/127\.0\.0\.1:9\n/, command);
    assert.doesNotMatch(printed.stdout, /^(deleted|kept|no \S+ index is past|config: ok)/m, command);
  }
  const bad = await runShipper(['run', '--config', file, '--print-config'], { ES_TLS_VERIFY: 'sometimes' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /ES_TLS_VERIFY/);
});

test('check, setup and prune against the real Elasticsearch', async () => {
  const es = ['--es-url', testEsUrl(), '--index-prefix', prefix, '--es-replicas', '0'];
  const setup = await runShipper(['setup', ...es]);
  assert.equal(setup.code, 0, setup.stderr);
  assert.match(setup.stdout, new RegExp(`installed index templates: ${prefix}-alerts`));
  assert.match(
    setup.stdout,
    /lifecycle: this cluster has no ILM: old indices stay until `kubearmor-shipper prune --older-than 30d` deletes them/,
  );
  const nowhere = join(corpus.dir, 'nowhere', 'x-json.log');
  const link = join(dirname(corpus.glob), 'kubearmor-relay-gone_kubearmor_kubearmor-relay-server-x.log');
  await symlink(nowhere, link);
  const check = await runShipper(['check', ...es, '--paths', corpus.glob]).finally(() => rm(link));
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /^files: 1 matched now$/m);
  // The corpus's relay prints its events: what the end of its log holds, without the hint.
  assert.match(
    check.stdout,
    /^relay log: \S+: \d+ alerts, \d+ logs, \d+ messages and \d+ other lines in (it|its last 1\.0 MiB)$/m,
  );
  assert.ok(
    check.stdout.includes(
      `unreadable: ${link} → ${nowhere} (ENOENT): is the directory of its target mounted in the shipper?\n`,
    ),
    check.stdout,
  );
  // Told from OpenSearch although this distribution has no `GET /` (405).
  assert.match(check.stdout, /^elasticsearch: http/m);
  assert.match(/version (\S+)\n/.exec(check.stdout)?.[1] ?? '', expectedEsVersion());
  assert.match(check.stdout, /lifecycle: this cluster has no ILM/);
  assert.match(check.stdout, new RegExp(`templates: .*${prefix}-deadletter`));

  // Indices named by day, one past the retention and one within it, under a prefix of their own.
  const p = uniquePrefix('prune');
  const day = (daysAgo: number) =>
    new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '.');
  const old = `${p}-alerts-${day(40)}`;
  const recent = `${p}-logs-${day(5)}`;
  const tomorrow = `${p}-relay-${day(-1)}`;
  for (const index of [old, recent, tomorrow, `${p}-unrelated-${day(90)}`])
    await client.indices.create({ index, settings: { number_of_replicas: 0 } });
  // Named 40 days ago but created just now (old records shipped lately): kept, as ILM would.
  const pruneArgs = ['prune', '--older-than', '30d', '--es-url', testEsUrl(), '--index-prefix', p];
  const today = new Date().toISOString().slice(0, 10);
  const kept = `kept ${old}: created ${today}, within the 30 days (old records shipped lately: a backfill, or a node's clock behind)\nno ${p}-* index is past 30 days of retention\n`;
  const dry = await runShipper([...pruneArgs, '--dry-run']);
  assert.equal(dry.stdout, kept);
  const prune = await runShipper(pruneArgs);
  assert.equal(prune.stdout, kept);
  for (const r of [setup, check, dry, prune]) assert.doesNotMatch(r.stderr, /elasticsearch warns/);
  assert.equal(await client.indices.exists({ index: old }), true);
  // 31 days on, the real cluster's creation dates put both of the past ones past retention.
  const http = new ElasticsearchHttp(
    { url: testEsUrl(), tlsVerify: true, requestTimeoutMs: 30_000 },
    () => {},
  );
  try {
    const later = await pruneIndices(http, p, 30, { now: new Date(Date.now() + 31 * 86_400_000) });
    assert.deepEqual(later, { past: [old, recent].sort(), writtenLately: [] });
  } finally {
    http.close();
  }
  for (const [index, exists] of [
    [old, false],
    [recent, false],
    [tomorrow, true],
  ] as const)
    assert.equal(await client.indices.exists({ index }), exists, index);
  await client.indices.delete({ index: `${p}-*` });

  const unreachable = await runShipper(['check', '--es-url', 'http://127.0.0.1:9']);
  assert.equal(unreachable.code, 1);
  // The default glob, on a node without the relay's pod.
  assert.match(
    unreachable.stdout,
    /^files: 0 matched now \(the relay runs as one pod: its log is only on its node, /m,
  );
  assert.match(unreachable.stderr, /cannot reach Elasticsearch/);
  // Several URLs: each node is asked on its own; one that does not answer fails the check, and the
  // cluster is checked through the first that does.
  const nodes = await runShipper([
    'check',
    '--es-url',
    `http://127.0.0.1:9,${testEsUrl()}`,
    '--index-prefix',
    prefix,
  ]);
  assert.equal(nodes.code, 1, nodes.stderr);
  assert.match(nodes.stdout, /^url: http:\/\/127\.0\.0\.1:9 failed: ConnectionError: connect ECONNREFUSED/m);
  const answered = new RegExp(`^url: ${testEsUrl()} answers \\(node "[^"]+", version (\\S+)\\)$`, 'm').exec(
    nodes.stdout,
  );
  assert.match(answered?.[1] ?? nodes.stdout, expectedEsVersion());
  assert.match(nodes.stdout, new RegExp(`^elasticsearch: ${testEsUrl()} cluster `, 'm'));
  assert.match(nodes.stdout, new RegExp(`templates: .*${prefix}-deadletter`));
  const none = await runShipper(['check', '--es-url', 'http://127.0.0.1:9,http://127.0.0.1:19']);
  assert.equal(none.code, 1);
  assert.match(
    none.stderr,
    /cannot reach Elasticsearch at any of http:\/\/127\.0\.0\.1:9, http:\/\/127\.0\.0\.1:19/,
  );
});
