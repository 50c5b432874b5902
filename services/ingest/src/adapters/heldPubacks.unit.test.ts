// The order held PUBACKs leave in: arrival order, past messages given up on or waiting too long.
import type { Packet } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { HeldPubacks } from './heldPubacks.js';

function setup(orderWaitMs = 2_000) {
  const sent: number[] = [];
  const clock = { now: 0 };
  const pubacks = new HeldPubacks((packet) => sent.push((packet as { messageId: number }).messageId), orderWaitMs, () => clock.now);
  /** A message arrives and mqtt.js produces its PUBACK at once, as when the window has room. */
  const arrive = (messageId: number) => {
    const entry = pubacks.add(messageId);
    pubacks.produced(entry, { cmd: 'puback', messageId } as Packet);
    return entry;
  };
  return { pubacks, sent, clock, arrive };
}

describe('HeldPubacks', () => {
  it('sends PUBACKs in arrival order, whatever order the messages are stored in, each once', () => {
    const { pubacks, sent, arrive } = setup();
    const [a, b, c] = [arrive(1), arrive(2), arrive(3)];
    pubacks.settle(c, true);
    pubacks.settle(b, true);
    expect(sent).toEqual([]);
    pubacks.settle(a, true);
    pubacks.settle(a, true);
    expect(sent).toEqual([1, 2, 3]);
    expect(pubacks.waiting).toBe(0);
  });

  it('lets later PUBACKs pass a message given up on, and never sends that one', () => {
    const { pubacks, sent, arrive } = setup();
    const [a, b] = [arrive(1), arrive(2)];
    pubacks.settle(b, true);
    pubacks.settle(a, false);
    pubacks.settle(a, true);
    expect(sent).toEqual([2]);
  });

  it('sets aside a message unsettled for longer than the wait: later ones pass, its own PUBACK goes once it is stored', () => {
    const { pubacks, sent, clock, arrive } = setup(2_000);
    const a = arrive(1);
    clock.now = 1_000;
    const b = arrive(2);
    clock.now = 2_500;
    pubacks.settle(b, true);
    expect(sent).toEqual([2]);
    pubacks.settle(a, true);
    expect(sent).toEqual([2, 1]);
  });

  it('sends the PUBACK of a message stored before mqtt.js produced it once it is produced', () => {
    const { pubacks, sent } = setup();
    const a = pubacks.add(1);
    pubacks.settle(a, true);
    expect(sent).toEqual([]);
    pubacks.produced(a, { cmd: 'puback', messageId: 1 } as Packet);
    expect(sent).toEqual([1]);
  });

  it('sends nothing held for a connection that is gone', () => {
    const { pubacks, sent, arrive } = setup();
    const [a, b] = [arrive(1), arrive(2)];
    pubacks.settle(b, true);
    pubacks.clear();
    pubacks.settle(a, true);
    const c = arrive(1);
    pubacks.settle(c, true);
    expect(sent).toEqual([1]);
    expect(pubacks.waiting).toBe(0);
  });

  it('on stopping, sends the PUBACKs of the stored messages behind an unsettled one', () => {
    const { pubacks, sent, arrive } = setup();
    const [a, b, c] = [arrive(1), arrive(2), arrive(3)];
    pubacks.settle(c, true);
    pubacks.settle(b, true);
    pubacks.sendStored();
    expect(sent).toEqual([2, 3]);
    pubacks.settle(a, true);
    expect(sent).toEqual([2, 3, 1]);
  });
});
