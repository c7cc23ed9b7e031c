// `dashboards import` against a stand-in that follows Kibana's documented import API.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NDJSON_PATH } from '../../../dashboards/build.js';
import { loopbackCertificate, loopbackCloudId } from '../support/cloud-id.js';
import { startKibanaStandIn } from '../support/kibana-stand-in.js';
import { runShipper } from '../support/shipper-process.js';

const committed = readFileSync(NDJSON_PATH, 'utf8').trim().split('\n');

test('waits for Kibana, imports every object with overwrite, prints what was imported', async () => {
  const kibana = await startKibanaStandIn({ notReadyFor: 2 });
  try {
    const run = await runShipper(
      ['dashboards', 'import', '--kibana-url', `${kibana.url}/`, '--wait-seconds', '30'],
      {
        KIBANA_USERNAME: 'elastic',
        KIBANA_PASSWORD: 'changeme',
      },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /waiting for Kibana \(status 503, unavailable\)/);
    assert.equal(kibana.imports.length, 1);
    const request = kibana.imports[0];
    assert.deepEqual(request?.lines, committed);
    assert.equal(request?.filename, 'kubearmor.ndjson');
    assert.equal(request?.query.get('overwrite'), 'true');
    assert.equal(request?.query.get('compatibilityMode'), null);
    assert.equal(request?.space, undefined);
    assert.equal(request?.authorization, `Basic ${Buffer.from('elastic:changeme').toString('base64')}`);
    assert.match(run.stdout, /imported dashboard kubearmor-alerts \(KubeArmor — Alerts\)/);
    assert.match(run.stdout, /5 objects imported/);
  } finally {
    kibana.server.close();
  }
});

test('into a space: /s/<space> with compatibilityMode, API key auth', async () => {
  const kibana = await startKibanaStandIn({ notReadyFor: 0 });
  try {
    const run = await runShipper(['dashboards', 'import', '--kibana-url', kibana.url, '--space', 'team-a'], {
      KIBANA_API_KEY: 'a2V5OnNlY3JldA==',
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(kibana.imports[0]?.space, 'team-a');
    assert.equal(kibana.imports[0]?.query.get('compatibilityMode'), 'true');
    assert.equal(kibana.imports[0]?.authorization, 'ApiKey a2V5OnNlY3JldA==');
  } finally {
    kibana.server.close();
  }
});

test('errors[] in a 200 answer fail the command; so does a Kibana that never gets ready', async () => {
  const kibana = await startKibanaStandIn({ notReadyFor: 0, conflictIds: new Set(['kubearmor-logs']) });
  try {
    const run = await runShipper(['dashboards', 'import', '--kibana-url', kibana.url]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /failed dashboard kubearmor-logs: conflict/);
    assert.match(run.stdout, /the import had errors/);
  } finally {
    kibana.server.close();
  }
  const never = await startKibanaStandIn({ notReadyFor: 1000 });
  try {
    const run = await runShipper(['dashboards', 'import', '--kibana-url', never.url, '--wait-seconds', '3']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /was not ready within 3 s/);
    assert.equal(never.imports.length, 0);
  } finally {
    never.server.close();
  }
});

test("Kibana from a Cloud ID (--cloud-id, or the shipper's $ES_CLOUD_ID), over verified TLS", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kibana-tls-'));
  const tls = await loopbackCertificate(dir);
  const kibana = await startKibanaStandIn({ notReadyFor: 0, tls });
  const port = Number(new URL(kibana.url).port);
  // Trusted the way a user trusts a private CA; Elastic Cloud's certificates need nothing.
  const trust = { NODE_EXTRA_CA_CERTS: tls.certFile, KIBANA_URL: undefined, ES_CLOUD_ID: undefined };
  try {
    const cloudId = loopbackCloudId(port, { es: true, kibana: true });
    const byFlag = await runShipper(['dashboards', 'import', '--cloud-id', cloudId], trust);
    assert.equal(byFlag.code, 0, byFlag.stderr);
    assert.match(byFlag.stdout, new RegExp(`5 objects imported into https://127\\.0\\.0\\.1:${port}\n`));
    const byEnv = await runShipper(['dashboards', 'import'], { ...trust, ES_CLOUD_ID: cloudId });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    assert.equal(kibana.imports.length, 2);
    assert.deepEqual(kibana.imports[1]?.lines, committed);

    // Not trusted: the certificate is checked.
    const unverified = await runShipper(
      ['dashboards', 'import', '--cloud-id', cloudId, '--wait-seconds', '0'],
      {
        KIBANA_URL: undefined,
        ES_CLOUD_ID: undefined,
      },
    );
    assert.equal(unverified.code, 1);
    assert.match(unverified.stderr, /fetch failed: self[- ]signed certificate/i);
    assert.equal(kibana.imports.length, 2);

    // $KIBANA_URL is the more particular setting; flags are said twice only by mistake.
    const named = await runShipper(['dashboards', 'import', '--wait-seconds', '0'], {
      ...trust,
      KIBANA_URL: 'http://127.0.0.1:2',
      ES_CLOUD_ID: cloudId,
    });
    assert.equal(named.code, 1);
    assert.match(
      named.stderr,
      /Kibana at http:\/\/127\.0\.0\.1:2 was not ready .*\(fetch failed: connect ECONNREFUSED/,
    );
    const both = await runShipper(
      ['dashboards', 'import', '--cloud-id', cloudId, '--kibana-url', kibana.url],
      trust,
    );
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give --kibana-url or --cloud-id, not both/);
    const noKibana = await runShipper(
      ['dashboards', 'import', '--cloud-id', loopbackCloudId(port, { es: true, kibana: false })],
      trust,
    );
    assert.equal(noKibana.code, 2);
    assert.match(noKibana.stderr, /the Cloud ID of --cloud-id names no Kibana: give --kibana-url/);
    const garbled = await runShipper(['dashboards', 'import'], { ...trust, ES_CLOUD_ID: 'x:not*base64' });
    assert.equal(garbled.code, 2);
    assert.match(garbled.stderr, /\$ES_CLOUD_ID is not a Cloud ID: not base64 after the name/);
    assert.equal(kibana.imports.length, 2);
  } finally {
    kibana.server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
