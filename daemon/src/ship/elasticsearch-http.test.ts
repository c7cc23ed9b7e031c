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
