// Runs the shipper's CLI as a child process, as a user (or a kubelet) would.
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../src/bin.ts', import.meta.url));

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  /** Output so far. */
  output(): { stdout: string; stderr: string };
  done: Promise<Finished>;
}

export function startShipper(args: readonly string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', bin, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const done = new Promise<Finished>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, output: () => ({ stdout, stderr }), done };
}

export async function runShipper(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  return startShipper(args, env).done;
}

/** The shipper's JSON log lines (pino), parsed. */
export function logLines(stdout: string): { msg: string; [key: string]: unknown }[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string });
}

/**
 * The port of a running shipper's status endpoint, from its log line: tests pass `--http-port 0`
 * and the system picks a free one (a random port of their own may already be taken).
 */
export async function statusPort(running: Running): Promise<number> {
  for (let i = 0; i < 300; i++) {
    const { stdout, stderr } = running.output();
    const complete = stdout.slice(0, stdout.lastIndexOf('\n') + 1);
    const line = logLines(complete).find((l) => l.msg === 'status endpoint listening');
    if (line !== undefined) return line.port as number;
    if (running.child.exitCode !== null)
      throw new Error(`the shipper exited (${running.child.exitCode}):\n${stderr}${stdout.slice(-3000)}`);
    await sleep(100);
  }
  running.child.kill('SIGKILL');
  throw new Error('the shipper did not log its status endpoint in 30 s');
}

export interface StoppedSummary {
  lines: number;
  records: Record<string, number>;
  badLines: Record<string, number>;
  flags: Record<string, number>;
  documents: Record<string, number>;
  deadLetters: Record<string, number>;
  /** Moves to the next Elasticsearch URL. */
  nodeChanges: number;
  bytesLost: Record<string, number>;
  bytesSkippedLongLines: number;
  unacknowledged: number;
  checkpointsSaved: boolean;
}

/** The shipper's last log line ("stopped"), with its counts. */
export function stoppedSummary(stdout: string): StoppedSummary {
  const line = logLines(stdout).find((l) => l.msg === 'stopped');
  if (line === undefined) throw new Error(`the shipper did not log "stopped":\n${stdout.slice(-2000)}`);
  return line as unknown as StoppedSummary;
}

/** The flags every shipping test passes: what to read, where to keep positions, which ES and prefix. */
export function shipArgs(o: {
  paths: string;
  checkpointDir: string;
  esUrl: string;
  prefix: string;
}): string[] {
  return [
    '--paths',
    o.paths,
    '--checkpoint-dir',
    o.checkpointDir,
    '--es-url',
    o.esUrl,
    '--es-replicas',
    '0',
    '--index-prefix',
    o.prefix,
  ];
}
