// Runs the shipper's CLI as a child process, as a user (or a kubelet) would.
import { type ChildProcess, spawn } from 'node:child_process';
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

export interface StoppedSummary {
  lines: number;
  records: Record<string, number>;
  badLines: Record<string, number>;
  flags: Record<string, number>;
  documents: Record<string, number>;
  deadLetters: Record<string, number>;
  bytesLost: Record<string, number>;
  unacknowledged: number;
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
