// Keeps the pod cache in step with the API server: one list, then a watch from the list's
// resourceVersion, for the pods of this node only (`spec.nodeName=<node>`), the way client-go's
// reflector does:
// - the list asks for resourceVersion "0" (served from the API server's watch cache, not etcd);
// - the watch asks for bookmarks and a server-side timeout of 5–10 min (randomized so a fleet of
//   nodes does not reconnect in step), then resumes from the last resourceVersion seen, no re-list;
// - "410 Gone" on the watch (its version is too old) re-lists at that version ("not older than",
//   still served from the watch cache); only if that list is 410 too does it read from etcd, as
//   client-go does, so a fleet re-listing after an API server restart does not land on etcd;
// - any other failure retries with backoff+jitter, re-watching from the last version seen;
// - a watchdog aborts a watch that has been silent past its timeout (a half-open connection:
//   @kubernetes/client-node 1.4 sets no client-side timeout on watches).
// Nothing waits on it: readers use whatever the cache holds.
import type { Backoff } from '../ship/backoff.js';
import type { PodCache } from './pod-cache.js';
import { podMetadata } from './pod-metadata.js';

export interface PodList {
  items: readonly unknown[];
  resourceVersion: string;
}

export interface PodWatchParams {
  fieldSelector: string;
  resourceVersion: string;
  allowWatchBookmarks: true;
  timeoutSeconds: number;
}

/** The two calls the reflector needs (the real one is in kubernetes-api.ts). */
export interface PodApi {
  list(fieldSelector: string, resourceVersion: string | undefined): Promise<PodList>;
  /** Resolves once the request is under way; `onDone` follows exactly once (null: server closed it). */
  watch(
    params: PodWatchParams,
    onEvent: (type: string, object: unknown) => void,
    onDone: (err: unknown) => void,
  ): Promise<{ abort(): void }>;
}

export type ReconnectReason = 'closed' | 'expired' | 'error' | 'watchdog';

export interface PodReflectorOptions {
  nodeName: string;
  annotations: readonly string[];
  /** Server-side watch timeout; each watch asks for a random value in [t, 2t). */
  watchTimeoutSeconds: number;
  backoff: Backoff;
  now?: () => number;
  onList?: (pods: number) => void;
  onReconnect?: (reason: ReconnectReason) => void;
  onError?: (err: unknown, attempt: number, status: number | undefined) => void;
}

interface WatchOutcome {
  resourceVersion: string;
  expired: boolean;
  error: unknown;
  events: number;
  watchdog: boolean;
}

/** HTTP status of a failed call, however the client reports it. */
export function statusOf(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number') return e.code;
  return undefined;
}

export class PodReflector {
  /** When the last event, bookmark or (re)connection happened (ms). */
  lastActivity = 0;
  watching = false;
  private stopped = false;
  private current: { abort(): void } | undefined;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private syncWaiters: (() => void)[] = [];
  private synced = false;
  private readonly now: () => number;
  private readonly fieldSelector: string;

  constructor(
    private readonly api: PodApi,
    private readonly cache: PodCache,
    private readonly options: PodReflectorOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.fieldSelector = `spec.nodeName=${options.nodeName}`;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Resolves true once the first list is in the cache, false if `timeoutMs` passes first. */
  waitForSync(timeoutMs: number): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.syncWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.abort();
    this.wake?.();
    await this.running;
  }

