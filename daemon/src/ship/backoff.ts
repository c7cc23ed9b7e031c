// Exponential backoff with full jitter: attempt n waits a random time in [0, min(max, initial·2ⁿ)],
// so many shippers retrying one recovering cluster do not arrive together. Cancel wakes all waits.
export class Backoff {
  private cancels = new Set<() => void>();

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  delayFor(attempt: number): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(attempt, 30));
    return Math.max(this.initialMs / 4, Math.floor(this.random() * ceiling));
  }

  wait(attempt: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.cancels.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.delayFor(attempt));
      this.cancels.add(done);
    });
  }

  cancel(): void {
    for (const c of [...this.cancels]) c();
  }
}
