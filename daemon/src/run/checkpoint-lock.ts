// `run` and `run --once` take their checkpoint directory's lock before they read its checkpoints
// (checkpoint/directory-lock.ts). The daemon waits for a holder to stop (a rollout's old pod, a
// backfill); `--once` does not wait for a live one: a backfill that hangs behind the daemon helps
// no one.
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  describeOwner,
  type HeldLock,
  LOCK_STALE_MS,
  type LockOptions,
  lockDirectory,
} from '../checkpoint/directory-lock.js';
import type { Logger } from '../log/logger.js';

export type CheckpointLock =
  | { kind: 'held'; lock: HeldLock }
  /** The directory cannot hold a lock (read-only): shipping goes on without one. */
  | { kind: 'none' }
  /** Another shipper holds it (`--once`), or the stop came while waiting. */
  | { kind: 'not_taken' };

export async function takeCheckpointLock(
  dir: string,
  options: { once: boolean; logger: Logger; signal: AbortSignal; node: string; lock: LockOptions },
): Promise<CheckpointLock> {
  const { logger, signal } = options;
  // Missing (a first start): made here, so only a directory that cannot hold a file goes unlocked.
  await mkdir(dir, { recursive: true }).catch(() => undefined);
  let lastWarned = Number.NEGATIVE_INFINITY;
  // `--once`: the lock's age at the last look (a smaller one since: it was refreshed).
  let lastAge: number | undefined;
  while (!signal.aborted) {
    const attempt = await lockDirectory(dir, { ...options.lock, node: options.node });
    if (attempt.kind === 'held') return attempt;
    if (attempt.kind === 'unavailable') {
      logger.warn(
        { path: attempt.path, error: attempt.error.message },
        'cannot lock the checkpoint directory; shipping without the lock (a second shipper on this directory would do the same work again)',
      );
      return { kind: 'none' };
    }
    const holder = describeOwner(attempt.owner, attempt.ageMs);
    const otherNode = attempt.owner?.node;
    if (otherNode !== undefined && otherNode !== '' && otherNode !== options.node) {
      // Not a rollout or a backfill: the directory is shared between nodes (a volume, not a
      // hostPath). Waiting would never end; each node needs a directory of its own.
      logger.error(
        { path: attempt.path, holder, node: options.node },
        'the checkpoint directory is held by a shipper on another node: a checkpoint directory is one node’s (a hostPath), never shared between nodes; a run beside the daemon needs its NODE_NAME',
      );
      return { kind: 'not_taken' };
    }
    if (options.once) {
      // A holder that refreshes its lock (every 2 s) is alive: no waiting for it. One that does
      // not may be a container that just died; its lock is taken once stale.
      const refreshed = lastAge !== undefined && attempt.ageMs < lastAge;
      lastAge = attempt.ageMs;
      if (refreshed) {
        logger.error(
          { path: attempt.path, holder },
          'the checkpoint directory is in use by another shipper: stop it, or give this run a --checkpoint-dir of its own',
        );
        return { kind: 'not_taken' };
      }
    }
    if (!options.once && Date.now() - lastWarned >= 30_000) {
      lastWarned = Date.now();
      logger.warn(
        { path: attempt.path, holder },
        `the checkpoint directory is in use by another shipper; waiting for it to stop (a lock not refreshed for ${LOCK_STALE_MS / 1000} s is taken over)`,
      );
    }
    await sleep(500, undefined, { signal }).catch(() => undefined);
  }
  return { kind: 'not_taken' };
}
