// Builds the shipper into dist/ (the package's bin and what the image copies):
//   dist/json-object-scan.wasm  the line scan, from daemon/assembly/ (AssemblyScript)
//   dist/gzip-deflate.wasm      the DEFLATE encoder of gzip bodies, from daemon/assembly/
//   dist/kubearmor-shipper.js   one ESM bundle; dependencies stay external (the image installs
//                               production dependencies next to it)
import { chmod, mkdir } from 'node:fs/promises';
import asc from 'assemblyscript/asc';
import { build } from 'esbuild';

await mkdir('dist', { recursive: true });
// Fixed memories (the modules allocate nothing; every place in them is laid out at build time),
// no `abort` import: nothing in them can fail.
async function assemble(source, outFile, pages) {
  const result = await asc.main([
    source,
    '--outFile',
    outFile,
    '-O3',
    '--noAssert',
    '--runtime',
    'stub',
    '--enable',
    'simd',
    '--initialMemory',
    String(pages),
    '--maximumMemory',
    String(pages),
    '--use',
    'abort=',
  ]);
  if (result.error) {
    console.error(result.stderr.toString());
    throw result.error;
  }
}
// 18 pages: a line longer than the scan's input area (~1.1 MiB) is scanned by the JavaScript scan.
await assemble('daemon/assembly/json-object-scan.ts', 'dist/json-object-scan.wasm', 18);
// 31 pages: the encoder's tables, 32 KiB of history, a 512 KiB segment and its output (memoryNeeded()).
await assemble('daemon/assembly/gzip-deflate.ts', 'dist/gzip-deflate.wasm', 31);

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
