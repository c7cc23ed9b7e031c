// `run` (the daemon): follow the files until stopped. Globs are re-scanned every `scanIntervalMs`
// (new files, rotations, deletions); files read to their end are looked at again every
// `pollIntervalMs`; checkpoints are saved every `checkpointIntervalMs` and once more at the end.
//
// While the consumer is full (Elasticsearch slow or down, everything the budget holds awaiting
// acknowledgement) reading waits, but the loop does not: it still scans, so files kubelet rotates
// meanwhile are opened and held (kubelet may delete them before there is room to read them), still
// saves checkpoints, still answers a stop at once, and its turning keeps /healthz alive.
import { setTimeout as sleep } from 'node:timers/promises';
import type { TailedFile } from '../tail/tailed-file.js';
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
  const { signal } = options;
  let nextScan = 0;
  let nextSave = now() + options.checkpointIntervalMs;
  // One wait for room at a time, however many turns it spans.
  let room: Promise<void> | undefined;
  while (!signal.aborted) {
    options.onTurn?.();
    if (now() >= nextScan) {
      await tailer.scan();
      nextScan = now() + options.scanIntervalMs;
    }
    const read = await tailer.readTurn(false);
    const changed = await tailer.maintain(false);
    if (now() >= nextSave) {
      await options.saveCheckpoints();
      nextSave = now() + options.checkpointIntervalMs;
    }
    if (!tailer.hasRoom()) {
      room ??= tailer.waitForRoom().then(() => {
        room = undefined;
      });
      const until = Math.max(0, Math.min(nextScan, nextSave) - now());
      const woken = new AbortController();
      const timer = sleep(until, undefined, { signal: AbortSignal.any([signal, woken.signal]) });
      await Promise.race([room, timer.catch(() => undefined)]);
      woken.abort();
    } else if (read === 0 && !changed) {
      await sleep(options.pollIntervalMs, undefined, { signal }).catch(() => undefined);
    }
  }
}

/**
 * At a stop, before the grace period's wait for acknowledgements: reads what is left of the files
 * kubelet deleted while the tailer held them open (it lagged behind: Elasticsearch was slow or
 * away, or no scan saw them go yet). Nothing can read them after the restart; what they yield now
 * is shipped and acknowledged like the rest within the grace. Older files of theirs are read
 * first, and an event whose first pieces end such a file (or any file rotated away) is completed
 * from the file after it: after the restart its last pieces alone would be a record (see
 * Tailer.toReadBeforeStop); what no file completed goes as it is, flagged truncated. Stops at
 * `until`, or when nothing of that can be read further. Resolves to the deleted files found.
 */
export async function readDeletedBeforeStop(tailer: Tailer, until: number, now = Date.now): Promise<number> {
  const deleted = await tailer.deletedUnread();
  if (deleted.length === 0 && tailer.toReadBeforeStop(deleted).files.size === 0) return 0;
  let takenUp = tailer.filesTakenUp;
  let scanned = false;
  let looked = false;
  while (now() < until) {
    if (tailer.filesTakenUp !== takenUp) {
      // A file tracked since: the new content of one replaced in place, maybe deleted too.
      takenUp = tailer.filesTakenUp;
      for (const f of await tailer.deletedUnread()) if (!deleted.includes(f)) deleted.push(f);
    }
    const wanted = tailer.toReadBeforeStop(deleted);
    if (wanted.unknown > 0 && !scanned) {
      // The file after it was created since the last scan.
      scanned = true;
      await tailer.scan();
      continue;
    }
    const before = readState(wanted.files);
    const read = wanted.files.size > 0 ? await tailer.readTurn(false, wanted.files) : 0;
    // A read may find a file truncated and move to its copy: a change, though no byte counts.
    if (read > 0 || readState(wanted.files) !== before) {
      looked = false;
      continue;
    }
    if (wanted.files.size === 0 || tailer.hasRoom()) {
      // Nothing more to read: unless a file at its end was truncated since (then its copy is).
      if (looked || !(await tailer.lookAgain(tailer.trackedFiles()))) break;
      looked = true;
      continue;
    }
    const woken = new AbortController();
    await Promise.race([
      tailer.waitForRoom(),
      sleep(Math.max(0, until - now()), undefined, { signal: woken.signal }).catch(() => undefined),
    ]);
    woken.abort();
  }
  tailer.flushDeleted(deleted);
  return deleted.length;
}

/** Where each file's reading stands, to tell a turn that changed nothing. */
function readState(files: Iterable<TailedFile>): string {
  let state = '';
  for (const f of files) state += `${f.realPath}:${f.reader.position}:${f.atEnd}:${f.closed};`;
  return state;
}
