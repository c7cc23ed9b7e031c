// Access to the real OpenSearch the test command started (scripts/test.sh sets TEST_OPENSEARCH_URL),
// over plain HTTP: the Elasticsearch client refuses any other product.
import type { Searcher } from './elasticsearch.js';

export function testOpenSearchUrl(): string {
  const url = process.env.TEST_OPENSEARCH_URL;
  if (!url) {
    throw new Error(
      'TEST_OPENSEARCH_URL is not set: run the suite with `npm test`, or start one with ' +
        '`ES_DISTRIBUTION=opensearch ES_PORT=9280 bash scripts/elasticsearch.sh start --keep`',
    );
  }
  return url;
}

/** One request; its JSON answer. Anything but 2xx throws, with the answer. */
export async function openSearch(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(
    `${testOpenSearchUrl()}${path}`,
    body === undefined
      ? { method }
      : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
  );
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
  return text === '' ? undefined : JSON.parse(text);
}

export const openSearchSearcher: Searcher = {
  aggregate: async (index, body) => {
    await openSearch('POST', `/${index}/_refresh?ignore_unavailable=true&allow_no_indices=true`);
    const res = (await openSearch('POST', `/${index}/_search?size=0`, body)) as {
      aggregations?: Record<string, unknown>;
    };
    return res.aggregations;
  },
};

/** Removes everything a test made under `prefix`. */
export async function cleanUpOpenSearch(prefix: string): Promise<void> {
  await openSearch('DELETE', `/${prefix}-*?ignore_unavailable=true&allow_no_indices=true`).catch(() => {});
  await openSearch('DELETE', `/_index_template/${prefix}-*`).catch(() => {});
}
