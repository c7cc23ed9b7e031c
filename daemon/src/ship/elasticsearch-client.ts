// The official Elasticsearch client, for the CLI's commands other than `run` (check, setup, prune,
// bootstrap); the daemon itself uses elasticsearch-http.ts. Loaded on demand: it costs ~30 MB.
// Retries are the callers' (the client's own would retry a few times and then give up).
import { readFileSync } from 'node:fs';
import type { Client, ClientOptions } from '@elastic/elasticsearch';
import type { ShipperConfig } from '../config/shipper-config.js';
import type { ElasticsearchRequester } from './elasticsearch-http.js';

export async function createElasticsearchClient(es: ShipperConfig['elasticsearch']): Promise<Client> {
  const { Client } = await import('@elastic/elasticsearch');
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

/** The official client as the daemon's narrow requester (for the CLI's commands). */
export function requesterOf(client: Client): ElasticsearchRequester {
  return {
    request: (method, path, options = {}) =>
      client.transport.request(
        {
          method,
          path,
          ...(options.body === undefined
            ? {}
            : path.endsWith('/_bulk')
              ? { bulkBody: options.body }
              : { body: options.body }),
          ...(options.query === undefined ? {} : { querystring: options.query }),
        },
        {
          headers: {
            // A string body would otherwise go as text/plain, which Elasticsearch refuses.
            ...(options.body === undefined || path.endsWith('/_bulk')
              ? {}
              : { 'content-type': 'application/json' }),
            ...options.headers,
          },
        },
      ),
  };
}
