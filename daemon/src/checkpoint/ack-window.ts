// Which records of one file are sent but not yet acknowledged. The file's checkpoint may advance
// only to the start of the earliest unacknowledged record: the longest contiguous acknowledged
// prefix. Records are added in the order they are completed; their starts are not always in order
// (an event rejoined from pieces starts before an event of the other stream completed in between).
export class AckWindow {
  private starts: number[] = [];
  private acked: boolean[] = [];
  private head = 0;
  private unacked = 0;

  get pending(): number {
    return this.unacked;
  }

  add(start: number): void {
    this.starts.push(start);
    this.acked.push(false);
    this.unacked++;
  }

  /** Marks the record starting at `start` acknowledged; false if no such record is pending. */
  ack(start: number): boolean {
    for (let i = this.head; i < this.starts.length; i++) {
      if (this.starts[i] === start && !this.acked[i]) {
        this.acked[i] = true;
        this.unacked--;
        this.advance();
        return true;
      }
    }
    return false;
  }

  /** Start of the earliest unacknowledged record, or undefined when all are acknowledged. */
  earliestUnacked(): number | undefined {
    let min: number | undefined;
    for (let i = this.head; i < this.starts.length; i++) {
      if (!this.acked[i]) {
        const s = this.starts[i] as number;
        if (min === undefined || s < min) min = s;
      }
    }
    return min;
  }

  /** Forgets everything (the file was truncated and its records will never be acknowledged in place). */
  clear(): void {
    this.starts = [];
    this.acked = [];
    this.head = 0;
    this.unacked = 0;
  }

  private advance(): void {
    while (this.head < this.starts.length && this.acked[this.head]) this.head++;
    if (this.head === this.starts.length) {
      this.starts.length = 0;
      this.acked.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.starts.length) {
      this.starts = this.starts.slice(this.head);
      this.acked = this.acked.slice(this.head);
      this.head = 0;
    }
  }
}
