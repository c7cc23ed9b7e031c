// One shipper per checkpoint directory. Two on one directory (a `run --once` backfill started in
// the daemon's pod, a second DaemonSet, a rollout with surge) would both read every file and
// overwrite each other's checkpoints; Elasticsearch's 409s keep the documents exact, but the work
// is doubled and each save undoes the other's. The lock is a file naming its holder, refreshed
// every `heartbeatMs`:
// - a holder whose process is gone is seen at once when it ran in our PID namespace (a crash on
//   the same host, the tests); from another namespace (the container before a restart) only by its
//   age: a lock not refreshed for `staleMs` is taken over;
// - the holder checks on every refresh that the file is still its own: if another shipper took
//   it (we were stalled past `staleMs`), it says so, and the caller stops.
// Not an flock: Node has none, and a hostPath may be anything. A directory where the lock cannot
// be written at all (read-only), or a lock that cannot be read, gives `unavailable`: the caller
// ships without it. A lock removed under its holder is put back.
import { randomUUID } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface LockOwner {
  host: string;
  /** The Kubernetes node (NODE_NAME): a directory shared between nodes is a mistake to name. */
  node: string;
  pid: number;
  /** `/proc/self/ns/pid`'s target: pids compare only within one namespace. */
  pidNamespace: string;
  since: string;
  token: string;
}

export interface HeldLock {
  readonly path: string;
  /** Removes the lock if it is still ours. */
  release(): Promise<void>;
}

export type LockAttempt =
  | { kind: 'held'; lock: HeldLock }
  /** Held by another shipper; `owner` undefined if its file could not be read. */
  | { kind: 'busy'; path: string; owner: LockOwner | undefined; ageMs: number }
  | { kind: 'unavailable'; path: string; error: Error };

export interface LockOptions {
  /** This shipper's node, written into the lock. */
  node?: string;
  /** A lock not refreshed for this long belongs to a shipper that is gone. */
  staleMs?: number;
  heartbeatMs?: number;
  /** Another shipper took the lock over (this one stalled past `staleMs`). Called once. */
  onLost?: (owner: LockOwner | undefined) => void;
  /** A refresh failed (it is tried again at the next beat). */
  onRefreshError?: (error: Error) => void;
}

export const LOCK_FILE = 'shipper.lock';
export const LOCK_STALE_MS = 15_000;
const HEARTBEAT_MS = 2_000;

let ownNamespace: string | undefined;
function pidNamespace(): string {
  if (ownNamespace === undefined) {
    try {
      ownNamespace = readlinkSync('/proc/self/ns/pid');
    } catch {
      ownNamespace = '';
    }
  }
  return ownNamespace;
}

/** Takes the lock of `dir` (which must exist) if no live shipper holds it. */
export async function lockDirectory(dir: string, options: LockOptions = {}): Promise<LockAttempt> {
  const path = join(dir, LOCK_FILE);
  const staleMs = options.staleMs ?? LOCK_STALE_MS;
  const owner: LockOwner = {
    host: hostname(),
    node: options.node ?? '',
    pid: process.pid,
    pidNamespace: pidNamespace(),
    since: new Date().toISOString(),
    token: randomUUID(),
  };
  // Twice at most: once more after taking a stale lock away.
  for (let round = 0; round < 2; round++) {
    try {
      await writeFile(path, `${JSON.stringify(owner)}\n`, { flag: 'wx' });
      return { kind: 'held', lock: holdLock(path, owner, options) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        return { kind: 'unavailable', path, error: err as Error };
    }
    const current = await readLock(path);
    if (current === 'gone') continue;
    // Waiting for a lock no one can read would never end: like a read-only directory.
    if (current instanceof Error) return { kind: 'unavailable', path, error: current };
    if (!isStale(current, staleMs)) return { kind: 'busy', path, owner: current.owner, ageMs: current.ageMs };
    await unlink(path).catch(() => undefined);
  }
  const current = await readLock(path);
  if (current instanceof Error) return { kind: 'unavailable', path, error: current };
  return current === 'gone'
    ? { kind: 'busy', path, owner: undefined, ageMs: 0 }
    : { kind: 'busy', path, owner: current.owner, ageMs: current.ageMs };
}

/** Who holds the lock of `dir`, without taking it (`check`); undefined if no one does. */
export async function lockHolder(
  dir: string,
  staleMs = LOCK_STALE_MS,
): Promise<{ owner: LockOwner | undefined; ageMs: number; stale: boolean; error?: string } | undefined> {
  const current = await readLock(join(dir, LOCK_FILE));
  if (current === 'gone') return undefined;
  if (current instanceof Error) return { owner: undefined, ageMs: 0, stale: false, error: current.message };
  return { ...current, stale: isStale(current, staleMs) };
}

interface ReadLock {
  owner: LockOwner | undefined;
  ageMs: number;
}

/** The lock as it is now; an Error if it cannot be read (a directory in its place, EIO). */
async function readLock(path: string): Promise<ReadLock | 'gone' | Error> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { owner: parseOwner(text), ageMs: Date.now() - info.mtimeMs };
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : (err as Error);
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.token !== 'string' || typeof o.pid !== 'number') return undefined;
    return {
      host: String(o.host ?? ''),
      node: String(o.node ?? ''),
      pid: o.pid,
      pidNamespace: String(o.pidNamespace ?? ''),
      since: String(o.since ?? ''),
      token: o.token,
    };
  } catch {
    // Being written (created, not yet filled): its age says it is fresh.
    return undefined;
  }
}

function isStale({ owner, ageMs }: ReadLock, staleMs: number): boolean {
  if (ageMs > staleMs) return true;
  const ns = pidNamespace();
  if (owner === undefined || ns === '' || owner.pidNamespace !== ns) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (err) {
    // EPERM: it exists, only not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function holdLock(path: string, owner: LockOwner, options: LockOptions): HeldLock {
  let lost = false;
  let beating = false;
  const beat = async () => {
    if (lost || beating) return;
    beating = true;
    try {
      const text = await readFile(path, 'utf8').catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
        // Removed by hand (or with its directory): no one else holds it, so it is put back. If
        // another shipper was quicker, its lock is there and this one has lost.
        const ours = `${JSON.stringify(owner)}\n`;
        return writeFile(path, ours, { flag: 'wx' }).then(
          () => ours,
          (e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? readFile(path, 'utf8') : Promise.reject(e)),
        );
      });
      const current = parseOwner(text);
      if (current?.token !== owner.token) {
        lost = true;
        clearInterval(timer);
        options.onLost?.(current);
        return;
      }
      const now = new Date();
      await utimes(path, now, now);
    } catch (err) {
      options.onRefreshError?.(err as Error);
    } finally {
      beating = false;
    }
  };
  const timer = setInterval(() => void beat(), options.heartbeatMs ?? HEARTBEAT_MS);
  timer.unref();
  return {
    path,
    async release() {
      clearInterval(timer);
      if (lost) return;
      lost = true;
      try {
        if (parseOwner(await readFile(path, 'utf8'))?.token === owner.token) await unlink(path);
      } catch {
        // gone already, or unreadable: nothing of ours to remove
      }
    },
  };
}

/** The lock's holder in a few words, for the log. */
export function describeOwner(owner: LockOwner | undefined, ageMs: number): string {
  const age = `refreshed ${Math.max(0, Math.round(ageMs / 1000))} s ago`;
  if (owner === undefined) return `a shipper (${age})`;
  const node = owner.node === '' ? '' : ` (node ${owner.node})`;
  return `pid ${owner.pid} on ${owner.host || 'an unknown host'}${node} since ${owner.since} (${age})`;
}
