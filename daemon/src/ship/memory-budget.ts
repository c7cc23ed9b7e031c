// Bytes held between reading a record and Elasticsearch acknowledging it. Past the budget the
// readers wait (`waitForRoom`), so memory stays bounded however large the backlog on disk is.
export class MemoryBudget {
  private used = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly limit: number) {}

  get bytes(): number {
    return this.used;
  }

  hasRoom(): boolean {
    return this.used < this.limit;
  }

  take(bytes: number): void {
    this.used += bytes;
  }

  give(bytes: number): void {
    this.used -= bytes;
    // Wake readers only once there is real room again, not for every acknowledged byte.
    if (this.waiters.length > 0 && this.used <= this.limit * 0.75) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }
  }

  waitForRoom(): Promise<void> {
    if (this.used <= this.limit * 0.75) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
