// Builds the shipper into dist/ (the package's bin and what the image copies):
//   dist/json-object-scan.wasm  the line scan, from daemon/assembly/ (AssemblyScript)
//   dist/kubearmor-shipper.js   one ESM bundle; dependencies stay external (the image installs
//                               production dependencies next to it)
import { chmod, mkdir } from 'node:fs/promises';
import asc from 'assemblyscript/asc';
import { build } from 'esbuild';

await mkdir('dist', { recursive: true });
// Fixed memory (18 pages): the scan allocates nothing; a line longer than its input area
// (~1.1 MiB) is scanned by the JavaScript scan instead. No `abort` import: nothing in it can fail.
const wasm = await asc.main([
  'daemon/assembly/json-object-scan.ts',
  '--outFile',
  'dist/json-object-scan.wasm',
  '-O3',
  '--noAssert',
  '--runtime',
  'stub',
  '--enable',
  'simd',
  '--initialMemory',
  '18',
  '--maximumMemory',
  '18',
  '--use',
  'abort=',
]);
if (wasm.error) {
  console.error(wasm.stderr.toString());
  throw wasm.error;
}

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
