import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { httpApi } from './kubernetes-api.js';

/** The call, or a rejection after 5 s (a hang must fail, and let the finally block close the sockets). */
function within5s<T>(call: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('still waiting after 5 s')), 5000);
  });
  return Promise.race([call, late]).finally(() => clearTimeout(timer));
}

test('an API server that accepts the connection and says nothing: list and watch give up after the request timeout', async () => {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const api = httpApi(
    {
      server: `https://127.0.0.1:${port}`,
      ca: undefined,
      cert: undefined,
      key: undefined,
      verify: true,
      token: () => 't',
    },
    { requestTimeoutMs: 300 },
  );
  try {
    await assert.rejects(within5s(api.pods.list('spec.nodeName=n', '0')), /pod list: no answer in 300 ms/);
    await assert.rejects(
      within5s(
        api.pods.watch(
          {
            fieldSelector: 'spec.nodeName=n',
            resourceVersion: '1',
            allowWatchBookmarks: true,
            timeoutSeconds: 300,
          },
          () => undefined,
          () => undefined,
        ),
      ),
      /pod watch: no answer in 300 ms/,
    );
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});
