// Who a file is, independent of its name: device + inode + a fingerprint of its first bytes. The
// fingerprint covers the first line (at most FINGERPRINT_MAX_BYTES), so it never changes once the
// file has one; it tells a reused inode from the file that had it, and two files that begin with
// the same line are still told apart by their inodes.
import { createHash } from 'node:crypto';

export const FINGERPRINT_MAX_BYTES = 1024;

export interface FileIdentity {
  dev: number;
  ino: number;
  /** Hex hash of the first `fingerprintBytes` bytes. */
  fingerprint: string;
  fingerprintBytes: number;
  /** `dev:ino:fingerprint`, the key checkpoints and document ids use. */
  key: string;
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

export function identityKey(dev: number, ino: number, fingerprint: string): string {
  return `${dev}:${ino}:${fingerprint}`;
}

export function makeIdentity(dev: number, ino: number, head: Buffer): FileIdentity | undefined {
  const fp = fingerprintOf(head);
  if (fp === undefined) return undefined;
  return {
    dev,
    ino,
    fingerprint: fp.fingerprint,
    fingerprintBytes: fp.bytes,
    key: identityKey(dev, ino, fp.fingerprint),
  };
}
