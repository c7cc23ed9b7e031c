// Positions survive restarts in one JSON file, replaced atomically: write a temporary file, fsync
// it, rename it over the old one, fsync the directory. A missing or unreadable file is reported
// and treated as empty, never fatal (a corrupt one is kept aside for inspection).
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

export interface FileCheckpoint {
  /** Identity key (`dev:ino:fingerprint`); see tail/file-identity.ts. */
  key: string;
  dev: number;
  ino: number;
  fingerprint: string;
  fingerprintBytes: number;
  /** Real path the file was last seen at. */
  path: string;
  /** Bytes before this offset are done (acknowledged); reading resumes here. */
  offset: number;
  /** File size last observed, to count what is lost if the file vanishes while we are down. */
  size: number;
  /** The file was read to its end and let go (rotated away or deleted). */
  released: boolean;
  /** When the entry last changed (ISO time). */
  updatedAt: string;
}

export interface CheckpointLoad {
  files: FileCheckpoint[];
  /** What happened when loading, for the log: 'ok', 'missing' or 'corrupt: <reason>'. */
  status: string;
}

const FILE_NAME = 'checkpoints.json';
/**
 * The dry run's positions, apart from shipping's: a dry run in the daemon's directory would
 * otherwise move the daemon past records that went to a terminal, not to Elasticsearch.
 */
export const DRY_RUN_FILE_NAME = 'dry-run-checkpoints.json';
const VERSION = 1;

export class CheckpointStore {
  readonly path: string;

  constructor(
    readonly dir: string,
    fileName = FILE_NAME,
  ) {
    this.path = join(dir, fileName);
  }

  async load(): Promise<CheckpointLoad> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { files: [], status: 'missing' };
      return { files: [], status: `unreadable: ${(err as Error).message}` };
    }
    try {
      const data = JSON.parse(text) as { version?: unknown; files?: unknown };
      if (data.version !== VERSION || !Array.isArray(data.files)) throw new Error(`unknown format`);
      const files = data.files.filter(isCheckpoint);
      return { files, status: files.length === data.files.length ? 'ok' : 'ok (invalid entries skipped)' };
    } catch (err) {
      const aside = `${this.path}.corrupt-${Date.now()}`;
      await rename(this.path, aside).catch(() => undefined);
      return { files: [], status: `corrupt (${(err as Error).message}); kept as ${aside}` };
    }
  }

  async save(files: readonly FileCheckpoint[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(
        `${JSON.stringify({ version: VERSION, savedAt: new Date().toISOString(), files }, null, 1)}\n`,
      );
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

function isCheckpoint(v: unknown): v is FileCheckpoint {
  const c = v as FileCheckpoint;
  return (
    c !== null &&
    typeof c === 'object' &&
    typeof c.key === 'string' &&
    Number.isSafeInteger(c.dev) &&
    Number.isSafeInteger(c.ino) &&
    typeof c.fingerprint === 'string' &&
    Number.isSafeInteger(c.fingerprintBytes) &&
    typeof c.path === 'string' &&
    Number.isSafeInteger(c.offset) &&
    c.offset >= 0 &&
    Number.isSafeInteger(c.size) &&
    typeof c.released === 'boolean'
  );
}
