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

test('generate --relay-stdout off writes a relay that prints only its own log; another value is a usage error', async () => {
  const { mkdtemp, readdir, readFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'cli-generate-'));
  const write = process.stderr.write;
  process.stderr.write = () => true;
  try {
    const out = join(dir, 'quiet');
    assert.equal(await main(['generate', '--out', out, '--lines', '20', '--relay-stdout', 'off']), 0);
    const [pod] = await readdir(join(out, 'pods'));
    const lines = (
      await readFile(join(out, 'pods', pod as string, 'kubearmor-relay-server', '0.log'), 'utf8')
    )
      .trimEnd()
      .split('\n');
    assert.equal(lines.length, 20);
    for (const line of lines) assert.match(line, / stderr F /);
    assert.equal(await main(['generate', '--out', join(dir, 'x'), '--relay-stdout', 'false']), 2);
  } finally {
    process.stderr.write = write;
    await rm(dir, { recursive: true, force: true });
  }
});
