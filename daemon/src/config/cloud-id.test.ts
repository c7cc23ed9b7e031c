import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloudIdError, decodeCloudId } from './cloud-id.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

test('a Cloud ID gives the https URLs of Elasticsearch and Kibana, port 443 unless given', () => {
  assert.deepEqual(decodeCloudId(`my-deployment:${b64('us-east-1.aws.found.io$abc123$def456')}`), {
    elasticsearchUrl: 'https://abc123.us-east-1.aws.found.io',
    kibanaUrl: 'https://def456.us-east-1.aws.found.io',
  });
  // Without the name; the host's port is the default of both.
  assert.deepEqual(decodeCloudId(b64('eastus2.azure.elastic-cloud.com:9243$es1$kb1')), {
    elasticsearchUrl: 'https://es1.eastus2.azure.elastic-cloud.com:9243',
    kibanaUrl: 'https://kb1.eastus2.azure.elastic-cloud.com:9243',
  });
  // A port of their own wins; a name with colons: only what follows the last one is the ID.
  assert.deepEqual(decodeCloudId(`prod:eu:${b64('cloud.example:9243$es1:9200$kb1')}`), {
    elasticsearchUrl: 'https://es1.cloud.example:9200',
    kibanaUrl: 'https://kb1.cloud.example:9243',
  });
  // Base64 without its padding, parts after the third, and no Kibana.
  const unpadded = b64('cloud.example$es12$$apm').replace(/=+$/, '');
  assert.notEqual(unpadded, b64('cloud.example$es12$$apm'));
  assert.deepEqual(decodeCloudId(unpadded), { elasticsearchUrl: 'https://es12.cloud.example' });
  // Upper case is the same host, given as the URL parser writes it.
  assert.equal(decodeCloudId(b64('Cloud.Example$ES1$kb')).elasticsearchUrl, 'https://es1.cloud.example');
});

test('what is not a Cloud ID says why, and is never half-read', () => {
  const reason = (id: string) => {
    try {
      decodeCloudId(id);
    } catch (err) {
      assert.ok(err instanceof CloudIdError, String(err));
      return err.message;
    }
    assert.fail(`${id} was taken`);
  };
  assert.match(reason('my-deployment:'), /nothing after the name/);
  // A URL pasted where the ID goes; Buffer's decoder would skip what is not base64 and read on.
  assert.match(reason('https://es.example:9200'), /that is a URL/);
  assert.match(reason(`x:${b64('cloud.example$es1$kb1')}!`), /not base64/);
  assert.match(reason(`x:${b64('cloud.example$es1')}`), /fewer than three/);
  assert.match(reason(b64('$es1$kb1')), /no host/);
  assert.match(reason(b64('cloud.example$$kb1')), /no Elasticsearch/);
  assert.match(reason(b64('cloud.example:https$es1$kb1')), /"https" in "cloud.example:https" is not a port/);
  assert.match(reason(b64('cloud.example:70000$es1$kb1')), /not a port/);
  assert.match(reason(b64('cloud.example$es1:0$kb1')), /not a port/);
  for (const bad of ['cloud.example/path$es1$kb1', 'cloud example$es1$kb1', 'cloud.example$user@es1$kb1'])
    assert.match(reason(b64(bad)), /is not a host name/, bad);
  // An address the URL parser would rewrite (127.1 is 127.0.0.1) is not taken as given either.
  assert.match(reason(b64('1$127$kb')), /is not a host name/);
});
