// GET /metrics (Prometheus text), /healthz (the main loop is turning) and /readyz (the templates
// are installed, Elasticsearch answers and takes documents), on a plain node:http server.
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { createServer } from './node-http.js';

export interface Health {
  /** Empty when alive; otherwise why not. */
  liveProblems(): string[];
  /** Empty when ready; otherwise why not. */
  readyProblems(): string[];
}

export interface ReadinessState {
  templatesInstalled: boolean;
  now: number;
  /** When Elasticsearch last answered anything. */
  lastAnswer: number;
  /** When it last took a document (indexed, or already there), or shipping began. */
  lastAccepted: number;
  /** Documents handed to the shipper and not acknowledged yet. */
  waitingDocuments: number;
}

/**
 * Why the shipper is not ready, if it is not. Elasticsearch answering is not enough: one that
 * refuses every document (a write block, a missing privilege) ships nothing either, and a pod
 * shown not ready is where an operator looks first.
 */
export function readinessProblems(s: ReadinessState): string[] {
  const problems: string[] = [];
  if (!s.templatesInstalled) problems.push('index templates are not installed yet');
  if (s.now - s.lastAnswer > 30_000) problems.push('Elasticsearch has not answered for 30 s');
  else if (s.waitingDocuments > 0 && s.now - s.lastAccepted > 60_000)
    problems.push(
      `Elasticsearch has taken none of the ${s.waitingDocuments} documents waiting for 60 s: see item_errors_total and the log`,
    );
  return problems;
}

export async function startStatusServer(
  host: string,
  port: number,
  registry: Registry,
  health: Health,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return reply(405, 'text/plain', 'method not allowed\n');
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => reply(200, registry.contentType, text),
        (err: Error) => reply(500, 'text/plain', `${err.message}\n`),
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const problems = path === '/healthz' ? health.liveProblems() : health.readyProblems();
      return problems.length === 0
        ? reply(200, 'text/plain', 'ok\n')
        : reply(503, 'text/plain', `${problems.join('\n')}\n`);
    }
    reply(404, 'text/plain', 'not found: try /metrics, /healthz or /readyz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
