import { type ShippableRecord, serializeDocument } from '../../src/parse/kubearmor-record.js';

/** A record's document as Elasticsearch gets it. */
export function documentOf(record: ShippableRecord): Record<string, unknown> {
  return JSON.parse(serializeDocument(record)) as Record<string, unknown>;
}

/** A record to keep past its hand-over: its body and tail copied out of the reused buffers, as a consumer must. */
export function keptRecord(record: ShippableRecord): ShippableRecord {
  const body = Buffer.from(record.body.subarray(record.bodyFrom, record.bodyTo));
  const tail = Buffer.from(record.tail.subarray(0, record.tailTo));
  return { ...record, body, bodyFrom: 0, bodyTo: body.length, tail };
}
