import { type ShippableRecord, serializeDocument } from '../../src/parse/kubearmor-record.js';

/** A record's document as Elasticsearch gets it. */
export function documentOf(record: ShippableRecord): Record<string, unknown> {
  return JSON.parse(serializeDocument(record)) as Record<string, unknown>;
}

/** A record to keep past its hand-over: its body copied out of the reader's buffer, as a consumer must. */
export function keptRecord(record: ShippableRecord): ShippableRecord {
  const body = Buffer.from(record.body.subarray(record.bodyFrom, record.bodyTo));
  return { ...record, body, bodyFrom: 0, bodyTo: body.length };
}
