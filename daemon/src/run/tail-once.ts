// `run --once`: read everything complete in the matching files now, then stop. Files rotated away
// are read to their end and let go at once instead of after the rotate-wait grace; a scan after
// each pass picks up what appeared meanwhile (a copy-truncated file's new content, a new file).
import type { Tailer } from '../tail/tailer.js';

const MAX_PASSES = 100;

export async function tailOnce(tailer: Tailer): Promise<void> {
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const added = await tailer.scan();
    if (pass > 0 && added === 0) return;
    for (;;) {
      const read = await tailer.readTurn();
      const changed = await tailer.maintain(true);
      if (read === 0 && !changed && tailer.idle) break;
    }
  }
}
