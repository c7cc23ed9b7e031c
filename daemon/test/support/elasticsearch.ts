// Access to the real Elasticsearch the test command started (scripts/test.sh sets TEST_ES_URL).
import { randomBytes } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';

export function testEsUrl(): string {
  const url = process.env.TEST_ES_URL;
  if (!url) {
    throw new Error(
      'TEST_ES_URL is not set: run the suite with `npm test`, or start one with `npm run es:start`',
    );
  }
  return url;
}

export function testClient(): Client {
  return new Client({ node: testEsUrl(), requestTimeout: 30_000 });
}

/** A lower-case prefix unique to this test run, so reruns against a reused node never collide. */
export function uniquePrefix(label: string): string {
  return `test-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}
