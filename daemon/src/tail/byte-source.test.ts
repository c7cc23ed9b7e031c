import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { type ByteSource, GzipFileSource, readHead } from './byte-source.js';

async function readAll(source: ByteSource): Promise<string> {
  const buf = Buffer.alloc(7000);
  const parts: Buffer[] = [];
  for (let pos = 0, n = 1; n > 0; pos += n) {
    n = await source.read(buf, 0, buf.length, pos);
    parts.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(parts).toString();
}

test('a .gz file renamed after it was opened (docker shifts .1.gz to .2.gz) is still the one read', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'byte-source-'));
  try {
    const mine = Array.from({ length: 3000 }, (_, i) => `mine ${i}\n`).join('');
    const path = join(dir, 'x-json.log.1.gz');
    writeFileSync(path, gzipSync(mine));
    const source = await GzipFileSource.open(path);
    // A look at the head drops the decompression state; the next read starts over.
    assert.equal((await readHead(source, 6)).toString(), 'mine 0');
    renameSync(path, join(dir, 'x-json.log.2.gz'));
    writeFileSync(path, gzipSync('another file\n'));
    assert.equal(await readAll(source), mine);
    // Reading backwards restarts too, on the same file.
    const buf = Buffer.alloc(6);
    assert.equal(await source.read(buf, 0, 6, 0), 6);
    assert.equal(buf.toString(), 'mine 0');
    await source.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
