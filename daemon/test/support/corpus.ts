// Generated relay logs for integration tests, with the counts computed from what was written.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type GenerateResult,
  generateRelayLogs,
  type KindCounts,
} from '../../src/generate/kubelet-log-writer.js';

export interface Corpus extends GenerateResult {
  dir: string;
  checkpointDir: string;
  /** Records on disk, by the index kind they belong to. */
  byKind: Record<'alerts' | 'logs' | 'messages' | 'relay', number>;
  total: number;
}

export async function makeCorpus(
  label: string,
  records: number,
  seed: number,
  rotateBytes?: number,
): Promise<Corpus> {
  const dir = await mkdtemp(join(tmpdir(), `${label}-`));
  const generated = await generateRelayLogs({
    out: join(dir, 'node'),
    records,
    seed,
    rotateBytes,
    // Some events' pieces straddle a rotation: each must still be one document.
    rotateBetweenPieces: true,
    maxFiles: 1000,
    startMs: Date.parse('2024-07-26T10:00:00Z'),
  });
  const byKind = byIndexKind(generated.counts);
  return {
    ...generated,
    dir,
    checkpointDir: join(dir, 'checkpoints'),
    byKind,
    total: byKind.alerts + byKind.logs + byKind.messages + byKind.relay,
  };
}

/** Generated lines by the index kind their documents go to. */
export function byIndexKind(c: KindCounts): Corpus['byKind'] {
  return { alerts: c.alert, logs: c.log, messages: c.message, relay: c.relay };
}
