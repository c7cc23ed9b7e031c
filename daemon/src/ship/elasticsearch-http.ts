// Every Elasticsearch call of the shipper (`_bulk`, health, templates, lifecycle, and the `check`,
// `setup` and `prune` commands), on node:http/https with keep-alive: `@elastic/elasticsearch`
// costs ~30 MB of resident memory once connected (its API surface and undici), a quarter of the
// daemon's budget, for a handful of endpoints. Only `bootstrap` (security APIs) loads it.
// Errors have the official client's shape (`name`, `meta.statusCode`, `meta.body`), so callers
// and `describeError` treat both alike.
import { readFileSync } from 'node:fs';
import type { Agent, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Agent as HttpAgent, request as httpRequest } from '../http/node-http.js';

/**
 * What the daemon needs of Elasticsearch: one request at a time, JSON back. A request settles only
 * once its body is no longer in use (sent, or the request destroyed): the caller may then reuse
 * the body's memory.
 */
export interface ElasticsearchRequester {
  request(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    options?: { body?: string | Buffer; query?: Record<string, string>; headers?: Record<string, string> },
  ): Promise<unknown>;
}

export class ResponseError extends Error {
  override name = 'ResponseError';
  constructor(readonly meta: { statusCode: number; body: unknown }) {
    const reason = (meta.body as { error?: { reason?: string } } | undefined)?.error?.reason;
    super(`HTTP ${meta.statusCode}${reason === undefined ? '' : `: ${reason}`}`);
  }
}

