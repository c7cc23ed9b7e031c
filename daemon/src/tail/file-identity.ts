// Who a file is, independent of its name: device + inode + a fingerprint of its first bytes. The
// fingerprint covers the first line (at most FINGERPRINT_MAX_BYTES), so it never changes once the
// file has one; it tells a reused inode from the file that had it, and two files that begin with
// the same line are still told apart by their inodes.
//
// The *content key* names what was read, for checkpoints and document ids: the container's
// directory plus the fingerprint. It survives what changes the inode but not the bytes (kubelet
// gzipping a rotated file, a copy-truncate's copy), so ids stay the same when such a file is
// read again, and two different files' lines never share one.
import { createHash } from 'node:crypto';

export const FINGERPRINT_MAX_BYTES = 1024;

export interface FileIdentity {
  dev: number;
  ino: number;
  /** Hex hash of the first `fingerprintBytes` bytes. */
  fingerprint: string;
  fingerprintBytes: number;
  /**
   * The runtime's time on the file's first line, as written (CRI: its first field; docker: its
   * `time`), if the head has one: as fixed as the fingerprint (see `RecordSource.fileTime`).
   */
  headTime?: string | undefined;
}

/**
 * The fingerprint of a file's head (`head` = its first bytes, as many as could be read, up to
 * FINGERPRINT_MAX_BYTES), or undefined while the file has neither a complete first line nor
 * FINGERPRINT_MAX_BYTES bytes: such a file has nothing complete to read yet either.
 */
export function fingerprintOf(head: Buffer): { fingerprint: string; bytes: number } | undefined {
  const nl = head.indexOf(0x0a);
  const bytes = nl >= 0 ? nl + 1 : head.length >= FINGERPRINT_MAX_BYTES ? FINGERPRINT_MAX_BYTES : -1;
  if (bytes < 0) return undefined;
  return { fingerprint: hashHead(head.subarray(0, bytes)), bytes };
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
    headTime: runtimeTimeOfHead(head.subarray(0, fp.bytes)),
  };
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
