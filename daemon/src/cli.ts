import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { CheckpointStore } from './checkpoint/checkpoint-store.js';
import { generateRelayLogs } from './generate/kubelet-log-writer.js';
import { Counters } from './metrics/counters.js';
import { DryRunOutput } from './run/dry-run-output.js';
import { formatSummary } from './run/summary.js';
import { tailFollow } from './run/tail-follow.js';
import { tailOnce } from './run/tail-once.js';
import { Tailer } from './tail/tailer.js';
import { VERSION } from './version.js';

const DEFAULT_PATHS = '/var/log/containers/kubearmor-relay-*.log';

const USAGE = `kubearmor-shipper ${VERSION}
Ships KubeArmor alerts, logs and messages from container log files into Elasticsearch.

Usage:
  kubearmor-shipper run --once --dry-run [options]   read what is complete now, print one JSON
                                                     document per record, save positions, exit
  kubearmor-shipper run --dry-run [options]          the same, following the files until stopped
  kubearmor-shipper generate --out <dir> [options]   write realistic relay log files (CRI)
  kubearmor-shipper --version | --help

run options:
  --paths <glob,…>        files to read (default ${DEFAULT_PATHS}); may repeat
  --exclude <glob,…>      files to leave alone; may repeat
  --checkpoint-dir <dir>  where positions are kept (required)
  --start-at <where>      with no checkpoint at all: beginning (default) or end
  --node-name <name>      this node's name (default $NODE_NAME, else the host name)
  --index-prefix <p>      index names <p>-alerts-YYYY.MM.DD, … (default kubearmor)
  --max-event-bytes <n>   longer events are truncated and flagged (default 1048576)

generate options:
  --out <dir>             writes <dir>/pods/… (the files) and <dir>/containers/… (symlinks)
  --lines <n>             records to write (default 10000)
  --seed <n>              random seed (default 1): the same seed writes the same files
  --rotate-bytes <n>      rotate like kubelet past this size (default: never)
  --max-files <n>         files kept per container, current included (default 5)
  --start <time>          time of the first record (default: one hour ago)
`;

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await runCommand(rest);
      case 'generate':
        return await generateCommand(rest);
      case '--version':
      case 'version':
        process.stdout.write(`${VERSION}\n`);
        return 0;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE);
        return 0;
      default:
        process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${(err as Error).message}\n\nSee kubearmor-shipper --help\n`);
      return 2;
    }
    throw err;
  }
}

class UsageError extends Error {}

function list(values: readonly string[] | undefined, fallback: readonly string[]): string[] {
  const out = (values ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  return out.length > 0 ? out : [...fallback];
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive integer, not "${value}"`);
  return n;
}

async function runCommand(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    options: {
      once: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      paths: { type: 'string', multiple: true },
      exclude: { type: 'string', multiple: true },
      'checkpoint-dir': { type: 'string' },
      'start-at': { type: 'string', default: 'beginning' },
      'node-name': { type: 'string' },
      'index-prefix': { type: 'string', default: 'kubearmor' },
      'max-event-bytes': { type: 'string' },
    },
  });
  if (!values['dry-run']) {
    throw new UsageError('only `run --dry-run` exists so far; shipping to Elasticsearch is on its way');
  }
  const checkpointDir = values['checkpoint-dir'];
  if (checkpointDir === undefined) throw new UsageError('--checkpoint-dir is required');
  const startAt = values['start-at'];
  if (startAt !== 'beginning' && startAt !== 'end')
    throw new UsageError('--start-at must be beginning or end');
  const indexPrefix = values['index-prefix'];
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(indexPrefix)) {
    throw new UsageError('--index-prefix must be lower case letters, digits, ".", "_" or "-"');
  }
  const nodeName = values['node-name'] ?? process.env.NODE_NAME ?? hostname();

  await mkdir(checkpointDir, { recursive: true });
  const store = new CheckpointStore(checkpointDir);
  const loaded = await store.load();
  const counters = new Counters();
  if (loaded.status !== 'ok' && loaded.status !== 'missing') {
    counters.inc('checkpoint_problems');
    process.stderr.write(`checkpoints: ${loaded.status}\n`);
  }
  const output = new DryRunOutput(process.stdout);
  const tailer = new Tailer(
    {
      includes: list(values.paths, [DEFAULT_PATHS]),
      excludes: list(values.exclude, []),
      startAt,
      nodeName,
      record: { indexPrefix },
      maxEventBytes: positiveInt('max-event-bytes', values['max-event-bytes'], 1 << 20),
      bufferBytes: 256 * 1024,
      rotateWaitMs: 5000,
      releasedRetentionMs: 24 * 3600 * 1000,
    },
    output,
    counters,
    loaded.files,
  );
  try {
    if (values.once) {
      await tailOnce(tailer);
    } else {
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      await tailFollow(tailer, {
        scanIntervalMs: 2000,
        pollIntervalMs: 250,
        checkpointIntervalMs: 1000,
        signal: stop.signal,
        saveCheckpoints: () => output.end().then(() => store.save(tailer.checkpoints())),
      });
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
    await output.end();
  } finally {
    await tailer.close();
  }
  const checkpoints = tailer.checkpoints();
  await store.save(checkpoints);
  process.stderr.write(
    formatSummary(counters, { checkpointPath: store.path, checkpointFiles: checkpoints.length }),
  );
  return 0;
}

async function generateCommand(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    options: {
      out: { type: 'string' },
      lines: { type: 'string' },
      seed: { type: 'string' },
      'rotate-bytes': { type: 'string' },
      'max-files': { type: 'string' },
      start: { type: 'string' },
    },
  });
  if (values.out === undefined) throw new UsageError('--out is required');
  const start = values.start === undefined ? Date.now() - 3600_000 : Date.parse(values.start);
  if (Number.isNaN(start)) throw new UsageError(`--start is not a time: ${values.start}`);
  const result = await generateRelayLogs({
    out: values.out,
    records: positiveInt('lines', values.lines, 10_000),
    seed: positiveInt('seed', values.seed, 1),
    rotateBytes:
      values['rotate-bytes'] === undefined
        ? undefined
        : positiveInt('rotate-bytes', values['rotate-bytes'], 1),
    maxFiles: positiveInt('max-files', values['max-files'], 5),
    startMs: start,
  });
  const c = result.counts;
  const deleted = result.deleted.alert + result.deleted.log + result.deleted.message + result.deleted.relay;
  process.stderr.write(
    `wrote ${result.lines} relay lines with ${result.rotations} rotations; ` +
      `${deleted > 0 ? `rotation deleted the oldest ${deleted}; ` : ''}` +
      `on disk in ${result.files.length} files: ${c.alert} alerts, ${c.log} logs, ${c.message} messages, ${c.relay} relay lines\n` +
      `read them with: kubearmor-shipper run --once --dry-run --paths '${result.glob}' --checkpoint-dir <dir>\n`,
  );
  return 0;
}