export class ConnectionError extends Error {
  override name = 'ConnectionError';
}

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** Where and how to connect (the configuration's `elasticsearch` section fits). */
export interface ElasticsearchConnection {
  /** One URL, or the cluster's nodes to go on with when one cannot be reached. */
  url: string | readonly string[];
  username?: string | undefined;
  password?: string | undefined;
  apiKey?: string | undefined;
  /** A CA file, or the PEM itself in `ca`. */
  caFile?: string | undefined;
  ca?: string | undefined;
  tlsVerify: boolean;
  requestTimeoutMs: number;
}

/** One node's address, with a connection pool of its own. */
interface Endpoint {
  readonly url: URL;
  /** The URL's path without its last slash: requests' paths go after it (a proxy's prefix). */
  readonly base: string;
  readonly agent: Agent;
  readonly send: typeof httpRequest;
}

/**
 * Answers that say the node (or a proxy in front of it) cannot serve now, not that the cluster
 * refused: the next request goes to the next URL. 429 is the cluster's own pressure, and stays.
 */
const NODE_UNAVAILABLE: ReadonlySet<number> = new Set([502, 503, 504]);

export class ElasticsearchHttp implements ElasticsearchRequester {
  private readonly endpoints: readonly Endpoint[];
  /** Requests go to this endpoint until one fails to reach it. */
  private current = 0;
  private readonly authorization: string | undefined;

  /** Warnings already reported (Elasticsearch repeats one on every call that earns it). */
  private readonly warned = new Set<string>();

  /**
   * `onWarning` hears each distinct `Warning` header once (a deprecation: what the next major
   * will refuse), at most 100 of them. With several URLs, `onNodeChange` hears each move to the
   * next one (a node lost is worth a line in the log, not only a retry).
   */
  constructor(
    private readonly es: ElasticsearchConnection,
    private readonly onWarning?: (warning: string) => void,
    private readonly onNodeChange?: (change: { from: string; to: string; reason: string }) => void,
  ) {
    const urls = typeof es.url === 'string' ? [es.url] : es.url;
    if (urls.length === 0) throw new Error('no Elasticsearch URL');
    // Read once for every endpoint.
    const ca = es.ca ?? (es.caFile !== undefined ? readFileSync(es.caFile) : undefined);
    this.endpoints = urls.map((u) => endpoint(new URL(u), es.tlsVerify, ca));
    if (es.apiKey !== undefined) this.authorization = `ApiKey ${es.apiKey}`;
    else if (es.username !== undefined && es.password !== undefined)
      this.authorization = `Basic ${Buffer.from(`${es.username}:${es.password}`).toString('base64')}`;
  }

  /** Where requests go now. */
  get url(): string {
    return (this.endpoints[this.current] as Endpoint).url.href;
  }

  /** After a request to endpoint `index` could not be served there: the next one, once. */
  private failedAt(index: number, reason: string): void {
    // Requests in flight to the same node fail together: only the first of them moves on.
    if (this.current !== index || this.endpoints.length === 1) return;
    this.current = (index + 1) % this.endpoints.length;
    this.onNodeChange?.({ from: (this.endpoints[index] as Endpoint).url.href, to: this.url, reason });
  }

  request(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    options: {
      body?: string | Buffer;
      query?: Record<string, string>;
      headers?: Record<string, string>;
    } = {},
  ): Promise<unknown> {
    const index = this.current;
    const { url, base, agent, send } = this.endpoints[index] as Endpoint;
    const query = options.query === undefined ? '' : `?${new URLSearchParams(options.query).toString()}`;
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (this.authorization !== undefined) headers.authorization = this.authorization;
    const body = options.body;
    if (body !== undefined) {
      headers['content-type'] ??= path.endsWith('/_bulk') ? 'application/x-ndjson' : 'application/json';
      headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.length);
    }
    return new Promise((settleResolve, settleReject) => {
      // An answer can come before the body is all written (an early error): hold it until the
      // request lets go of the body ('finish' once written, 'close' in any case). The first
      // outcome wins, as with a plain promise.
      let released = false;
      let held: (() => void) | undefined;
      const settle = (outcome: () => void) => {
        if (released) outcome();
        else held ??= outcome;
      };
      const release = () => {
        released = true;
        held?.();
        held = undefined;
      };
      const resolve = (value: unknown) => settle(() => settleResolve(value));
      const reject = (err: unknown) => settle(() => settleReject(err));
      const req = send(
        {
          protocol: url.protocol,
          hostname: url.hostname,
          port: url.port,
          path: `${base}${path}${query}`,
          method,
          headers,
          agent,
          timeout: this.es.requestTimeoutMs,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(new ConnectionError(err.message)));
          res.on('end', () => {
            // One per header line (`headers` would join them with commas, which warnings contain).
            const warnings = res.headersDistinct.warning;
            if (warnings !== undefined && this.onWarning !== undefined) this.warn(warnings);
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text === '' ? undefined : JSON.parse(text);
            } catch {
              // not JSON: kept as text for the error
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(parsed);
            else {
              if (NODE_UNAVAILABLE.has(status)) this.failedAt(index, `HTTP ${status}`);
              reject(new ResponseError({ statusCode: status, body: parsed }));
            }
          });
        },
      );
      req.on('finish', release);
      req.on('close', release);
      req.on('timeout', () => req.destroy(new TimeoutError(`no answer in ${this.es.requestTimeoutMs} ms`)));
      req.on('error', (err) => {
        const failure = err instanceof TimeoutError ? err : new ConnectionError(err.message);
        this.failedAt(index, failure.message);
        reject(failure);
      });
      req.end(body);
    });
  }

  private warn(warnings: readonly string[]): void {
    for (const warning of warnings) {
      if (this.warned.has(warning) || this.warned.size >= 100) continue;
      this.warned.add(warning);
      this.onWarning?.(warning);
    }
  }

  close(): void {
    for (const e of this.endpoints) e.agent.destroy();
  }
}

function endpoint(url: URL, tlsVerify: boolean, ca: string | Buffer | undefined): Endpoint {
  const tls = url.protocol === 'https:';
  const agentOptions = { keepAlive: true, maxSockets: 8, maxFreeSockets: 4 };
  return {
    url,
    base: url.pathname.replace(/\/+$/, ''),
    agent: tls
      ? new HttpsAgent({
          ...agentOptions,
          rejectUnauthorized: tlsVerify,
          ...(ca !== undefined ? { ca } : {}),
        })
      : new HttpAgent(agentOptions),
    send: tls ? httpsRequest : httpRequest,
  };
}

/** A short description of a client error for logs. */
export function describeError(err: unknown): string {
  const e = err as { name?: string; message?: string; meta?: { statusCode?: number; body?: unknown } };
  const status = e.meta?.statusCode;
  const body = e.meta?.body as { error?: { type?: string; reason?: string } } | undefined;
  const reason = body?.error?.reason ?? e.message ?? String(err);
  return `${e.name ?? 'Error'}${status === undefined ? '' : ` ${status}`}: ${reason}`.slice(0, 500);
}
