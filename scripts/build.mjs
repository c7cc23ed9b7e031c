// Bundles the shipper into one ESM file, dist/kubearmor-shipper.js (the package's bin).
// Dependencies stay external: the image installs production dependencies next to it.
import { chmod } from 'node:fs/promises';
import { build } from 'esbuild';

const outfile = 'dist/kubearmor-shipper.js';
await build({
  entryPoints: ['daemon/src/bin.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
await chmod(outfile, 0o755);
