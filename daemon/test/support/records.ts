import { type ShippableRecord, serializeDocument } from '../../src/parse/kubearmor-record.js';

/** A record's document as Elasticsearch gets it. */
export function documentOf(record: ShippableRecord): Record<string, unknown> {
  return JSON.parse(serializeDocument(record)) as Record<string, unknown>;
}
