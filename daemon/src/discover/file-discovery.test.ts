import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative as relativePath } from 'node:path';
import { after, before, test } from 'node:test';
import { FileDiscovery } from './file-discovery.js';
import { pathRegExp, segmentRegExp } from './glob.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'discover-'));
  const pod = join(root, 'pods', 'kubearmor_kubearmor-relay-abc_uid', 'kubearmor-relay-server');
  mkdirSync(pod, { recursive: true });
  mkdirSync(join(root, 'containers'));
  writeFileSync(join(pod, '0.log'), 'x\n');
  writeFileSync(join(pod, '0.log.20240101-000000.gz'), 'x');
  symlinkSync(
    join(pod, '0.log'),
    join(root, 'containers', 'kubearmor-relay-abc_kubearmor_kubearmor-relay-server-1.log'),
  );
  symlinkSync(join(pod, '0.log'), join(root, 'containers', 'kubearmor-relay-abc_kubearmor_other-2.log'));
  symlinkSync(join(root, 'gone.log'), join(root, 'containers', 'kubearmor-relay-dangling.log'));
  writeFileSync(join(root, 'containers', 'nginx_default_nginx-3.log'), 'y\n');
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('segment and path patterns', () => {
  assert.ok(segmentRegExp('kubearmor-relay-*.log').test('kubearmor-relay-6b9d8c7f5-x2x4k_kubearmor_x-1.log'));
  assert.ok(!segmentRegExp('kubearmor-relay-*.log').test('kubearmor-relay-x.log.1'));
  assert.ok(segmentRegExp('?.log').test('0.log'));
  assert.ok(segmentRegExp('[0-9].log').test('7.log'));
  assert.ok(!segmentRegExp('[!0-9].log').test('7.log'));
  assert.ok(segmentRegExp('a+b(c).log').test('a+b(c).log'));
  assert.ok(pathRegExp('/var/log/**').test('/var/log/pods/a/b/0.log'));
  assert.ok(pathRegExp('/var/**/0.log').test('/var/log/pods/a/0.log'));
  assert.ok(!pathRegExp('/var/*/0.log').test('/var/log/pods/0.log'));
});

test('symlinks are followed; one file found once; dangling links and .gz files skipped', async () => {
  const found = await new FileDiscovery([join(root, 'containers', 'kubearmor-relay-*.log')], []).scan();
  assert.equal(found.length, 1);
  assert.equal(
    found[0]?.path,
    join(root, 'containers', 'kubearmor-relay-abc_kubearmor_kubearmor-relay-server-1.log'),
  );
  assert.match(found[0]?.realPath ?? '', /kubearmor-relay-server\/0\.log$/);
  const all = await new FileDiscovery([join(root, '**', '*')], []).scan();
  assert.ok(all.every((f) => !f.realPath.endsWith('.gz')));
});

test('several include globs and excludes; relative globs start at the working directory', async () => {
  const relativeGlob = join(relativePath(process.cwd(), root), 'containers', 'nginx_*.log');
  const found = await new FileDiscovery(
    [join(root, 'containers', 'kubearmor-relay-*.log'), join(root, 'containers', 'nginx_*.log')],
    [join(root, 'containers', 'nginx_*')],
  ).scan();
  assert.deepEqual(
    found.map((f) => f.realPath.endsWith('0.log')),
    [true],
  );
  const relative = await new FileDiscovery([relativeGlob], []).scan();
  assert.equal(relative.length, 1);
});

test('a matched path that cannot be read is reported, with the first missing target on its way (a directory not mounted); a file simply gone is not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'discover-unreachable-'));
  try {
    // kubelet's chain under cri-dockerd: containers/ → pods/…/0.log → docker/containers/<id>/<id>-json.log,
    // the last directory not mounted.
    mkdirSync(join(dir, 'containers'));
    mkdirSync(join(dir, 'pods'));
    const dockerFile = join(dir, 'docker', 'containers', 'abc', 'abc-json.log');
    symlinkSync(dockerFile, join(dir, 'pods', '0.log'));
    symlinkSync(join(dir, 'pods', '0.log'), join(dir, 'containers', 'relay-1.log'));
    symlinkSync(join(dir, 'containers', 'relay-loop.log'), join(dir, 'containers', 'relay-loop.log'));
    writeFileSync(join(dir, 'containers', 'relay-2.log'), 'x\n');
    const discovery = new FileDiscovery([join(dir, 'containers', 'relay-*.log')], []);
    const found = await discovery.scan();
    assert.deepEqual(
      found.map((f) => f.path),
      [join(dir, 'containers', 'relay-2.log')],
    );
    assert.deepEqual(discovery.unreachable(), [
      { path: join(dir, 'containers', 'relay-1.log'), target: dockerFile, code: 'ENOENT' },
      {
        path: join(dir, 'containers', 'relay-loop.log'),
        target: join(dir, 'containers', 'relay-loop.log'),
        code: 'ELOOP',
      },
    ]);
    // Mounted after all: reachable, and no longer reported.
    mkdirSync(join(dir, 'docker', 'containers', 'abc'), { recursive: true });
    writeFileSync(dockerFile, 'y\n');
    await rm(join(dir, 'containers', 'relay-loop.log'));
    assert.equal((await discovery.scan()).length, 2);
    assert.deepEqual(discovery.unreachable(), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
