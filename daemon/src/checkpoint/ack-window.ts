// Which records of one file are sent but not yet acknowledged. The file's checkpoint may advance
// only to the start of the earliest unacknowledged record: the longest contiguous acknowledged
// prefix. Records are added in the order they are completed; their starts are not always in order
// (an event rejoined from pieces starts before an event of the other stream completed in between).
// Acknowledgements come back in any order (a bulk body groups similar documents), so each record
// gets a ticket, its place in the window: acknowledging is an index, not a search.
export class AckWindow {
  private starts: number[] = [];
  private acked: boolean[] = [];
  private head = 0;
  /** The ticket of `starts[0]`: tickets keep counting up across compaction. */
  private base = 0;
  private unacked = 0;

  get pending(): number {
    return this.unacked;
  }

  /** Adds a record; returns its ticket for `ack`. */
  add(start: number): number {
    this.starts.push(start);
    this.acked.push(false);
    this.unacked++;
    return this.base + this.starts.length - 1;
  }

  /** Marks the record with this ticket acknowledged; false if it is not pending. */
  ack(ticket: number): boolean {
    const i = ticket - this.base;
    if (i < this.head || i >= this.starts.length || this.acked[i]) return false;
    this.acked[i] = true;
    this.unacked--;
    if (i === this.head) this.advance();
    return true;
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

  private advance(): void {
    while (this.head < this.starts.length && this.acked[this.head]) this.head++;
    if (this.head === this.starts.length) {
      this.base += this.starts.length;
      this.starts.length = 0;
      this.acked.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.starts.length) {
      this.base += this.head;
      this.starts = this.starts.slice(this.head);
      this.acked = this.acked.slice(this.head);
      this.head = 0;
    }
  }
}
