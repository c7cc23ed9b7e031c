// The counts a run ends with, for people: what was read, what it became, what was wrong with it.
import type { CounterName, Counters } from '../metrics/counters.js';

function line(counters: Counters, name: CounterName, title: string): string {
  const values = Object.entries(counters.byLabel(name)).filter(([, n]) => n > 0);
  if (values.length === 0) return `${title}: none\n`;
  values.sort(([a], [b]) => a.localeCompare(b));
  return `${title}: ${values.map(([label, n]) => `${label || 'all'}=${n}`).join(' ')}\n`;
}

export function formatSummary(
  counters: Counters,
  checkpoint: { checkpointPath: string; checkpointFiles: number },
): string {
  const mib = (counters.get('bytes_read') / (1024 * 1024)).toFixed(2);
  return (
    `read: ${counters.get('lines_read')} lines, ${mib} MiB from ${counters.get('files_opened')} files ` +
    `(${counters.get('files_released')} rotated or deleted and done)\n` +
    line(counters, 'records', 'records') +
    line(counters, 'bad_lines', 'not KubeArmor (kept as relay records)') +
    line(counters, 'record_flags', 'flagged') +
    line(counters, 'bytes_lost', 'bytes lost') +
    `bytes skipped unread in over-long lines: ${counters.get('bytes_skipped_long_lines') || 'none'}\n` +
    `checkpoints: ${checkpoint.checkpointFiles} files in ${checkpoint.checkpointPath}\n`
  );
}
