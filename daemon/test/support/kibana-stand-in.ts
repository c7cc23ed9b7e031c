// A stand-in for Kibana's status and saved-objects import APIs, as documented (Kibana cannot run
// here): GET /api/status, POST [/s/<space>]/api/saved_objects/_import with multipart field `file`
// named *.ndjson and a kbn-xsrf header, answering with success, successResults and errors[].
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface ImportRequest {
  space: string | undefined;
  query: URLSearchParams;
  authorization: string | undefined;
  filename: string;
  lines: string[];
}

export interface StandInOptions {
  /** Answer /api/status with 503 this many times first. */
  notReadyFor: number;
  /** Objects to refuse with a conflict error. */
  conflictIds?: Set<string>;
  /** Serve HTTPS with this key and certificate (as Elastic Cloud's Kibana does). */
  tls?: { key: string; cert: string };
}

export async function startKibanaStandIn(
  options: StandInOptions,
): Promise<{ url: string; imports: ImportRequest[]; server: Server }> {
  const imports: ImportRequest[] = [];
  let statusCalls = 0;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://kibana');
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method === 'GET' && url.pathname === '/api/status') {
        statusCalls++;
        if (statusCalls <= options.notReadyFor)
          return json(503, { status: { overall: { level: 'unavailable' } } });
        return json(200, { status: { overall: { level: 'available' } } });
      }
      const m = /^(?:\/s\/([^/]+))?\/api\/saved_objects\/_import$/.exec(url.pathname);
      if (req.method !== 'POST' || m === null) return json(404, { statusCode: 404, message: 'Not Found' });
      if (req.headers['kbn-xsrf'] === undefined)
        return json(400, { statusCode: 400, message: 'Request must contain a kbn-xsrf header.' });
      const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(req.headers['content-type'] ?? '');
      if (boundary === null) return json(415, { statusCode: 415, message: 'Unsupported Media Type' });
      const body = Buffer.concat(chunks).toString('utf8');
      const part = body
        .split(`--${boundary[1] ?? boundary[2]}`)
        .find((p) => /content-disposition: form-data; name="file"/i.test(p));
      if (part === undefined)
        return json(400, {
          statusCode: 400,
          message: '[request body.file]: expected value of type [Stream]',
        });
      const filename = /filename="([^"]*)"/i.exec(part)?.[1] ?? '';
      if (!filename.endsWith('.ndjson'))
        return json(400, { statusCode: 400, message: `Invalid file extension ${filename}` });
      const content = part.slice(part.indexOf('\r\n\r\n') + 4).replace(/\r\n$/, '');
      const lines = content.split('\n').filter((l) => l.trim() !== '');
      let objects: { type: string; id: string; attributes: { title?: string } }[];
      try {
        objects = lines.map((l) => JSON.parse(l) as (typeof objects)[number]);
      } catch {
        return json(400, { statusCode: 400, message: 'Unexpected token in JSON' });
      }
      imports.push({
        space: m[1],
        query: url.searchParams,
        authorization: req.headers.authorization,
        filename,
        lines,
      });
      const errors = objects
        .filter((o) => options.conflictIds?.has(o.id))
        .map((o) => ({
          type: o.type,
          id: o.id,
          title: o.attributes.title,
          meta: {},
          error: { type: 'conflict' },
        }));
      const successResults = objects
        .filter((o) => !options.conflictIds?.has(o.id))
        .map((o) => ({ type: o.type, id: o.id, meta: { title: o.attributes.title, icon: 'app' } }));
      json(200, {
        success: errors.length === 0,
        successCount: successResults.length,
        successResults,
        ...(errors.length > 0 ? { errors } : {}),
        warnings: [],
      });
    });
  };
  const server = options.tls === undefined ? createServer(handle) : createTlsServer(options.tls, handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const scheme = options.tls === undefined ? 'http' : 'https';
  return { url: `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`, imports, server };
}
