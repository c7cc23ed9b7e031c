// Path globs: `*` and `?` within one path segment, `[abc]` / `[!abc]` classes, `**` for any number
// of directories. Node 20 has no fs.glob, and we need a walk that follows symlinks and reports
// each match's real path and inode, so the walk is ours; patterns compile once, not per line.

/** Compiles one path segment's pattern into a RegExp (anchored). */
export function segmentRegExp(segment: string): RegExp {
  let re = '^';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, close);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`);
}

export function hasMagic(segment: string): boolean {
  return /[*?[]/.test(segment);
}

/** A whole-path matcher (for exclude patterns): `**` spans directories, `*` does not. */
export function pathRegExp(pattern: string): RegExp {
  const parts = pattern.split('/');
  let re = '^';
  parts.forEach((part, i) => {
    if (part === '**') {
      re += i === parts.length - 1 ? '.*' : '(?:[^/]*/)*';
      return;
    }
    re += segmentRegExp(part).source.slice(1, -1);
    if (i < parts.length - 1) re += '/';
  });
  return new RegExp(`${re}$`);
}
