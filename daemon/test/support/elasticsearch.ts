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

/**
 * The version the test Elasticsearch must report: ES_VERSION when the test command set it (the
 * pass against 9.x, whose own nodes start that version too), else any 8.x or 9.x.
 */
export function expectedEsVersion(): RegExp {
  const wanted = process.env.ES_VERSION;
  return wanted ? new RegExp(`^${wanted.replaceAll('.', '\\.')}$`) : /^(8|9)\.\d+\.\d+$/;
}

export function testClient(): Client {
  return new Client({ node: testEsUrl(), requestTimeout: 30_000 });
}

/**
 * The environment for scripts/elasticsearch.sh to start a node of a test's own on `port`: one that
 * lives for a test only starts with the C1 compiler alone, about half the CPU of a full start (the
 * suite runs on two Node versions at once on two cores).
 */
export function ownNodeEnv(port: number | string, more: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ES_PORT: String(port), ES_JAVA_EXTRA_OPTS: '-XX:TieredStopAtLevel=1', ...more };
}

/** A lower-case prefix unique to this test run, so reruns against a reused node never collide. */
export function uniquePrefix(label: string): string {
  return `test-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * What the counting helpers need of a cluster. The Elasticsearch client refuses to talk to
 * OpenSearch (its product check), so for that one it is plain HTTP (see opensearch.ts).
 */
export interface Searcher {
  /** Refreshes, then searches `index` with `body`; the response's aggregations. */
  aggregate(index: string, body: Record<string, unknown>): Promise<Record<string, unknown> | undefined>;
}

function searcherOf(cluster: Client | Searcher): Searcher {
  if (!(cluster instanceof Client)) return cluster;
  return {
    aggregate: async (index, body) => {
      await cluster.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true });
      return (await cluster.search({ index, size: 0, ...body })).aggregations as Record<string, unknown>;
    },
  };
}

/** Documents per index kind under `prefix` (after a refresh). */
export async function countsByKind(
  cluster: Client | Searcher,
  prefix: string,
): Promise<Record<string, number>> {
  const aggregations = await searcherOf(cluster).aggregate(`${prefix}-*`, {
    aggs: { by_index: { terms: { field: '_index', size: 100 } } },
  });
  const out: Record<string, number> = {};
  const buckets =
    (aggregations?.by_index as { buckets: { key: string; doc_count: number }[] } | undefined)?.buckets ?? [];
  for (const b of buckets) {
    const kind = b.key.slice(prefix.length + 1).replace(/-\d{4}\.\d{2}\.\d{2}$/, '');
    out[kind] = (out[kind] ?? 0) + b.doc_count;
  }
  return out;
}

/**
 * Documents under `prefix` that share their line — the same container (pod uid), offset and
 * runtime time — with another: a line indexed twice under two ids. Counts alone would miss a
 * duplicate that a lost line of the same kind balances.
 */
export async function linesIndexedTwice(cluster: Client | Searcher, prefix: string): Promise<string[]> {
  const searcher = searcherOf(cluster);
  const twice: string[] = [];
  let after: Record<string, string | number> | undefined;
  for (;;) {
    const aggregations = await searcher.aggregate(`${prefix}-*`, {
      aggs: {
        lines: {
          composite: {
            size: 10_000,
            sources: [
              // Without the API, a docker file's path names no pod uid: such lines go without.
              { uid: { terms: { field: 'kubernetes.pod.uid', missing_bucket: true } } },
              { offset: { terms: { field: 'log.offset' } } },
              { time: { terms: { field: 'log.time' } } },
            ],
            ...(after === undefined ? {} : { after }),
          },
        },
      },
    });
    const agg = aggregations?.lines as
      | {
          buckets: { key: Record<string, string | number>; doc_count: number }[];
          after_key?: Record<string, string | number>;
        }
      | undefined;
    for (const b of agg?.buckets ?? []) if (b.doc_count > 1) twice.push(JSON.stringify(b.key));
    if (agg?.after_key === undefined || agg.buckets.length === 0) return twice;
    after = agg.after_key;
  }
}

/** Removes everything a test made under `prefix`. */
export async function cleanUp(client: Client, prefix: string): Promise<void> {
  await client.indices
    .delete({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true })
    .catch(() => undefined);
  await client.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => undefined);
}
