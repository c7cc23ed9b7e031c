import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { inClusterConnection, kubeconfigConnection, kubeconfigPath } from './kubernetes-connection.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubeconn-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function kubeconfig(name: string, cluster: object, user: object): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'other', cluster: { server: 'https://wrong:1' } },
        { name: 'c', cluster },
      ],
      users: [{ name: 'u', user }],
      contexts: [
        { name: 'x', context: { cluster: 'other', user: 'u' } },
        { name: 'ctx', context: { cluster: 'c', user: 'u' } },
      ],
      'current-context': 'ctx',
    }),
  );
  return path;
}

test('a kubeconfig: the current context, CA from a relative file or inline data, token, client certificate', async () => {
  await writeFile(join(dir, 'ca.crt'), 'CA PEM');
  const byFile = await kubeconfigConnection(
    await kubeconfig(
      'a',
      { server: 'https://10.0.0.1:6443/', 'certificate-authority': 'ca.crt' },
      { token: 't0k' },
    ),
  );
  assert.ok(byFile !== 'plugin');
  assert.equal(byFile.server, 'https://10.0.0.1:6443');
  assert.equal(byFile.ca?.toString(), 'CA PEM');
  assert.equal(byFile.token(), 't0k');
  assert.equal(byFile.verify, true);

  const inline = await kubeconfigConnection(
    await kubeconfig(
      'b',
      {
        server: 'https://k:443',
        'certificate-authority-data': Buffer.from('CA2').toString('base64'),
        'insecure-skip-tls-verify': true,
      },
      {
        'client-certificate-data': Buffer.from('CERT').toString('base64'),
        'client-key-data': Buffer.from('KEY').toString('base64'),
      },
    ),
  );
  assert.ok(inline !== 'plugin');
  assert.equal(inline.ca?.toString(), 'CA2');
  assert.equal(inline.cert?.toString(), 'CERT');
  assert.equal(inline.key?.toString(), 'KEY');
  assert.equal(inline.verify, false);
  assert.equal(inline.token(), undefined);
});

test('exec plugins and auth providers are left to client-node; a broken kubeconfig says what is missing', async () => {
  const exec = {
    exec: { command: 'aws', args: ['eks', 'get-token'], apiVersion: 'client.authentication.k8s.io/v1' },
  };
  assert.equal(await kubeconfigConnection(await kubeconfig('c', { server: 'https://k' }, exec)), 'plugin');
  assert.equal(
    await kubeconfigConnection(
      await kubeconfig('d', { server: 'https://k' }, { 'auth-provider': { name: 'oidc' } }),
    ),
    'plugin',
  );
  const path = join(dir, 'e');
  await writeFile(path, stringify({ contexts: [], 'current-context': 'nope' }));
  await assert.rejects(kubeconfigConnection(path), /no context named nope/);
});

test('in the cluster: the service host and port, the account CA, the token re-read once a minute', async () => {
  const sa = join(dir, 'sa');
  await (await import('node:fs/promises')).mkdir(sa);
  await writeFile(join(sa, 'token'), 'first\n');
  await writeFile(join(sa, 'ca.crt'), 'SA CA');
  let now = 1_000_000;
  const env = { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' };
  const c = inClusterConnection(env, sa, () => now);
  assert.equal(c.server, 'https://[fd00::1]:443');
  assert.equal(c.ca?.toString(), 'SA CA');
  assert.equal(c.token(), 'first');
  // The kubelet rotates the file; the new token is used within a minute.
  await writeFile(join(sa, 'token'), 'second\n');
  now += 30_000;
  assert.equal(c.token(), 'first');
  now += 30_000;
  assert.equal(c.token(), 'second');
  assert.throws(() => inClusterConnection({}, sa), /not in a cluster/);
  assert.throws(() => inClusterConnection(env, join(dir, 'nowhere')), /ENOENT/);
});

test('which kubeconfig: the option, else $KUBECONFIG, else ~/.kube/config if there, else none', async () => {
  assert.equal(kubeconfigPath('/a', { KUBECONFIG: '/b' }), '/a');
  assert.equal(kubeconfigPath(undefined, { KUBECONFIG: '/b', HOME: dir }), '/b');
  assert.equal(kubeconfigPath(undefined, { HOME: dir }), undefined);
  await (await import('node:fs/promises')).mkdir(join(dir, '.kube'));
  await writeFile(join(dir, '.kube', 'config'), '{}');
  assert.equal(kubeconfigPath(undefined, { HOME: dir }), join(dir, '.kube', 'config'));
});
