// Labels of namespaces, fetched only for namespaces whose pods write on this node, one GET each,
// kept for a TTL; failures (403, 404, API down) are remembered for a shorter TTL so a missing
// permission does not turn into a request per document; and at most `perSecond` GETs a second,
// so a node full of new namespaces cannot flood the API server. Never blocks a reader: a miss
// answers "not yet" and the labels appear on later documents.

export type FetchNamespaceLabels = (namespace: string) => Promise<Record<string, string> | undefined>;

interface Known {
  labels: Record<string, string> | undefined;
  /** When to fetch again (ms). */
  expires: number;
}

export interface NamespaceLabelsOptions {
  ttlMs: number;
  negativeTtlMs: number;
  perSecond: number;
  now?: () => number;
  onFetch?: (outcome: 'ok' | 'error') => void;
}

export class NamespaceLabels {
  /** Bumped when labels arrive or change; readers recompute only when it moved. */
  version = 0;
  private readonly known = new Map<string, Known>();
  private readonly inFlight = new Set<string>();
  private readonly waiting: string[] = [];
  private tokens: number;
  private lastRefill: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly fetch: FetchNamespaceLabels,
    private readonly options: NamespaceLabelsOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.tokens = options.perSecond;
    this.lastRefill = this.now();
  }

  /** The labels if known (possibly stale while a refresh is pending), else undefined. */
  get(namespace: string): Record<string, string> | undefined {
    const known = this.known.get(namespace);
    if (known === undefined || known.expires <= this.now()) this.request(namespace);
    return known?.labels;
  }

  /**
   * Refreshes expired labels of the namespaces still in use and forgets the others (called
   * periodically: readers only ask again when something else changed).
   */
  refresh(inUse: ReadonlySet<string>): void {
    const now = this.now();
    for (const [namespace, known] of this.known) {
      if (!inUse.has(namespace)) this.known.delete(namespace);
      else if (known.expires <= now) this.request(namespace);
    }
  }

  get size(): number {
    return this.known.size;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private request(namespace: string): void {
    if (this.stopped || this.inFlight.has(namespace) || this.waiting.includes(namespace)) return;
    this.waiting.push(namespace);
    this.pump();
  }

  private pump(): void {
    const now = this.now();
    this.tokens = Math.min(
      this.options.perSecond,
      this.tokens + ((now - this.lastRefill) / 1000) * this.options.perSecond,
    );
    this.lastRefill = now;
    while (this.waiting.length > 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.start(this.waiting.shift() as string);
    }
    if (this.waiting.length > 0 && this.timer === undefined && !this.stopped) {
      const waitMs = Math.ceil(((1 - this.tokens) / this.options.perSecond) * 1000);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, waitMs);
      this.timer.unref();
    }
  }

  private start(namespace: string): void {
    this.inFlight.add(namespace);
    this.fetch(namespace).then(
      (labels) => {
        this.inFlight.delete(namespace);
        this.options.onFetch?.('ok');
        const old = this.known.get(namespace);
        this.known.set(namespace, { labels: labels ?? {}, expires: this.now() + this.options.ttlMs });
        if (old === undefined || JSON.stringify(old.labels) !== JSON.stringify(labels ?? {})) this.version++;
      },
      () => {
        this.inFlight.delete(namespace);
        this.options.onFetch?.('error');
        // Keep what was known before; ask again after the negative TTL.
        const old = this.known.get(namespace);
        this.known.set(namespace, { labels: old?.labels, expires: this.now() + this.options.negativeTtlMs });
      },
    );
  }
}
