// `npm run bench`: throughput and memory of the shipper, with ratios measured in the same run.
//   (0) the bare ceiling: the same lines read from memory, JSON.parse and JSON.stringify each;
//   (1) files → a local HTTP endpoint that accepts _bulk and discards it, with the defaults (gzip),
//       and again with compression off (the ceiling compresses nothing);
//   (2) files → the real local Elasticsearch.
// It also prints what reading the files costs (the rotated ones gunzipped), which the ceiling
// leaves out and the shipper cannot, and the ratios to a ceiling with that reading in it.
// The shipper runs as the built bundle in a child process pinned to one core (taskset), measured by
// GNU time, so its CPU seconds and peak RSS are its own, start-up included. BENCH_LINES sets the
// corpus size (default 300000, about 300 MB).
// BENCH_NODE_VERSION=v runs the bench, the ceiling and the shipper on that exact Node release (an
// official build, fetched once by scripts/node-binary.sh), e.g. the image's 22.23.3.
// BENCH_BACKLOG_GIB=n adds a backlog: one plain file of about n GiB (a generated file repeated),
// the ceiling streaming it from disk, and (1) with and without compression over it.
// BENCH_FILEBEAT=1 adds a peer: Filebeat (built once by scripts/filebeat-binary.sh, which needs Go)
// and the shipper, each over one plain file of the corpus's records into a discarding endpoint,
// pinned to one core, taking turns: the same job (CRI lines, KubeArmor's JSON parsed, gzip bodies).
// The machine's speed drifts by tens of percent from one minute to the next (a shared VM), so on
// the corpus the ceiling and both (1) runs take turns BENCH_RUNS times (default 3) and each keeps
// its best; the spread is printed. (2) and the backlog's runs go once.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { generateRelayLogs } from '../src/generate/kubelet-log-writer.js';

interface Measured {
  lines: number;
  bytes: number;
  wallSeconds: number;
  cpuSeconds: number;
  maxRssMiB: number;
}

const lines = Number(process.env.BENCH_LINES ?? 300_000);
// BENCH_NODE_VERSION: the whole bench runs again on that Node, so the ceiling runs on it too.
const wantedNode = process.env.BENCH_NODE_VERSION;
if (wantedNode !== undefined && process.env.BENCH_RERUN === undefined) {
  const binDir = execFileSync(
    'bash',
    [fileURLToPath(new URL('../../scripts/node-binary.sh', import.meta.url)), wantedNode],
    { encoding: 'utf8' },
  ).trim();
  const rerun = spawnSync(join(binDir, 'node'), [...process.execArgv, fileURLToPath(import.meta.url)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_RERUN: '1' },
  });
  process.exit(rerun.status ?? 1);
}
const shipperNode = process.execPath;
const backlogGiB = Number(process.env.BENCH_BACKLOG_GIB ?? 0);
const corpusRuns = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
// Each backlog run takes about a minute: once by default, BENCH_BACKLOG_RUNS=N interleaves N of each.
const backlogRuns = Math.max(1, Number(process.env.BENCH_BACKLOG_RUNS ?? 1));
const root = fileURLToPath(new URL('../../', import.meta.url));
const bundle = join(root, 'dist', 'kubearmor-shipper.js');
// The Node flags the image runs the shipper with (its ENTRYPOINT), and the C library's settings it
// sets (its ENV MALLOC_…), so the figures are the image's.
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const nodeFlags = (/^ENTRYPOINT \[(.*)\]$/m.exec(dockerfile)?.[1] ?? '')
  .split(',')
  .map((a) => a.trim().replace(/^"|"$/g, ''))
  .filter((a) => a.startsWith('--'));
