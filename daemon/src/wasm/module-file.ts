// The shipper's WebAssembly modules (built from daemon/assembly/ by scripts/build.mjs into dist/):
// found beside the bundle (dist/), or in the repository's dist/ when running from source.
import { readFileSync } from 'node:fs';

/** What is used of the WebAssembly global (its types are in the DOM library, not Node's). */
export interface CompiledModule {
  readonly compiled: unique symbol;
}
const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => CompiledModule;
      Instance: new (module: CompiledModule, imports: object) => { readonly exports: unknown };
    };
  }
).WebAssembly;

const compiled = new Map<string, CompiledModule | null>();

/** The compiled module `dist/<name>`, or null if its file is not there (or it would not compile). */
export function wasmModule(name: string): CompiledModule | null {
  const known = compiled.get(name);
  if (known !== undefined) return known;
  let module: CompiledModule | null = null;
  for (const file of [
    new URL(`./${name}`, import.meta.url),
    new URL(`../../../dist/${name}`, import.meta.url),
  ]) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch {
      continue;
    }
    // A module that does not compile (a runtime without SIMD) leaves the JavaScript path in place.
    try {
      module = new wasm.Module(bytes);
    } catch {
      module = null;
    }
    break;
  }
  compiled.set(name, module);
  return module;
}

/** A new instance's exports (each instance has its own memory). */
export function instantiate<Exports>(module: CompiledModule): Exports {
  return new wasm.Instance(module, {}).exports as Exports;
}
