// `dashboards import` against a stand-in that follows Kibana's documented import API.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { NDJSON_PATH } from '../../../dashboards/build.js';
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
