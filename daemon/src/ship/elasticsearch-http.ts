// Every Elasticsearch call of the shipper (`_bulk`, health, templates, lifecycle, and the `check`,
// `setup` and `prune` commands), on node:http/https with keep-alive: `@elastic/elasticsearch`
// costs ~30 MB of resident memory once connected (its API surface and undici), a quarter of the
// daemon's budget, for a handful of endpoints. Only `bootstrap` (security APIs) loads it.
// Errors have the official client's shape (`name`, `meta.statusCode`, `meta.body`), so callers
// and `describeError` treat both alike.
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

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
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  apiKey?: string | undefined;
  /** A CA file, or the PEM itself in `ca`. */
  caFile?: string | undefined;
  ca?: string | undefined;
  tlsVerify: boolean;
  requestTimeoutMs: number;
}

export class ElasticsearchHttp implements ElasticsearchRequester {
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;
  private readonly authorization: string | undefined;

  /** Warnings already reported (Elasticsearch repeats one on every call that earns it). */
  private readonly warned = new Set<string>();

  /**
   * `onWarning` hears each distinct `Warning` header once (a deprecation: what the next major
   * will refuse), at most 100 of them.
   */
  constructor(
    private readonly es: ElasticsearchConnection,
    private readonly onWarning?: (warning: string) => void,
  ) {
    this.url = new URL(es.url);
    const tls = this.url.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: 8, maxFreeSockets: 4 };
    this.agent = tls
      ? new HttpsAgent({
          ...agentOptions,
          rejectUnauthorized: es.tlsVerify,
          ...(es.ca !== undefined
            ? { ca: es.ca }
            : es.caFile !== undefined
              ? { ca: readFileSync(es.caFile) }
              : {}),
        })
      : new HttpAgent(agentOptions);
    this.send = tls ? httpsRequest : httpRequest;
    if (es.apiKey !== undefined) this.authorization = `ApiKey ${es.apiKey}`;
    else if (es.username !== undefined && es.password !== undefined)
      this.authorization = `Basic ${Buffer.from(`${es.username}:${es.password}`).toString('base64')}`;
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
    const base = this.url.pathname.replace(/\/+$/, '');
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
      const req = this.send(
        {
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port,
          path: `${base}${path}${query}`,
          method,
          headers,
          agent: this.agent,
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
            else reject(new ResponseError({ statusCode: status, body: parsed }));
          });
        },
      );
      req.on('finish', release);
      req.on('close', release);
      req.on('timeout', () => req.destroy(new TimeoutError(`no answer in ${this.es.requestTimeoutMs} ms`)));
      req.on('error', (err) => reject(err instanceof TimeoutError ? err : new ConnectionError(err.message)));
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
    this.agent.destroy();
  }
}

/** A short description of a client error for logs. */
export function describeError(err: unknown): string {
  const e = err as { name?: string; message?: string; meta?: { statusCode?: number; body?: unknown } };
  const status = e.meta?.statusCode;
  const body = e.meta?.body as { error?: { type?: string; reason?: string } } | undefined;
  const reason = body?.error?.reason ?? e.message ?? String(err);
  return `${e.name ?? 'Error'}${status === undefined ? '' : ` ${status}`}: ${reason}`.slice(0, 500);
}