const mallocEnv = Object.fromEntries(
  [...dockerfile.matchAll(/^ENV (MALLOC_\w+)=(\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]),
);
execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')]);

function filesOf(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesOf(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** Reading the corpus's files, the rotated ones decompressed: what the ceiling starts from. */
function readCorpus(dir: string): { contents: Buffer[]; cpuSeconds: number } {
  const startCpu = process.cpuUsage();
  const contents = filesOf(join(dir, 'pods')).map((f) =>
    f.endsWith('.gz') ? gunzipSync(readFileSync(f)) : readFileSync(f),
  );
  const cpu = process.cpuUsage(startCpu);
  return { contents, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** JSON.parse and JSON.stringify of each line's JSON; returns the lines seen. */
function parseAndStringify(text: string, sink: { length: number }): number {
  let count = 0;
  let from = 0;
  for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
    const brace = text.indexOf('{', from);
    if (brace >= 0 && brace < nl) {
      try {
        sink.length += JSON.stringify(JSON.parse(text.slice(brace, nl))).length;
      } catch {
        // split pieces and noise: counted as lines all the same
      }
    }
    count++;
    from = nl + 1;
  }
  return count;
}

function measured(
  lineCount: number,
  bytes: number,
  startCpu: NodeJS.CpuUsage,
  started: number,
  sink: { length: number },
): Measured {
  const cpu = process.cpuUsage(startCpu);
  if (sink.length === 0) throw new Error('nothing parsed');
  return {
    lines: lineCount,
    bytes,
    wallSeconds: (performance.now() - started) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

/** The bare ceiling: split the corpus into lines, parse each record's JSON, stringify it back. */
function ceiling(contents: Buffer[]): Measured {
  const bytes = contents.reduce((n, b) => n + b.length, 0);
  const startCpu = process.cpuUsage();
  const started = performance.now();
  const sink = { length: 0 };
  let count = 0;
  for (const buf of contents) count += parseAndStringify(buf.toString('utf8'), sink);
  return measured(count, bytes, startCpu, started, sink);
}

/** The ceiling over a file too large to hold: read in 4 MiB pieces, whole lines parsed and stringified. */
function streamingCeiling(path: string): Measured {
  const startCpu = process.cpuUsage();
  const started = performance.now();
  const sink = { length: 0 };
  const fd = openSync(path, 'r');
  const piece = Buffer.allocUnsafe(4 << 20);
  let carry = Buffer.alloc(0);
  let count = 0;
  let bytes = 0;
  try {
    for (let n = readSync(fd, piece); n > 0; n = readSync(fd, piece)) {
      bytes += n;
      const chunk = carry.length === 0 ? piece.subarray(0, n) : Buffer.concat([carry, piece.subarray(0, n)]);
      const end = chunk.lastIndexOf(10) + 1;
      count += parseAndStringify(chunk.toString('utf8', 0, end), sink);
      carry = Buffer.from(chunk.subarray(end));
    }
  } finally {
    closeSync(fd);
  }
  return measured(count, bytes, startCpu, started, sink);
}

/** Appends the file to itself until it holds `times` copies of what it held. */
function repeatFile(path: string, times: number): void {
  const size = statSync(path).size;
  const input = openSync(path, 'r');
  const output = openSync(path, 'a');
  const piece = Buffer.allocUnsafe(8 << 20);
  try {
    for (let copy = 1; copy < times; copy++) {
      for (let at = 0; at < size; ) {
        const n = readSync(input, piece, 0, Math.min(piece.length, size - at), at);
        writeSync(output, piece, 0, n);
        at += n;
      }
    }
  } finally {
    closeSync(input);
    closeSync(output);
  }
}

function runShipper(args: string[]): Promise<Measured> {
  return runPinned([shipperNode, ...nodeFlags, bundle, ...args], mallocEnv);
}

interface Sink {
  url: string;
  docs: () => number;
}

/** A run measured, and refused unless `sink` got exactly `expected` documents during it. */
async function delivering(sink: Sink, expected: number, run: () => Promise<Measured>): Promise<Measured> {
  const before = sink.docs();
  const measured = await run();
  const got = sink.docs() - before;
  if (got !== expected) throw new Error(`the sink got ${got} documents of ${expected}`);
  return measured;
}

/** Runs a command pinned to one core, measured by GNU time (its CPU seconds and peak RSS). */
async function runPinned(program: string[], env: Record<string, string> = {}): Promise<Measured> {
  const command = ['taskset', '-c', '0', '/usr/bin/time', '-f', 'BENCH %e %U %S %M', ...program];
  return new Promise((resolve, reject) => {
    const child = spawn(command[0] as string, command.slice(1), {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('close', (code) => {
      const m = /BENCH ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
      if (code !== 0 || m === null)
        return reject(new Error(`${program[0]} failed (${code}):\n${stderr.slice(-2000)}`));
      resolve({
        lines: 0,
        bytes: 0,
        wallSeconds: Number(m[1]),
        cpuSeconds: Number(m[2]) + Number(m[3]),
        maxRssMiB: Number(m[4]) / 1024,
      });
    });
  });
}

/**
 * Accepts _bulk (gzip or not), answers like Elasticsearch, keeps nothing. `asFor` answers as a
 * peer needs: Filebeat asks for the version and the license, and reads every item's status (it
 * does not cut the answer down with filter_path, as the shipper does).
 */
async function discardingSink(asFor?: 'filebeat'): Promise<Sink & { close: () => Promise<void> }> {
  let docs = 0;
  const server = createServer((req, res) => {
    let bytes = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      chunks.push(c);
    });
    req.on('end', () => {
      res.setHeader('x-elastic-product', 'Elasticsearch');
      res.setHeader('content-type', 'application/json');
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (path.endsWith('/_bulk')) {
        let body = Buffer.concat(chunks, bytes);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        let n = 0;
        for (let i = body.indexOf(10); i >= 0; i = body.indexOf(10, i + 1)) n++;
        docs += n / 2;
        if (asFor === 'filebeat')
          res.end(
            `{"took":1,"errors":false,"items":[${Array(n / 2)
              .fill('{"index":{"status":201}}')
              .join(',')}]}`,
          );
        else res.end('{"errors":false,"items":[]}');
      } else if (asFor === 'filebeat' && path === '/') {
        res.end(
          '{"name":"sink","cluster_name":"sink","version":{"number":"7.17.29"},"tagline":"You Know, for Search"}',
        );
      } else if (asFor === 'filebeat' && path === '/_license') {
        res.end('{"license":{"uid":"sink","type":"basic","status":"active"}}');
      } else if (path.startsWith('/_ilm')) {
        res.statusCode = 405;
        res.end('{"error":"no ilm","status":405}');
      } else {
        res.end('{"acknowledged":true,"cluster_name":"sink","status":"green"}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
    docs: () => docs,
  };
}

function row(name: string, m: Measured, lineCount: number, bytes: number): string {
  const perSec = lineCount / m.wallSeconds;
  const perCpu = lineCount / m.cpuSeconds;
  return (
    `${name.padEnd(34)} ${Math.round(perSec).toString().padStart(9)} lines/s ${(bytes / 1048576 / m.wallSeconds).toFixed(1).padStart(7)} MiB/s ` +
    `${m.cpuSeconds.toFixed(2).padStart(7)} CPU s ${Math.round(perCpu).toString().padStart(9)} lines/CPU-s ${m.maxRssMiB.toFixed(0).padStart(5)} MiB peak RSS`
  );
}

/** The CPU seconds of runs, from the best to the worst. */
function spread(ms: readonly Measured[]): string {
  const cpu = ms.map((m) => m.cpuSeconds);
  return `${Math.min(...cpu).toFixed(2)}–${Math.max(...cpu).toFixed(2)}`;
}

/** The run that took the least CPU: the one the machine's drift disturbed least. */
function best(ms: readonly Measured[]): Measured {
  return ms.reduce((a, b) => (b.cpuSeconds < a.cpuSeconds ? b : a));
}

/** The backlog: generated once without rotation, repeated to size; the ceiling and (1) twice over it, BENCH_BACKLOG_RUNS times. */
async function runBacklog(sink: Sink) {
  const backlogLines = 500_000;
  process.stderr.write(`backlog: generating ${backlogLines} lines, repeating them to ${backlogGiB} GiB…\n`);
  const generated = await generateRelayLogs({
    out: join(dir, 'backlog'),
    records: backlogLines,
    seed: 9,
    maxFiles: 1,
    startMs: Date.parse('2024-07-26T10:00:00Z'),
  });
  const copies = Math.max(1, Math.round((backlogGiB * 2 ** 30) / statSync(generated.currentFile).size));
  repeatFile(generated.currentFile, copies);
  const ceilings: Measured[] = [];
  const gzip: Measured[] = [];
  const plain: Measured[] = [];
  for (let round = 0; round < backlogRuns; round++) {
    ceilings.push(streamingCeiling(generated.currentFile));
    for (const [runs, extra] of [
      [gzip, ['--config', join(dir, 'compression.yaml')]],
      [plain, ['--config', join(dir, 'no-compression.yaml')]],
    ] as const) {
      runs.push(
        await delivering(sink, generated.lines * copies, () =>
          runShipper([
            ...commonArgs(generated.glob),
            '--checkpoint-dir',
            join(dir, `cp-backlog-${round}-${runs === gzip ? 'gzip' : 'plain'}`),
            '--es-url',
            sink.url,
            ...extra,
          ]),
        ),
      );
    }
  }
  return {
    ceiling: best(ceilings),
    gzip: best(gzip),
    plain: best(plain),
    copies,
    ceilings,
    gzips: gzip,
    plains: plain,
  };
}

/**
 * The peer: Filebeat and the shipper over one plain file of the corpus's records (Filebeat 7.17
 * reads no gzipped rotated file), each into a discarding endpoint, taking turns BENCH_RUNS times.
 * Filebeat does the same job as the shipper's defaults: CRI lines (its container input joins the
 * split ones), KubeArmor's JSON parsed into the document's fields (the line itself then dropped:
 * a shipper's document is the line's own bytes), gzip (level 1), large bulk requests.
 */
async function runPeer(sink: Sink) {
  const filebeat = execFileSync('bash', [join(root, 'scripts', 'filebeat-binary.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const version = /version (\S+)/.exec(execFileSync(filebeat, ['version'], { encoding: 'utf8' }))?.[1] ?? '?';
  const generated = await generateRelayLogs({
    out: join(dir, 'peer'),
    records: lines,
    seed: 5,
    maxFiles: 1,
    startMs: Date.parse('2024-07-26T10:00:00Z'),
  });
  const filebeatSink = await discardingSink('filebeat');
  const config = (data: string) => {
    const path = join(dir, `${data}.yml`);
    writeFileSync(
      path,
      [
        'filebeat.inputs:',
        '  - type: container',
        `    paths: ['${generated.glob}']`,
        '    format: cri',
        '    close_eof: true',
        'processors:',
        '  - decode_json_fields:',
        "      fields: ['message']",
        "      target: ''",
        '      overwrite_keys: true',
        '  - drop_fields:',
        "      fields: ['message']",
        '      ignore_missing: true',
        'output.elasticsearch:',
        `  hosts: ['${filebeatSink.url}']`,
        '  compression_level: 1',
        '  bulk_max_size: 2048',
        'queue.mem:',
        '  events: 8192',
        '  flush.min_events: 2048',
        '  flush.timeout: 1s',
        'setup.template.enabled: false',
        'setup.ilm.enabled: false',
        'logging.level: warning',
        'logging.to_stderr: true',
        `path.data: ${join(dir, data)}`,
        `path.logs: ${join(dir, data)}`,
        '',
      ].join('\n'),
    );
    return path;
  };
  const filebeats: Measured[] = [];
  const shippers: Measured[] = [];
  try {
    for (let round = 0; round < corpusRuns; round++) {
      filebeats.push(
        await delivering(filebeatSink, generated.lines, () =>
          runPinned([filebeat, '-once', '--strict.perms=false', '-c', config(`filebeat-${round}`)]),
        ),
      );
      shippers.push(
        await delivering(sink, generated.lines, () =>
          runShipper([
            ...commonArgs(generated.glob),
            '--checkpoint-dir',
            join(dir, `cp-peer-${round}`),
            '--es-url',
            sink.url,
          ]),
        ),
      );
    }
  } finally {
    await filebeatSink.close();
  }
  return {
    version,
    lines: generated.lines,
    bytes: statSync(generated.currentFile).size,
    filebeat: best(filebeats),
    shipper: best(shippers),
    filebeats,
    shippers,
  };
}

/**
 * Every run starts as the DaemonSet's does, with a config file and the status server (on a free
 * port): both load code, and the peak RSS measured must be the daemon's.
 */
function commonArgs(glob: string): string[] {
  return ['run', '--once', '--paths', glob, '--es-replicas', '0', '--http-port', '0', '--log-level', 'warn'];
}

const dir = await mkdtemp(join(tmpdir(), 'bench-'));
try {
  process.stderr.write(`generating ${lines} relay lines…\n`);
  const corpus = await generateRelayLogs({
    out: join(dir, 'node'),
    records: lines,
    seed: 5,
    rotateBytes: 10 * 1024 * 1024,
    maxFiles: 100_000,
    startMs: Date.parse('2024-07-26T10:00:00Z'),
  });
  const corpusBytes = filesOf(join(dir, 'node', 'pods')).reduce((n, f) => n + statSync(f).size, 0);
  const read = readCorpus(join(dir, 'node'));
  const gzipConfig = join(dir, 'compression.yaml');
  writeFileSync(gzipConfig, 'elasticsearch:\n  compression: true\n');
  const plainConfig = join(dir, 'no-compression.yaml');
  writeFileSync(plainConfig, 'elasticsearch:\n  compression: false\n');
  const common = commonArgs(corpus.glob);

  const sink = await discardingSink();
  const ceilings: Measured[] = [];
  const toSinks: Measured[] = [];
  const toSinksPlain: Measured[] = [];
  for (let run = 0; run < corpusRuns; run++) {
    ceilings.push(ceiling(read.contents));
    for (const [into, extra] of [
      [toSinks, ['--config', gzipConfig]],
      [toSinksPlain, ['--config', plainConfig]],
    ] as const) {
      into.push(
        await delivering(sink, corpus.lines, () =>
          runShipper([
            ...common,
            '--checkpoint-dir',
            join(dir, `cp-sink-${run}-${into === toSinks ? 'gzip' : 'plain'}`),
            '--es-url',
            sink.url,
            ...extra,
          ]),
        ),
      );
    }
  }
  const top = best(ceilings);
  const toSink = best(toSinks);
  const toSinkPlain = best(toSinksPlain);
  const backlog = backlogGiB > 0 ? await runBacklog(sink) : undefined;
  const peer = process.env.BENCH_FILEBEAT ? await runPeer(sink) : undefined;
  await sink.close();

  let toEs: Measured | undefined;
  const esScript = fileURLToPath(new URL('../../scripts/elasticsearch.sh', import.meta.url));
  const esUrl =
    process.env.TEST_ES_URL ??
    execFileSync('bash', [esScript, 'start'], { encoding: 'utf8' }).trim().split('\n').pop();
  if (esUrl !== undefined) {
    toEs = await runShipper([
      ...common,
      '--checkpoint-dir',
      join(dir, 'cp-es'),
      '--es-url',
      esUrl,
      '--index-prefix',
      'bench',
      '--config',
      gzipConfig,
    ]);
    execFileSync('curl', ['-fsS', '-X', 'DELETE', `${esUrl}/bench-*`], { stdio: 'ignore' });
    // Like `npm test`: a node started by hand (`npm run es:start`) stays, one started here stops.
    if (process.env.TEST_ES_URL === undefined && spawnSync('bash', [esScript, 'kept']).status !== 0)
      execFileSync('bash', [esScript, 'stop'], { stdio: 'ignore' });
  }

  const n = top.lines;
  console.log(
    `corpus: ${n} lines (${corpus.lines} records), ${(top.bytes / 1048576).toFixed(0)} MiB uncompressed, ${(corpusBytes / 1048576).toFixed(0)} MiB on disk, ${corpus.files.length} files`,
  );
  const shipperVersion = execFileSync(shipperNode, ['--version'], { encoding: 'utf8' }).trim();
  console.log(
    `shipper: node ${shipperVersion} ${nodeFlags.join(' ')}${Object.entries(mallocEnv)
      .map(([k, v]) => ` ${k}=${v}`)
      .join('')} (the image's), pinned to one core; ceiling on ${process.version}`,
  );
  console.log(row('ceiling: JSON.parse + stringify', top, n, top.bytes));
  console.log(row('(1) files → discarding _bulk', toSink, n, top.bytes));
  console.log(row('(1) same, compression off', toSinkPlain, n, top.bytes));
  if (toEs !== undefined) console.log(row('(2) files → real Elasticsearch', toEs, n, top.bytes));
  const ratio = (m: Measured) => (n / m.cpuSeconds / (n / top.cpuSeconds)).toFixed(2);
  console.log(
    `ratio to the ceiling, per CPU second: (1) ${ratio(toSink)}, (1) compression off ${ratio(toSinkPlain)}${toEs === undefined ? '' : `, (2) ${ratio(toEs)}`}`,
  );
  console.log(
    `ratio to the ceiling, wall clock on one core: (1) ${(top.wallSeconds / toSink.wallSeconds).toFixed(2)}, (1) compression off ${(top.wallSeconds / toSinkPlain.wallSeconds).toFixed(2)}`,
  );
  if (corpusRuns > 1) {
    console.log(
      `best of ${corpusRuns} interleaved runs each; CPU s from best to worst: ceiling ${spread(ceilings)}, (1) ${spread(toSinks)}, (1) compression off ${spread(toSinksPlain)}`,
    );
  }
  const withReading = top.cpuSeconds + read.cpuSeconds;
  const ratioWithReading = (m: Measured) => (withReading / m.cpuSeconds).toFixed(2);
  console.log(
    `not in the ceiling: reading the files (gunzip of the rotated ones) ${read.cpuSeconds.toFixed(2)} CPU s; ceiling with it ${withReading.toFixed(2)} CPU s, ` +
      `ratio to that: (1) ${ratioWithReading(toSink)}, (1) compression off ${ratioWithReading(toSinkPlain)}`,
  );
  if (backlog !== undefined) {
    const b = backlog;
    console.log(
      `backlog: one plain file, ${b.ceiling.lines} lines, ${(b.ceiling.bytes / 2 ** 30).toFixed(2)} GiB (a generated file of 500000 records, ${b.copies}×)`,
    );
    console.log(row('ceiling, streaming the file', b.ceiling, b.ceiling.lines, b.ceiling.bytes));
    console.log(row('(1) files → discarding _bulk', b.gzip, b.ceiling.lines, b.ceiling.bytes));
    console.log(row('(1) same, compression off', b.plain, b.ceiling.lines, b.ceiling.bytes));
    const r = (m: Measured) => (b.ceiling.cpuSeconds / m.cpuSeconds).toFixed(2);
    console.log(
      `backlog ratio to the ceiling, per CPU second: (1) ${r(b.gzip)}, (1) compression off ${r(b.plain)}`,
    );
    if (backlogRuns > 1)
      console.log(
        `backlog: best of ${backlogRuns} interleaved runs each; CPU s from best to worst: ceiling ${spread(b.ceilings)}, (1) ${spread(b.gzips)}, (1) compression off ${spread(b.plains)}`,
      );
  }
  if (peer !== undefined) {
    const p = peer;
    console.log(
      `peer: one plain file of the same ${p.lines} records, ${(p.bytes / 1048576).toFixed(0)} MiB (Filebeat ${p.version} reads no gzipped rotated file), into discarding endpoints`,
    );
    console.log(row('(1) files → discarding _bulk', p.shipper, p.lines, p.bytes));
    console.log(row(`Filebeat ${p.version} → discarding _bulk`, p.filebeat, p.lines, p.bytes));
    console.log(
      `per CPU second the shipper ships ${(p.filebeat.cpuSeconds / p.shipper.cpuSeconds).toFixed(1)}× Filebeat's records; peak RSS ${p.shipper.maxRssMiB.toFixed(0)} against ${p.filebeat.maxRssMiB.toFixed(0)} MiB` +
        (corpusRuns > 1
          ? ` (best of ${corpusRuns} interleaved runs each; CPU s from best to worst: the shipper ${spread(p.shippers)}, Filebeat ${spread(p.filebeats)})`
          : ''),
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
