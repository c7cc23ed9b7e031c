// One Elasticsearch client for everything the shipper sends. Retries are ours (see bulk-shipper):
// the client's own would retry some failures a few times and then give up.
import { readFileSync } from 'node:fs';
import { Client, type ClientOptions } from '@elastic/elasticsearch';
import type { ShipperConfig } from '../config/shipper-config.js';

export function createElasticsearchClient(es: ShipperConfig['elasticsearch']): Client {
  const options: ClientOptions = {
    node: es.url,
    // Bulk bodies are compressed by the shipper itself (bulk-shipper.ts); the rest is small.
    compression: false,
    requestTimeout: es.requestTimeoutMs,
    maxRetries: 0,
  };
  if (es.apiKey !== undefined) options.auth = { apiKey: es.apiKey };
  else if (es.username !== undefined && es.password !== undefined) {
    options.auth = { username: es.username, password: es.password };
  }
  if (es.url.startsWith('https:')) {
    options.tls = { rejectUnauthorized: es.tlsVerify };
    if (es.caFile !== undefined) options.tls.ca = readFileSync(es.caFile);
  }
  return new Client(options);
}

/** A short description of a client error for logs. */
export function describeError(err: unknown): string {
  const e = err as { name?: string; message?: string; meta?: { statusCode?: number; body?: unknown } };
  const status = e.meta?.statusCode;
  const body = e.meta?.body as { error?: { type?: string; reason?: string } } | undefined;
  const reason = body?.error?.reason ?? e.message ?? String(err);
  return `${e.name ?? 'Error'}${status === undefined ? '' : ` ${status}`}: ${reason}`.slice(0, 500);
}
