// Builds the shipper into dist/ (the package's bin and what the image copies):
//   dist/json-object-scan.wasm  the line scan, from daemon/assembly/ (AssemblyScript)
//   dist/gzip-deflate.wasm      the DEFLATE encoder of gzip bodies, from daemon/assembly/
//   dist/kubearmor-shipper.js   one ESM bundle; zod and pino (loaded at every start) are in it, the
//                               other dependencies stay external (the image installs production
//                               dependencies next to it)
import { chmod, mkdir, readFile } from 'node:fs/promises';
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
// Every start loads zod (the config) and pino (the log). From node_modules, as ESM, they cost Node
// 22 ~60 ms of CPU and ~7 MB of resident memory at start-up, resolving and linking their hundred
// files; bundled, their code is parsed as part of ours (measured: the whole start 0.26 → 0.18 CPU s,
// 82 → 73 MB). pino's CommonJS `require`s of Node's modules need a `require` in the ESM bundle.
// The rarely loaded dependencies (the official client, the Kubernetes client, yaml, prom-client)
// stay external: bundling them all was tried and costs ~5 MB more. So zod and pino are build-time
// (dev) dependencies, and what `dependencies` lists is what stays external.
const packageJson = JSON.parse(await readFile('package.json', 'utf8'));
await build({
  entryPoints: ['daemon/src/bin.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: Object.keys(packageJson.dependencies),
  sourcemap: 'linked',
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
await chmod(outfile, 0o755);
