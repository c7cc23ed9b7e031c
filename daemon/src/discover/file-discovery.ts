// Finds the files to tail: walks each include glob, follows symlinks (kubelet's
// /var/log/containers/<pod>_<ns>_<container>-<id>.log points into /var/log/pods/…/N.log), drops
// what an exclude glob matches (by the matched path or the real one), and reports each file once.
// A matched path it cannot reach is reported too: a link into a directory the shipper's pod does
// not mount (docker's containers under a data root of its own) would otherwise ship nothing, and
// say nothing.
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
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

/** A path a glob matched that cannot be read: what is missing or refused, and why. */
export interface UnreachablePath {
  path: string;
  /** The first path on its way that fails: the link's missing target, or the path itself. */
  target: string;
  code: string;
  /** A directory on the globs' way that could not be listed (what is under it was not looked at). */
  listing?: true;
}

export class FileDiscovery {
  private readonly includes: string[][];
  private unreachableNow: UnreachablePath[] = [];
  private readonly excludes: RegExp[];

  /** Relative globs are taken from the working directory. */
  constructor(includes: readonly string[], excludes: readonly string[]) {
    this.includes = includes.map((p) => resolve(p).split('/').slice(1));
    this.excludes = excludes.map((p) => pathRegExp(resolve(p)));
  }

  /**
   * The matched paths the last scan could not reach, and the directories on the globs' way it
   * could not list (EMFILE, EACCES; one that does not exist is just not there).
   */
  unreachable(): readonly UnreachablePath[] {
    return this.unreachableNow;
  }

  /**
   * Whether the last scan looked where `path` would be: a file under a directory it could not list
   * is not gone (rotated away or deleted), only not looked at.
   */
  lookedAt(path: string): boolean {
    for (const u of this.unreachableNow)
      if (u.listing && (u.path === '/' || path.startsWith(`${u.path}/`))) return false;
    return true;
  }

  async scan(): Promise<DiscoveredFile[]> {
    const byReal = new Map<string, DiscoveredFile>();
    const unreachable: UnreachablePath[] = [];
    for (const segments of this.includes) {
      for (const path of await expand('', segments, unreachable)) {
        if (this.excluded(path)) continue;
        let real: string;
        let st: Awaited<ReturnType<typeof stat>>;
        try {
          real = await realpath(path);
          st = await stat(real);
        } catch (err) {
          // Vanished between the listing and now, or a link that leads nowhere we can read.
          const why = await unreachableTarget(path, err);
          if (why !== undefined) unreachable.push({ path, ...why });
          continue;
        }
        // Compressed rotated files are found through their directory's current file, never directly.
        if (!st.isFile() || this.excluded(real) || real.endsWith('.gz')) continue;
        // Several symlinks to one file: keep the first path found (globs are walked in order).
        if (!byReal.has(real))
          byReal.set(real, { path, realPath: real, dev: st.dev, ino: st.ino, size: st.size });
      }
    }
    this.unreachableNow = unreachable;
    return [...byReal.values()];
  }

  private excluded(path: string): boolean {
    for (const re of this.excludes) if (re.test(path)) return true;
    return false;
  }
}

/** Notes a directory that could not be listed, unless it is simply not there. */
function listingFailed(dir: string, err: unknown, failures: UnreachablePath[]): void {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  if (code !== 'ENOENT' && code !== 'ENOTDIR') failures.push({ path: dir, target: dir, code, listing: true });
}

async function expand(
  dir: string,
  segments: readonly string[],
  failures: UnreachablePath[],
): Promise<string[]> {
  if (segments.length === 0) return [dir];
  const [segment, ...rest] = segments as [string, ...string[]];
  if (segment === '**') {
    const out = await expand(dir, rest, failures);
    for (const child of await subdirectories(dir, failures))
      out.push(...(await expand(child, segments, failures)));
    return out;
  }
  if (!hasMagic(segment)) return expand(`${dir}/${segment}`, rest, failures);
  const re = segmentRegExp(segment);
  let names: string[];
  try {
    names = await readdir(dir === '' ? '/' : dir);
  } catch (err) {
    listingFailed(dir === '' ? '/' : dir, err, failures);
    return [];
  }
  names.sort();
  const out: string[] = [];
  for (const name of names) {
    if (name.startsWith('.') && !segment.startsWith('.')) continue;
    if (re.test(name)) out.push(...(await expand(join(dir === '' ? '/' : dir, name), rest, failures)));
  }
  return out;
}

async function subdirectories(dir: string, failures: UnreachablePath[]): Promise<string[]> {
  try {
    const entries = await readdir(dir === '' ? '/' : dir, { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => join(dir || '/', e.name));
  } catch (err) {
    listingFailed(dir || '/', err, failures);
    return [];
  }
}

/**
 * Why `path` (whose realpath failed with `err`) cannot be read; undefined if it is simply gone. A
 * dangling link is followed hop by hop to the first target that is not there.
 */
async function unreachableTarget(
  path: string,
  err: unknown,
): Promise<{ target: string; code: string } | undefined> {
  let at = path;
  for (let hop = 0; hop < 40; hop++) {
    try {
      if (!(await lstat(at)).isSymbolicLink()) break;
      at = resolve(dirname(at), await readlink(at));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      return at === path && code === 'ENOENT' ? undefined : { target: at, code };
    }
  }
  return { target: at, code: (err as NodeJS.ErrnoException).code ?? 'error' };
}

/** What to look at, by the error code of a path that cannot be read. */
export function unreadableHint(code: string): string {
  if (code === 'ENOENT') return 'is the directory of its target mounted in the shipper?';
  if (code === 'EMFILE' || code === 'ENFILE')
    return "too many open files: raise the shipper's file-descriptor limit, or narrow the paths";
  if (code === 'EACCES' || code === 'EPERM')
    return 'the shipper may not read it (it runs as root to read kubelet logs)';
  if (code === 'ELOOP') return 'a symlink loop';
  return 'see the code';
}
