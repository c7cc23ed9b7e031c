// The executable: everything else is importable without side effects.
import { main } from './cli.js';

// A reader that went away (`run --dry-run … | head`): end quietly, as a Unix tool ended by
// SIGPIPE does (128 + 13), and before a dry run saves positions past what no one read.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(141);
  throw err;
});

process.exitCode = await main(process.argv.slice(2));
