// The pods of this node as the watch last saw them, found by uid, namespace/name or container id.
// A deleted pod stays while any open file still resolves to it (its last lines are read after the
// pod is gone), then for a grace period in case its files have not been discovered yet.
import type { PodMetadata } from './pod-metadata.js';

/** What the watch can say about the cache's freshness, for the partial-metadata marker. */
export type WatchHealth = 'starting' | 'synced' | 'down' | 'forbidden';

export interface PodEntry {
  meta: PodMetadata;
  /** When the watch reported it deleted (ms), or undefined while it exists. */
  deletedAt: number | undefined;
}

export interface PodRef {
  uid?: string | undefined;
  namespace?: string | undefined;
  name?: string | undefined;
  containerId?: string | undefined;
}

/** Something that may still resolve to a pod: open files hold their pod's entry. */
export interface PodHolder {
  heldUid(): string | undefined;
}

export class PodCache {
  /** Bumped on every change a reader could see; readers recompute only when it moved. */
  version = 0;
  private healthState: WatchHealth = 'starting';
  private readonly byUid = new Map<string, PodEntry>();
  private readonly byName = new Map<string, PodEntry>();
  private readonly byContainerId = new Map<string, PodEntry>();
  private readonly holders = new Set<PodHolder>();

  constructor(
    /** How long a deleted pod no open file holds is kept (its files may not be found yet). */
    private readonly deletedGraceMs: number,
  ) {}

  get health(): WatchHealth {
    return this.healthState;
  }

  setHealth(health: WatchHealth): void {
    if (health === this.healthState) return;
    this.healthState = health;
    this.version++;
  }

  upsert(meta: PodMetadata): void {
    const old = this.byUid.get(meta.uid);
    if (old !== undefined && old.deletedAt === undefined && old.meta.resourceVersion === meta.resourceVersion)
      return;
    if (old !== undefined) this.unindex(old);
    const entry: PodEntry = { meta, deletedAt: undefined };
    this.byUid.set(meta.uid, entry);
    this.index(entry);
    this.version++;
  }

  markDeleted(uid: string, now: number): void {
    const entry = this.byUid.get(uid);
    if (entry === undefined || entry.deletedAt !== undefined) return;
    entry.deletedAt = now;
    // A new pod of the same name (a StatefulSet's) takes the name; the uid and ids still find this one.
    if (this.byName.get(`${entry.meta.namespace}/${entry.meta.name}`) === entry)
      this.byName.delete(`${entry.meta.namespace}/${entry.meta.name}`);
    this.version++;
  }

  /** A full list: everything in it is current, every live pod missing from it was deleted. */
  replace(pods: readonly PodMetadata[], now: number): void {
    const seen = new Set<string>();
    for (const meta of pods) {
      seen.add(meta.uid);
      this.upsert(meta);
    }
    for (const [uid, entry] of this.byUid)
      if (!seen.has(uid) && entry.deletedAt === undefined) this.markDeleted(uid, now);
  }

  find(ref: PodRef): PodEntry | undefined {
    if (ref.uid !== undefined) {
      const entry = this.byUid.get(ref.uid);
      // The uid is exact: a same-named successor is a different pod.
      return entry;
    }
    if (ref.containerId !== undefined) {
      const entry = this.byContainerId.get(ref.containerId);
      if (entry !== undefined) return entry;
    }
    if (ref.namespace !== undefined && ref.name !== undefined)
      return this.byName.get(`${ref.namespace}/${ref.name}`);
    return undefined;
  }

  hold(holder: PodHolder): void {
    this.holders.add(holder);
  }

  letGo(holder: PodHolder): void {
    this.holders.delete(holder);
  }

  /** Drops deleted pods no open file holds once their grace is over. Returns how many went. */
  evict(now: number): number {
    let held: Set<string> | undefined;
    let evicted = 0;
    for (const [uid, entry] of this.byUid) {
      if (entry.deletedAt === undefined || now - entry.deletedAt < this.deletedGraceMs) continue;
      if (held === undefined) {
        held = new Set();
        for (const h of this.holders) {
          const u = h.heldUid();
          if (u !== undefined) held.add(u);
        }
      }
      if (held.has(uid)) continue;
      this.byUid.delete(uid);
      this.unindex(entry);
      evicted++;
    }
    if (evicted > 0) this.version++;
    return evicted;
  }

  /** Namespaces of the pods currently known. */
  namespaces(): Set<string> {
    const out = new Set<string>();
    for (const entry of this.byUid.values()) out.add(entry.meta.namespace);
    return out;
  }

  sizes(): { live: number; deleted: number } {
    let deleted = 0;
    for (const entry of this.byUid.values()) if (entry.deletedAt !== undefined) deleted++;
    return { live: this.byUid.size - deleted, deleted };
  }

  private index(entry: PodEntry): void {
    const m = entry.meta;
    this.byName.set(`${m.namespace}/${m.name}`, entry);
    for (const c of m.containers) if (c.id !== undefined) this.byContainerId.set(c.id, entry);
  }

  private unindex(entry: PodEntry): void {
    const m = entry.meta;
    if (this.byName.get(`${m.namespace}/${m.name}`) === entry) this.byName.delete(`${m.namespace}/${m.name}`);
    for (const c of m.containers)
      if (c.id !== undefined && this.byContainerId.get(c.id) === entry) this.byContainerId.delete(c.id);
  }
}
