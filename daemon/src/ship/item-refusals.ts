// What a bulk item's answer means for its document. Only a refusal that is the document's own
// fault (a mapping or parse error) may take it out of the main indices: that is final, and its
// file's checkpoint moves past it. A refusal that comes from the cluster's state or its
// configuration (a write block, missing privileges, index auto-creation turned off, the shard
// limit reached, a closed index) would refuse every document alike and accept them all once an
// operator fixes it: dead-lettering those would move the security evidence of a whole outage into
// the bounded local file (the dead-letter index is refused too), where the oldest is overwritten.
// They are retried without limit, like a 429, and logged with Elasticsearch's reason.
import type { ElasticsearchRequester } from './elasticsearch-http.js';

export interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string };
}

export type ItemHandling = 'indexed' | 'already_present' | 'retry' | 'reject';

/** Error types that say nothing about the document. Our ids and index names are always valid, so
 * a `validation_exception` on a create is the cluster's shard limit. */
const CLUSTER_REFUSALS: ReadonlySet<string> = new Set([
  'cluster_block_exception',
  'index_closed_exception',
  'index_not_found_exception',
  'security_exception',
  'validation_exception',
  'no_shard_available_action_exception',
  'unavailable_shards_exception',
]);

// Not authenticated, not authorized (or blocked), no such index, timed out.
const CLUSTER_STATUSES: ReadonlySet<number> = new Set([401, 403, 404, 408]);

/**
 * Refusals whose type also covers a document's own faults, told apart by Elasticsearch's words: a
 * default or final pipeline set on the index that does not exist (an administrator's setting),
 * or one that no node can run.
 */
function isClusterReason(reason: string | undefined): boolean {
  if (reason === undefined) return false;
  return (
    (reason.startsWith('pipeline with id [') && reason.endsWith('] does not exist')) ||
    reason.startsWith('There are no ingest nodes in this cluster')
  );
}

/** `undefined`: the response had no item for the document (a short response); it is sent again. */
export function itemHandling(item: BulkItemResult | undefined): ItemHandling {
  const status = item?.status ?? 0;
  if (status >= 200 && status < 300) return 'indexed';
  if (status === 409) return 'already_present';
  if (status === 0 || status === 429 || status >= 500 || CLUSTER_STATUSES.has(status)) return 'retry';
  const type = item?.error?.type;
  if (type !== undefined && CLUSTER_REFUSALS.has(type)) return 'retry';
  return isClusterReason(item?.error?.reason) ? 'retry' : 'reject';
}

/**
 * A document refused for its size: a request with it alone was answered 413 (a proxy's body limit,
 * or `http.max_content_length`). No retry makes it smaller.
 */
export const TOO_LARGE: BulkItemResult = Object.freeze({
  status: 413,
  error: {
    type: 'request_entity_too_large',
    reason: 'a request with this document alone was refused as too large (413)',
  },
});

/** Whether a whole request was refused for its size (413). */
export function isRequestTooLarge(err: unknown): boolean {
  return (err as { meta?: { statusCode?: number } }).meta?.statusCode === 413;
}

/** Elasticsearch's own words for a refused item, for the log. */
export function describeItem(item: BulkItemResult | undefined): string {
  if (item === undefined) return 'no answer for the item';
  const { type = 'error', reason = '' } = item.error ?? {};
  return `${item.status} ${type}: ${reason}`.slice(0, 500);
}

/** Whether the item was refused because its index does not exist (auto-creation is off for it). */
export function isMissingIndex(item: BulkItemResult | undefined): boolean {
  return item?.error?.type === 'index_not_found_exception';
}

/**
 * Creates the indices: where `action.auto_create_index` leaves ours out, the shipper's role may
 * still create them (`create_index`), and the templates apply as they would have. One already
 * there (another shipper was first) is fine; any other failure throws, and the documents wait
 * for the next retry.
 */
export async function createIndices(es: ElasticsearchRequester, names: Iterable<string>): Promise<void> {
  for (const name of names) {
    try {
      await es.request('PUT', `/${encodeURIComponent(name)}`);
    } catch (err) {
      const type = (err as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error?.type;
      if (type !== 'resource_already_exists_exception') throw err;
    }
  }
}
