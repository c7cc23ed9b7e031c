// A small HTTP proxy in front of the real Elasticsearch that injects what real Elasticsearch will
// not do on demand: item-level 429s on chosen documents (those items are not forwarded, so only a
// retry can index them), a request-level 429, and a mapping-breaking change to chosen documents
// (which the real Elasticsearch then rejects); and, like nginx in front of a cluster, a limit on
// request bodies (413); and a node that goes away after indexing a request, its answer lost.
// Everything else passes through untouched.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface FaultPlan {
  /** Answer 429 to the whole bulk request number n (0-based), without forwarding it. */
  rejectRequests: Set<number>;
  /** Answer 429 the first time a document is seen, for every `every`-th document. */
  throttleEvery: number;
  /** Break the mapping of every `every`-th KubeArmor document the first time it is seen. */
  breakEvery: number;
  /** Answer 413 to any request whose body (as sent) is larger, without forwarding it. */
  maxBodyBytes?: number;
  /**
   * Forward bulk request number n (0-based) and, once Elasticsearch has answered it, drop the
   * connection without the answer and stop listening: a node gone after indexing, whose
   * acknowledgement is lost.
   */
  dieAtRequest?: number;
}

export interface FaultStats {
  requests: number;
  /** Requests answered 413. */
  tooLarge: number;
  throttled: Set<string>;
  broken: Set<string>;
}

export async function startFaultProxy(
  target: string,
  plan: FaultPlan,
): Promise<{ url: string; stats: FaultStats; server: Server }> {
  const upstream = new URL(target);
  const stats: FaultStats = { requests: 0, tooLarge: 0, throttled: new Set(), broken: new Set() };
  const seen = new Set<string>();
  let docNo = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (plan.maxBodyBytes !== undefined && body.length > plan.maxBodyBytes) {
        stats.tooLarge++;
        // What nginx answers past client_max_body_size.
        res.writeHead(413, { 'content-type': 'text/html' });
        res.end('<html><head><title>413 Request Entity Too Large</title></head></html>\n');
        return;
      }
      const headers = { ...req.headers };
      // Plain answers, so they can be rewritten.
      delete headers['accept-encoding'];
      const isBulk = req.method === 'POST' && (req.url ?? '').split('?')[0]?.endsWith('/_bulk');
      const injected = new Map<number, object>();
      let n = -1;
      if (isBulk) {
        n = stats.requests++;
        if (plan.rejectRequests.has(n)) {
          res.writeHead(429, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
          res.end('{"error":{"type":"es_rejected_execution_exception","reason":"injected"},"status":429}');
          return;
        }
        if (headers['content-encoding'] === 'gzip') {
          body = gunzipSync(body);
          delete headers['content-encoding'];
        }
        const lines = body
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== '');
        const kept: string[] = [];
        for (let i = 0; i + 1 < lines.length; i += 2) {
          const action = lines[i] as string;
          let doc = lines[i + 1] as string;
          const meta = (JSON.parse(action) as { create: { _id: string; _index: string } }).create;
          const first = !seen.has(meta._id);
          seen.add(meta._id);
          const k = first ? docNo++ : -1;
          if (first && k % plan.throttleEvery === plan.throttleEvery - 1) {
            stats.throttled.add(meta._id);
            injected.set(i / 2, {
              create: { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'injected' } },
            });
            continue;
          }
          if (first && /-(alerts|logs)-/.test(meta._index) && k % plan.breakEvery === plan.breakEvery - 3) {
            stats.broken.add(meta._id);
            doc = `{"Owner":"broken by the proxy",${doc.slice(1).replace(/"Owner":\{[^}]*\},/, '')}`;
          }
          kept.push(action, doc);
        }
        body = Buffer.from(kept.length > 0 ? `${kept.join('\n')}\n` : '');
        headers['content-length'] = String(body.length);
      }
      if (isBulk && body.length === 0) {
        // Nothing left to forward: answer for the injected items alone.
        res.writeHead(200, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
        res.end(JSON.stringify({ errors: true, items: [...injected.values()] }));
        return;
      }
      const out = request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers },
        (up) => {
          const parts: Buffer[] = [];
          up.on('data', (c: Buffer) => parts.push(c));
          up.on('end', () => {
            if (isBulk && n === plan.dieAtRequest) {
              res.destroy();
              server.close();
              server.closeAllConnections();
              return;
            }
            let text = Buffer.concat(parts).toString('utf8');
            const resHeaders = { ...up.headers };
            if (isBulk && injected.size > 0 && (up.statusCode ?? 0) < 300) {
              const answer = JSON.parse(text) as { errors?: boolean; items?: object[] };
              const items: object[] = [];
              const real = answer.items ?? [];
              let r = 0;
              const total = real.length + injected.size;
              for (let i = 0; i < total; i++) items.push(injected.get(i) ?? (real[r++] as object));
              text = JSON.stringify({ ...answer, errors: true, items });
            }
            delete resHeaders['content-length'];
            delete resHeaders['content-encoding'];
            res.writeHead(up.statusCode ?? 502, resHeaders);
            res.end(text);
          });
        },
      );
      out.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stats, server };
}
