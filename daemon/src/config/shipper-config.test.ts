import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ConfigError,
  configFromEnv,
  configFromFile,
  layerConfig,
  mergeConfig,
  redactConfig,
  validateConfig,
} from './shipper-config.js';

test('defaults make a valid configuration', () => {
  const config = validateConfig({});
  assert.deepEqual(config.paths, ['/var/log/containers/kubearmor-relay-*.log']);
  assert.equal(config.elasticsearch.tlsVerify, true);
  assert.equal(config.elasticsearch.compression, true);
  assert.equal(config.batch.maxInFlight, 2);
});

test('file < environment < flags, objects merged key by key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  try {
    const file = join(dir, 'shipper.yaml');
    await writeFile(
      file,
      'indexPrefix: fromfile\nelasticsearch:\n  url: http://file:9200\n  replicas: 0\nbatch:\n  maxDocs: 10\n',
    );
    const env = configFromEnv({
      ES_URL: 'http://env:9200',
      NODE_NAME: 'node-7',
      SHIPPER_PATHS: '/a/*.log, /b/*.log',
    });
    const config = validateConfig(
      mergeConfig(await configFromFile(file), env, { elasticsearch: { url: 'http://flag:9200' } }),
    );
    assert.equal(config.indexPrefix, 'fromfile');
    assert.deepEqual(config.elasticsearch.url, ['http://flag:9200']);
    assert.equal(config.elasticsearch.replicas, 0);
    assert.equal(config.nodeName, 'node-7');
    assert.deepEqual(config.paths, ['/a/*.log', '/b/*.log']);
    assert.equal(config.batch.maxDocs, 10);
    assert.equal(config.batch.maxBytes, 2 << 20);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a Cloud ID gives the URL; it and the URL are one setting, the later source's spelling wins", () => {
  const cloudId = `prod:${Buffer.from('eu-west-1.aws.found.io$es7$kb7').toString('base64')}`;
  const fromFile = { elasticsearch: { url: 'https://es-http.kubearmor-logging:9200', replicas: 2 } };
  const viaEnv = validateConfig(layerConfig(fromFile, configFromEnv({ ES_CLOUD_ID: cloudId }), {}));
  assert.deepEqual(viaEnv.elasticsearch.url, ['https://es7.eu-west-1.aws.found.io']);
  assert.equal(viaEnv.elasticsearch.cloudId, cloudId);
  assert.equal(viaEnv.elasticsearch.replicas, 2);
  // A URL flag over the environment's Cloud ID.
  const viaFlag = validateConfig(
    layerConfig(fromFile, configFromEnv({ ES_CLOUD_ID: cloudId }), {
      elasticsearch: { url: 'https://other:9200' },
    }),
  );
  assert.deepEqual(viaFlag.elasticsearch.url, ['https://other:9200']);
  assert.equal(viaFlag.elasticsearch.cloudId, undefined);
  // Only the two spellings are layered so: everything else merges as before.
  assert.deepEqual(layerConfig({ a: 1, elasticsearch: { replicas: 0 } }, { b: 2 }), {
    a: 1,
    b: 2,
    elasticsearch: { replicas: 0 },
  });
});

test("several URLs: the cluster's nodes, as a list or with commas", () => {
  const nodes = ['https://es-0.example:9200', 'https://es-1.example:9200'];
  assert.deepEqual(validateConfig({}).elasticsearch.url, ['http://127.0.0.1:9200']);
  assert.deepEqual(validateConfig({ elasticsearch: { url: nodes } }).elasticsearch.url, nodes);
  const fromEnv = configFromEnv({ ES_URL: 'https://es-0.example:9200, https://es-1.example:9200' });
  assert.deepEqual(validateConfig(fromEnv).elasticsearch.url, nodes);
  assert.throws(
    () => validateConfig({ elasticsearch: { url: [nodes[0], 'es-1:9200'] } }),
    /elasticsearch\.url\.1: an http:\/\/ or https:\/\/ URL/,
  );
  assert.throws(
    () => validateConfig({ elasticsearch: { url: 'not a url' } }),
    /elasticsearch\.url\.0: Invalid URL/,
  );
  assert.throws(() => validateConfig({ elasticsearch: { url: [] } }), /elasticsearch\.url: Too small/);
  assert.throws(() => validateConfig({ elasticsearch: { url: ' , ' } }), /elasticsearch\.url: Too small/);
});

test('errors name the bad key', () => {
  const message = (raw: Record<string, unknown>) => {
    try {
      validateConfig(raw);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.message;
    }
    assert.fail('expected an error');
  };
  assert.match(message({ batch: { maxDocs: -1 } }), /batch\.maxDocs/);
  assert.match(message({ elasticsearch: { url: 'not a url' } }), /elasticsearch\.url/);
  assert.match(message({ elasticsearch: { urll: 'http://x' } }), /unknown setting "elasticsearch\.urll"/);
  assert.match(message({ indexPrefix: 'Upper' }), /indexPrefix/);
  assert.match(message({ startAt: 'middle' }), /startAt/);
  assert.match(
    message({ elasticsearch: { username: 'u' } }),
    /username and elasticsearch\.password go together/,
  );
  assert.throws(() => configFromEnv({ ES_TLS_VERIFY: 'maybe' }), /ES_TLS_VERIFY/);
  assert.match(
    message({ elasticsearch: { cloudId: 'prod:bm90IGFuIGlk' } }),
    /elasticsearch\.cloudId: not a Cloud ID: it decodes to fewer than three/,
  );
  // Both in one source (here the YAML file): which one was meant cannot be told.
  const cloudId = Buffer.from('cloud.example$es$kb').toString('base64');
  for (const raw of [
    { elasticsearch: { url: 'https://a:9200', cloudId } },
    layerConfig({ elasticsearch: { url: 'https://a:9200', cloudId } }, {}),
  ])
    assert.match(message(raw), /elasticsearch\.url and elasticsearch\.cloudId both name the cluster/);
});

test('secrets are redacted for printing', () => {
  const config = validateConfig({ elasticsearch: { username: 'elastic', password: 's3cret' } });
  const printed = JSON.stringify(redactConfig(config));
  assert.ok(!printed.includes('s3cret'));
  assert.match(printed, /"password":"\[redacted\]"/);
  const withKey = JSON.stringify(
    redactConfig(validateConfig({ elasticsearch: { apiKey: 'a2V5OnNlY3JldA==' } })),
  );
  assert.ok(!withKey.includes('a2V5OnNlY3JldA=='));
});
