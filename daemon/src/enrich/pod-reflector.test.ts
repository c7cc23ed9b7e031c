// The reflector's reactions, against a scripted API (the real API server is in
// daemon/test/integration/ship-kubernetes.test.ts): what it asks for, and what it does with
// events, closes, 410s, errors and silence.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../ship/backoff.js';
import { NamespaceLabels } from './namespace-labels.js';
import { PodCache } from './pod-cache.js';
import { type PodApi, type PodList, PodReflector, type PodWatchParams } from './pod-reflector.js';

const pod = (name: string, rv: string) => ({
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, resourceVersion: rv },
  spec: { nodeName: 'n1' },
});

interface Call {
  kind: 'list' | 'watch';
  resourceVersion: string | undefined;
  params?: PodWatchParams;
}

/** Each list answers the next entry of `lists`; each watch is handed to the test to drive. */
class ScriptedApi implements PodApi {
  calls: Call[] = [];
  watches: {
    emit: (type: string, object: unknown) => void;
    close: (err: unknown) => void;
    aborted: boolean;
  }[] = [];
  constructor(public lists: (PodList | Error)[]) {}

  async list(fieldSelector: string, resourceVersion: string | undefined): Promise<PodList> {
    assert.equal(fieldSelector, 'spec.nodeName=n1');
    this.calls.push({ kind: 'list', resourceVersion });
    const next = this.lists.shift();
    if (next === undefined) throw new Error('no more lists scripted');
    if (next instanceof Error) throw next;
    return next;
  }

  async watch(
    params: PodWatchParams,
    onEvent: (type: string, object: unknown) => void,
    onDone: (err: unknown) => void,
  ) {
    this.calls.push({ kind: 'watch', resourceVersion: params.resourceVersion, params });
    let done = false;
    const w = {
      aborted: false,
      emit: onEvent,
      close: (err: unknown) => {
        if (done) return;
        done = true;
        onDone(err);
      },
    };
    this.watches.push(w);
    return {
      abort: () => {
        w.aborted = true;
        w.close(new Error('aborted'));
      },
    };
  }
}

async function until(check: () => boolean, what: string, ms = 1000): Promise<void> {
  for (let i = 0; i < ms / 5; i++) {
    if (check()) return;
    await sleep(5);
  }
  assert.fail(`timed out waiting for ${what}`);
}

function reflector(api: ScriptedApi, cache: PodCache, now?: () => number, backoffMs = 1) {
  const reconnects: string[] = [];
  const r = new PodReflector(api, cache, {
    nodeName: 'n1',
    annotations: [],
    watchTimeoutSeconds: 300,
    backoff: new Backoff(backoffMs, backoffMs, () => 1),
    onReconnect: (reason) => reconnects.push(reason),
    ...(now === undefined ? {} : { now }),
  });
  return { r, reconnects };
}

test('lists from the watch cache, watches from its version with bookmarks, resumes without a relist', async () => {
  const api = new ScriptedApi([{ items: [pod('a', '10')], resourceVersion: '100' }]);
  const cache = new PodCache(1000);
  const { r, reconnects } = reflector(api, cache);
  r.start();
  assert.equal(await r.waitForSync(1000), true);
  assert.equal(cache.find({ uid: 'uid-a' })?.meta.name, 'a');
  await until(() => api.watches.length === 1, 'the watch');
  const params = api.calls[1]?.params as PodWatchParams;
  assert.deepEqual(api.calls[0], { kind: 'list', resourceVersion: '0' });
  assert.equal(params.resourceVersion, '100');
  assert.equal(params.allowWatchBookmarks, true);
  assert.ok(params.timeoutSeconds >= 300 && params.timeoutSeconds < 600, String(params.timeoutSeconds));

  const w = api.watches[0];
  w?.emit('ADDED', pod('b', '101'));
  w?.emit('MODIFIED', { ...pod('a', '102'), metadata: { ...pod('a', '102').metadata, labels: { v: '2' } } });
  w?.emit('DELETED', pod('b', '103'));
  w?.emit('BOOKMARK', { metadata: { resourceVersion: '150' } });
  assert.deepEqual(cache.find({ uid: 'uid-a' })?.meta.labels, { v: '2' });
  assert.notEqual(cache.find({ uid: 'uid-b' })?.deletedAt, undefined);
  // The server ends the watch (its timeout): a new watch from the bookmark, no new list.
  w?.close(null);
  await until(() => api.watches.length === 2, 'the second watch');
  assert.equal(api.calls[2]?.resourceVersion, '150');
  assert.equal(api.calls.filter((c) => c.kind === 'list').length, 1);
  assert.deepEqual(reconnects, ['closed']);
  await r.stop();
  assert.equal(api.watches[1]?.aborted, true);
});

