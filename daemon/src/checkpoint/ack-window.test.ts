import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AckWindow } from './ack-window.js';

test('the ack window: the checkpoint stops at the earliest unacknowledged record', () => {
  const w = new AckWindow();
  const t0 = w.add(0);
  const t100 = w.add(100);
  const t50 = w.add(50); // a rejoined event that started before the one completed just before it
  const t200 = w.add(200);
  assert.equal(w.earliestUnacked(), 0);
  assert.equal(w.ack(t100), true);
  assert.equal(w.ack(t200), true);
  assert.equal(w.earliestUnacked(), 0);
  assert.equal(w.ack(t0), true);
  assert.equal(w.earliestUnacked(), 50);
  assert.equal(w.ack(t100), false, 'twice');
  assert.equal(w.ack(999), false, 'never given');
  assert.equal(w.ack(t50), true);
  assert.equal(w.earliestUnacked(), undefined);
  assert.equal(w.pending, 0);
});

test('the ack window: acknowledgements in random order agree with a plain model, across compaction', () => {
  let seed = 7;
  const random = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const w = new AckWindow();
  const open = new Map<number, number>(); // ticket → start, the model
  let next = 0;
  // Three adds to two acknowledgements: the window grows while its head moves, so it compacts.
  for (let step = 0; step < 30_000; step++) {
    if (open.size === 0 || random(5) < 3) {
      const start = next;
      next += 1 + random(100);
      open.set(w.add(start), start);
    } else {
      // Mostly near the oldest, like batches coming back, sometimes anywhere.
      const tickets = [...open.keys()];
      const ticket = tickets[
        random(3) === 0 ? random(tickets.length) : random(Math.min(8, tickets.length))
      ] as number;
      assert.equal(w.ack(ticket), true);
      open.delete(ticket);
      assert.equal(w.ack(ticket), false);
    }
    if (step % 97 === 0) {
      const starts = [...open.values()];
      assert.equal(w.earliestUnacked(), starts.length === 0 ? undefined : Math.min(...starts));
      assert.equal(w.pending, open.size);
    }
  }
});