  private async run(): Promise<void> {
    let resourceVersion = '';
    let relist = true;
    // What the next list asks for: "0" (any version the cache has), the last version seen (after
    // a watch 410), or undefined (a consistent read, after a list 410).
    let listFrom: string | undefined = '0';
    let failures = 0;
    while (!this.stopped) {
      try {
        if (relist) {
          const list = await this.api.list(this.fieldSelector, listFrom);
          if (this.stopped) break;
          const pods = [];
          for (const item of list.items) {
            const meta = podMetadata(item, this.options.annotations);
            if (meta !== undefined) pods.push(meta);
          }
          this.cache.replace(pods, this.now());
          resourceVersion = list.resourceVersion;
          relist = false;
          listFrom = '0';
          this.lastActivity = this.now();
          this.cache.setHealth('synced');
          this.options.onList?.(pods.length);
          this.markSynced();
        }
        const started = this.now();
        const outcome = await this.watchOnce(resourceVersion);
        this.watching = false;
        if (this.stopped) break;
        resourceVersion = outcome.resourceVersion;
        if (outcome.expired) {
          relist = true;
          listFrom = resourceVersion === '' ? '0' : resourceVersion;
          this.options.onReconnect?.('expired');
          continue;
        }
        if (outcome.watchdog) {
          this.options.onReconnect?.('watchdog');
          continue;
        }
        if (outcome.error !== null && outcome.error !== undefined) throw outcome.error;
        this.options.onReconnect?.('closed');
        // A server that closes at once, again and again, gets backoff, not a tight loop.
        if (outcome.events === 0 && this.now() - started < 1000) await this.pause(failures++);
        else failures = 0;
      } catch (err) {
        this.watching = false;
        if (this.stopped) break;
        const status = statusOf(err);
        if (status === 410) {
          // From a list: even the watch cache has moved past that version. From a watch: re-list.
          listFrom = relist ? undefined : resourceVersion;
          relist = true;
        }
        this.cache.setHealth(status === 401 || status === 403 ? 'forbidden' : 'down');
        this.options.onError?.(err, failures, status);
        this.options.onReconnect?.('error');
        await this.pause(failures++);
      }
    }
    this.watching = false;
  }

  private markSynced(): void {
    this.synced = true;
    for (const waiter of this.syncWaiters.splice(0)) waiter();
  }

  private pause(attempt: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.options.backoff.delayFor(attempt));
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private watchOnce(fromVersion: string): Promise<WatchOutcome> {
    const outcome: WatchOutcome = {
      resourceVersion: fromVersion,
      expired: false,
      error: null,
      events: 0,
      watchdog: false,
    };
    const timeoutSeconds = Math.floor(this.options.watchTimeoutSeconds * (1 + Math.random()));
    return new Promise((resolve) => {
      let finished = false;
      let watchdog: NodeJS.Timeout | undefined;
      const finish = (err: unknown) => {
        if (finished) return;
        finished = true;
        if (watchdog !== undefined) clearInterval(watchdog);
        this.current = undefined;
        if (outcome.error === null) outcome.error = err;
        resolve(outcome);
      };
      const onEvent = (type: string, object: unknown) => {
        this.lastActivity = this.now();
        outcome.events++;
        const version = resourceVersionOf(object);
        switch (type) {
          case 'ADDED':
          case 'MODIFIED': {
            const meta = podMetadata(object, this.options.annotations);
            if (meta !== undefined) this.cache.upsert(meta);
            break;
          }
          case 'DELETED': {
            const meta = podMetadata(object, this.options.annotations);
            if (meta !== undefined) this.cache.markDeleted(meta.uid, this.now());
            break;
          }
          case 'BOOKMARK':
            break;
          case 'ERROR': {
            // A Status object: 410 means our resourceVersion is too old.
            if (statusOf(object) === 410) outcome.expired = true;
            else
              outcome.error = Object.assign(new Error(`watch error event: ${JSON.stringify(object)}`), {
                statusCode: statusOf(object),
              });
            this.current?.abort();
            return;
          }
          default:
            return;
        }
        if (version !== undefined) outcome.resourceVersion = version;
      };
      this.api
        .watch(
          {
            fieldSelector: this.fieldSelector,
            resourceVersion: fromVersion,
            allowWatchBookmarks: true,
            timeoutSeconds,
          },
          onEvent,
          (err) => finish(outcome.expired ? null : err),
        )
        .then(
          (handle) => {
            if (finished) return;
            this.current = handle;
            if (this.stopped) handle.abort();
            this.watching = true;
            this.lastActivity = this.now();
            this.cache.setHealth('synced');
            // Bookmarks come about once a minute; silence well past the timeout is a dead connection.
            const silentMs = (timeoutSeconds + 60) * 1000;
            watchdog = setInterval(() => {
              if (this.now() - this.lastActivity > silentMs) {
                outcome.watchdog = true;
                handle.abort();
              }
            }, 5000);
            watchdog.unref();
          },
          (err) => finish(err),
        );
    });
  }
}

function resourceVersionOf(object: unknown): string | undefined {
  const meta = (object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata;
  return typeof meta?.resourceVersion === 'string' && meta.resourceVersion !== ''
    ? meta.resourceVersion
    : undefined;
}