test('410 Gone relists at the last version, then from etcd only if that is gone too; pods gone meanwhile are marked deleted', async () => {
  const api = new ScriptedApi([
    { items: [pod('a', '10'), pod('b', '11')], resourceVersion: '100' },
    Object.assign(new Error('Expired'), { code: 410 }),
    { items: [pod('a', '10')], resourceVersion: '300' },
  ]);
  const cache = new PodCache(1000);
  const { r, reconnects } = reflector(api, cache);
  r.start();
  await until(() => api.watches.length === 1, 'the watch');
  api.watches[0]?.emit('ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
  await until(() => api.watches.length === 2, 'the watch after the relist');
  assert.deepEqual(
    api.calls.map((c) => [c.kind, c.resourceVersion]),
    [
      ['list', '0'],
      ['watch', '100'],
      ['list', '100'],
      ['list', undefined],
      ['watch', '300'],
    ],
  );
  assert.notEqual(cache.find({ uid: 'uid-b' })?.deletedAt, undefined);
  assert.deepEqual(reconnects, ['expired', 'error']);
  await r.stop();
});

test('errors back off and set the health the partial marker reports; a forbidden list too', async () => {
  const forbidden = Object.assign(new Error('Forbidden'), { code: 403 });
  const api = new ScriptedApi([forbidden, { items: [], resourceVersion: '5' }]);
  const cache = new PodCache(1000);
  const { r } = reflector(api, cache, undefined, 100);
  r.start();
  await until(() => cache.health === 'forbidden', 'forbidden');
  await until(() => api.watches.length === 1, 'the watch after the retry');
  assert.equal(cache.health, 'synced');
  api.watches[0]?.close(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  await until(() => api.watches.length === 2, 'the rewatch');
  assert.equal(api.calls.at(-1)?.resourceVersion, '5', 'a failed watch resumes from where it was');
  await r.stop();
});

test('the watchdog aborts a watch that stays silent past its timeout', async () => {
  let now = 0;
  const api = new ScriptedApi([{ items: [], resourceVersion: '1' }]);
  const { r, reconnects } = reflector(api, new PodCache(1000), () => now);
  r.start();
  await until(() => api.watches.length === 1, 'the watch');
  const timeout = api.calls[1]?.params?.timeoutSeconds as number;
  now = (timeout + 61) * 1000;
  // The watchdog looks every 5 s of real time.
  await until(() => api.watches[0]?.aborted === true, 'the watchdog', 7000);
  assert.deepEqual(reconnects, ['watchdog']);
  await until(() => api.watches.length === 2, 'a new watch');
  await r.stop();
});

test('namespace labels: fetched once per TTL, failures remembered, at most N a second', async () => {
  let now = 0;
  const fetched: string[] = [];
  const labels = new NamespaceLabels(
    async (ns) => {
      fetched.push(ns);
      if (ns === 'secret') throw Object.assign(new Error('Forbidden'), { code: 403 });
      return { team: ns };
    },
    { ttlMs: 60_000, negativeTtlMs: 10_000, perSecond: 2, now: () => now },
  );
  assert.equal(labels.get('a'), undefined, 'not yet');
  assert.equal(labels.get('a'), undefined);
  labels.get('b');
  labels.get('c');
  labels.get('secret');
  await sleep(5);
  assert.deepEqual(fetched, ['a', 'b'], 'two a second, each namespace once');
  assert.deepEqual(labels.get('a'), { team: 'a' });
  now += 1000;
  await until(() => fetched.length === 4, 'the rest after a second');
  labels.get('secret');
  assert.equal(fetched.length, 4, 'a failure is not asked again at once');
  now += 10_001;
  labels.get('secret');
  await until(() => fetched.length === 5, 'after the negative TTL');
  now += 60_000;
  labels.refresh(new Set(['a']));
  await until(() => fetched.length === 6, 'refresh of an expired namespace in use');
  assert.equal(fetched.at(-1), 'a');
  assert.equal(labels.size, 1, 'namespaces no longer in use are forgotten');
  labels.stop();
});
