// Finds the files to tail: walks each include glob, follows symlinks (kubelet's
// /var/log/containers/<pod>_<ns>_<container>-<id>.log points into /var/log/pods/…/N.log), drops
// what an exclude glob matches (by the matched path or the real one), and reports each file once.
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { hasMagic, pathRegExp, segmentRegExp } from './glob.js';

export interface DiscoveredFile {
  /** The path the glob matched (often a symlink). */
  path: string;
  /** Where it points. */
  realPath: string;
  dev: number;
  ino: number;
  size: number;
}

export class FileDiscovery {
  private readonly includes: string[][];
  private readonly excludes: RegExp[];

  /** Relative globs are taken from the working directory. */
  constructor(includes: readonly string[], excludes: readonly string[]) {
    this.includes = includes.map((p) => resolve(p).split('/').slice(1));
    this.excludes = excludes.map((p) => pathRegExp(resolve(p)));
  }

  async scan(): Promise<DiscoveredFile[]> {
    const byReal = new Map<string, DiscoveredFile>();
    for (const segments of this.includes) {
      for (const path of await expand('', segments)) {
        if (this.excluded(path)) continue;
        let real: string;
        let st: Awaited<ReturnType<typeof stat>>;
        try {
          real = await realpath(path);
          st = await stat(real);
        } catch {
          continue; // vanished between the listing and now
        }
        // Compressed rotated files are found through their directory's current file, never directly.
        if (!st.isFile() || this.excluded(real) || real.endsWith('.gz')) continue;
        // Several symlinks to one file: keep the first path found (globs are walked in order).
        if (!byReal.has(real))
          byReal.set(real, { path, realPath: real, dev: st.dev, ino: st.ino, size: st.size });
      }
    }
    return [...byReal.values()];
  }

  private excluded(path: string): boolean {
    for (const re of this.excludes) if (re.test(path)) return true;
    return false;
  }
}

async function expand(dir: string, segments: readonly string[]): Promise<string[]> {
  if (segments.length === 0) return [dir];
  const [segment, ...rest] = segments as [string, ...string[]];
  if (segment === '**') {
    const out = await expand(dir, rest);
    for (const child of await subdirectories(dir)) out.push(...(await expand(child, segments)));
    return out;
  }
  if (!hasMagic(segment)) return expand(`${dir}/${segment}`, rest);
  const re = segmentRegExp(segment);
  let names: string[];
  try {
    names = await readdir(dir === '' ? '/' : dir);
  } catch {
    return [];
  }
  names.sort();
  const out: string[] = [];
  for (const name of names) {
    if (name.startsWith('.') && !segment.startsWith('.')) continue;
    if (re.test(name)) out.push(...(await expand(join(dir === '' ? '/' : dir, name), rest)));
  }
  return out;
}

async function subdirectories(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir === '' ? '/' : dir, { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => join(dir || '/', e.name));
  } catch {
    return [];
  }
}
