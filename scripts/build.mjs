// Builds the shipper into dist/ (the package's bin and what the image copies):
//   dist/json-object-scan.wasm  the line scan and the document tail, from daemon/assembly/ (AssemblyScript)
//   dist/gzip-deflate.wasm      the DEFLATE encoder of gzip bodies, from daemon/assembly/
//   dist/kubearmor-shipper.js   one ESM bundle; what a start loads is in it, the two clients
//                               stay external (the image installs production dependencies, those
//                               two, next to it)
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
// 27 pages: a line longer than the scan's input area (1088 KiB) is scanned by the JavaScript scan;
// after it, the document tail's output and caches (memoryNeeded(), scan-layout.ts).
await assemble('daemon/assembly/json-object-scan.ts', 'dist/json-object-scan.wasm', 27);
// 31 pages: the encoder's tables, 32 KiB of history, a 512 KiB segment and its output (memoryNeeded()).
await assemble('daemon/assembly/gzip-deflate.ts', 'dist/gzip-deflate.wasm', 31);

const outfile = 'dist/kubearmor-shipper.js';
// What a start of the daemon loads is in the bundle: zod (the config), pino (the log), yaml (the
// config file) and prom-client (the status server). Loaded from node_modules, packages cost Node 22
// ~0.1 CPU s and ~9 MB of resident memory at every start (resolving them, reading their CommonJS
// exports, the ESM facades); bundled, their code is parsed as part of ours. `run --once` over no
// file with a config file and the status server, as the DaemonSet starts, mean of ten: Node 22
// 0.44 → 0.28 CPU s and 86 → 76 MB, Node 20 0.40 → 0.29 CPU s and 68 → 62 MB (with node:http
// loaded through require, see daemon/src/http/node-http.ts). Bundling only some of them saves
// little: the first package loaded from node_modules pays most of it. The CommonJS `require`s of
// Node's modules in pino and prom-client need a `require` in the ESM bundle. The official client
// and the Kubernetes client (bootstrap, exec-plugin kubeconfigs) stay external: bundling them too
// costs ~5 MB more. So what `dependencies` lists is what stays external, and the rest are
// build-time (dev) dependencies.
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
