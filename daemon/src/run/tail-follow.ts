// `run` (the daemon): follow the files until stopped. Globs are re-scanned every `scanIntervalMs`
// (new files, rotations, deletions); files read to their end are looked at again every
// `pollIntervalMs`; checkpoints are saved every `checkpointIntervalMs` and once more at the end.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Tailer } from '../tail/tailer.js';

export interface FollowOptions {
  scanIntervalMs: number;
  pollIntervalMs: number;
  checkpointIntervalMs: number;
  /** Aborting stops reading; the loop then returns. */
  signal: AbortSignal;
  saveCheckpoints: () => Promise<void>;
  /** Called every turn of the loop (liveness). */
  onTurn?: () => void;
  now?: () => number;
}

export async function tailFollow(tailer: Tailer, options: FollowOptions): Promise<void> {
  const now = options.now ?? Date.now;
  let nextScan = 0;
  let nextSave = now() + options.checkpointIntervalMs;
  while (!options.signal.aborted) {
    options.onTurn?.();
    if (now() >= nextScan) {
      await tailer.scan();
      nextScan = now() + options.scanIntervalMs;
    }
    const read = await tailer.readTurn();
    const changed = await tailer.maintain(false);
    if (now() >= nextSave) {
      await options.saveCheckpoints();
      nextSave = now() + options.checkpointIntervalMs;
    }
    if (read === 0 && !changed) {
      await sleep(options.pollIntervalMs, undefined, { signal: options.signal }).catch(() => undefined);
    }
  }
}
