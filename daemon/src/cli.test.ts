import assert from 'node:assert/strict';
import { test } from 'node:test';
import { main } from './cli.js';
import { VERSION } from './version.js';

test('the version is the package version', async () => {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  assert.equal(VERSION, pkg.version);
});

test('an unknown command exits 2', async () => {
  const write = process.stderr.write;
  process.stderr.write = () => true;
  try {
    assert.equal(await main(['no-such-command']), 2);
  } finally {
    process.stderr.write = write;
  }
});
