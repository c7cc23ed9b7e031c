import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ElasticsearchHttp } from './elasticsearch-http.js';

test('a request settles only once its body is sent, even when the answer comes first', async () => {
  // Answers at once, then reads the body slowly: the body is still being written when the answer
  // arrives. The bulk shipper reuses a body's memory once its request settles.
  // A bare TCP server, since node:http discards a body its handler answered before reading.
  let received: Promise<Buffer> | undefined;
  const server = createServer((socket) => {
    socket.pause();
    received = (async () => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 27\r\n\r\n');
      socket.write('{"errors":false,"items":[]}');
      await sleep(200);
      let head = Buffer.alloc(0);
      const body: Buffer[] = [];
      let length = -1;
      let got = 0;
      for await (const c of socket) {
        let chunk = c as Buffer;
        if (length < 0) {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) continue;
          length = Number(/content-length: (\d+)/i.exec(head.toString('latin1', 0, end))?.[1]);
          chunk = head.subarray(end + 4);
        }
        body.push(chunk);
        got += chunk.length;
        if (got >= length) break;
      }
      return Buffer.concat(body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const es = new ElasticsearchHttp({ url, tlsVerify: true, requestTimeoutMs: 10_000 });
    // Larger than the socket buffers, so part of it waits in the process until the server reads.
    const body = Buffer.alloc(32 << 20, 'a');
    await es.request('POST', '/_bulk', { body });
    body.fill('x');
    const got = await (received as Promise<Buffer>);
    assert.equal(got.length, body.length);
    assert.equal(got.indexOf('x'), -1, 'bytes sent after the request settled came from reused memory');
    es.close();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('each distinct Warning header Elasticsearch sends is reported once', async () => {
  const { createServer: createHttpServer } = await import('node:http');
  const server = createHttpServer((req, res) => {
    const warnings = ['299 Elasticsearch-9.2.4 "Legacy index templates are deprecated"'];
    if (req.url === '/two') warnings.push('299 Elasticsearch-9.2.4 "[types removal] something"');
    res.setHeader('warning', warnings);
    res.setHeader('content-type', 'application/json');
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const heard: string[] = [];
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const es = new ElasticsearchHttp({ url, tlsVerify: true, requestTimeoutMs: 10_000 }, (w) =>
      heard.push(w),
    );
    await es.request('GET', '/one');
    await es.request('GET', '/one');
    await es.request('GET', '/two');
    assert.deepEqual(heard, [
      '299 Elasticsearch-9.2.4 "Legacy index templates are deprecated"',
      '299 Elasticsearch-9.2.4 "[types removal] something"',
    ]);
    es.close();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('several URLs: after a node cannot be reached (or answers 502/503/504), the next one; 429 stays', async () => {
  const { createServer: createHttpServer } = await import('node:http');
  const answers: Record<string, number> = { a: 200, b: 200 };
  const seen: string[] = [];
  const node = (name: string) =>
    createHttpServer((req, res) => {
      seen.push(`${name}${req.url}`);
      res.writeHead(answers[name] as number, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name }));
    });
  const a = node('a');
  const b = node('b');
  const listen = async (s: ReturnType<typeof node>) => {
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };
  const urlA = await listen(a);
  const urlB = await listen(b);
  // A port nothing listens on: bound, then closed.
  const closed = createHttpServer();
  const down = await listen(closed);
  await new Promise((resolve) => closed.close(resolve));
  const moves: string[] = [];
  const es = new ElasticsearchHttp(
    { url: [down, urlA, urlB], tlsVerify: true, requestTimeoutMs: 5000 },
    undefined,
    ({ from, to, reason }) => moves.push(`${from} → ${to}: ${reason.split(' ')[0]}`),
  );
  const outcome = (p: Promise<unknown>) =>
    p.then(
      () => 'answered',
      (e: { name: string; meta?: { statusCode: number } }) => e.meta?.statusCode ?? e.name,
    );
  try {
    // Two in flight to the node that is down fail together, and move on once: to a, not past it.
    assert.deepEqual(
      await Promise.all([outcome(es.request('GET', '/1')), outcome(es.request('GET', '/2'))]),
      ['ConnectionError', 'ConnectionError'],
    );
    assert.deepEqual(await es.request('GET', '/3'), { name: 'a' });
    assert.equal(es.url, `${urlA}/`);
    // Elasticsearch's own pressure is the cluster's: the same node again.
    answers.a = 429;
    assert.equal(await outcome(es.request('GET', '/4')), 429);
    answers.a = 503;
    assert.equal(await outcome(es.request('GET', '/5')), 503);
    assert.deepEqual(await es.request('GET', '/6'), { name: 'b' });
    // Past the last, the first again: it may be back.
    answers.b = 502;
    assert.equal(await outcome(es.request('GET', '/7')), 502);
    assert.equal(await outcome(es.request('GET', '/8')), 'ConnectionError');
    answers.a = 200;
    assert.deepEqual(await es.request('GET', '/9'), { name: 'a' });
    assert.deepEqual(seen, ['a/3', 'a/4', 'a/5', 'b/6', 'b/7', 'a/9']);
    assert.deepEqual(moves, [
      `${down}/ → ${urlA}/: connect`,
      `${urlA}/ → ${urlB}/: HTTP`,
      `${urlB}/ → ${down}/: HTTP`,
      `${down}/ → ${urlA}/: connect`,
    ]);
  } finally {
    es.close();
    await Promise.all([a, b].map((s) => new Promise((resolve) => s.close(resolve))));
  }
});
