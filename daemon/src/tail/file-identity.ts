// Who a file is, independent of its name: device + inode + a fingerprint of its first bytes. The
// fingerprint covers the first line (at most FINGERPRINT_MAX_BYTES), so it never changes once the
// file has one; it tells a reused inode from the file that had it, and two files that begin with
// the same line are still told apart by their inodes. A first line that is JSON (docker's
// json-file) is covered whole, up to LONG_FIRST_LINE_MAX_BYTES: docker writes its `time` last, and
// two files that both begin with a 16 KiB piece of the same long line differ only there.
//
// The *content key* names what was read, for checkpoints and document ids: the container's
// directory plus the fingerprint. It survives what changes the inode but not the bytes (kubelet
// gzipping a rotated file, a copy-truncate's copy), so ids stay the same when such a file is
// read again, and two different files' lines never share one.
import { createHash } from 'node:crypto';

export const FINGERPRINT_MAX_BYTES = 1024;
/** How much of a JSON first line the fingerprint covers at most (a docker piece is 16 KiB, escaped). */
export const LONG_FIRST_LINE_MAX_BYTES = 256 * 1024;
const OPEN_BRACE = 0x7b;

export interface FileIdentity {
  dev: number;
  ino: number;
  /** Hex hash of the first `fingerprintBytes` bytes. */
  fingerprint: string;
  fingerprintBytes: number;
  /**
   * The fingerprint of the first FINGERPRINT_MAX_BYTES bytes, when the fingerprint covers a longer
   * JSON first line: what a checkpoint saved before covered, so that one still matches.
   */
  shortFingerprint?: string | undefined;
  /**
   * The runtime's time on the file's first line, as written (CRI: its first field; docker: its
   * `time`), if the head has one: as fixed as the fingerprint (see `RecordSource.fileTime`).
   */
  headTime?: string | undefined;
}

/**
 * The fingerprint of a file's head (`head` = its first bytes, as many as could be read, up to
 * FINGERPRINT_MAX_BYTES, or LONG_FIRST_LINE_MAX_BYTES when `wantsWholeFirstLine` says so), or
 * undefined while the file has neither a complete first line nor as many bytes as the fingerprint
 * covers: such a file has nothing complete to read yet either.
 */
export function fingerprintOf(head: Buffer): { fingerprint: string; bytes: number } | undefined {
  const max = head[0] === OPEN_BRACE ? LONG_FIRST_LINE_MAX_BYTES : FINGERPRINT_MAX_BYTES;
  const nl = head.indexOf(0x0a);
  const bytes = nl >= 0 && nl < max ? nl + 1 : head.length >= max ? max : -1;
  if (bytes < 0) return undefined;
  return { fingerprint: hashHead(head.subarray(0, bytes)), bytes };
}

/** The first FINGERPRINT_MAX_BYTES of a JSON first line are not enough: read up to its end. */
export function wantsWholeFirstLine(head: Buffer): boolean {
  return head[0] === OPEN_BRACE && head.length >= FINGERPRINT_MAX_BYTES && head.indexOf(0x0a) < 0;
}

export function hashHead(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/** `<directory>#<fingerprint>`; see the note at the top. */
export function contentKey(dir: string, fingerprint: string): string {
  return `${dir}#${fingerprint}`;
}

export function makeIdentity(dev: number, ino: number, head: Buffer): FileIdentity | undefined {
  const fp = fingerprintOf(head);
  if (fp === undefined) return undefined;
  return {
    dev,
    ino,
    fingerprint: fp.fingerprint,
    fingerprintBytes: fp.bytes,
    shortFingerprint:
      fp.bytes > FINGERPRINT_MAX_BYTES ? hashHead(head.subarray(0, FINGERPRINT_MAX_BYTES)) : undefined,
    headTime: runtimeTimeOfHead(head.subarray(0, fp.bytes)),
  };
}

/**
 * A checkpoint's fingerprint is this identity's: the same, or one saved before JSON first lines
 * were covered whole (their first FINGERPRINT_MAX_BYTES).
 */
export function sameFingerprint(
  identity: FileIdentity,
  fingerprint: string,
  fingerprintBytes: number,
): boolean {
  if (fingerprint === identity.fingerprint) return true;
  return fingerprintBytes === FINGERPRINT_MAX_BYTES && fingerprint === identity.shortFingerprint;
}

/** The time the runtime wrote on the head's line, unchecked (the parse stage judges it). */
export function runtimeTimeOfHead(head: Buffer): string | undefined {
  const line = head.toString('latin1');
  if (line.startsWith('{')) {
    // docker json-file: `time` comes last, so a long first line's head may not hold it.
    const at = line.indexOf('"time":"');
    const end = at < 0 ? -1 : line.indexOf('"', at + 8);
    return end < 0 ? undefined : line.slice(at + 8, end);
  }
  const space = line.indexOf(' ');
  return space > 0 && space <= 40 ? line.slice(0, space) : undefined;
}
