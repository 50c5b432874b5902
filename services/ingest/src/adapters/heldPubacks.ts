// The QoS 1 PUBACKs ingest holds until their messages are stored, sent in the order the messages
// arrived (as MQTT 3.1.1 §4.6 asks of a receiver), not in the order JetStream acknowledged them: a
// reading that waits for its condition change lets later ones be stored first. Mosquitto 2.0.11
// looks each PUBACK up by walking the client's in-flight list from the oldest message, so
// acknowledging out of order costs it a walk past every older unacknowledged message; in
// `bench:ingest` that walk (db__message_delete_outgoing) was 29% of the broker's CPU.
//
// A message given up on stops holding back the ones after it (it stays unacknowledged until the
// next connection). So does a message still unsettled after `orderWaitMs`: one whose condition
// change keeps failing must not stop every other machine's readings; its PUBACK then goes out of
// order whenever it is stored.
import type { Packet } from 'mqtt';

export interface HeldPuback {
  readonly messageId: number;
  readonly generation: number;
  state: 'waiting' | 'stored' | 'abandoned';
  /** The PUBACK mqtt.js produced for it, once its callback ran. */
  packet: Packet | undefined;
  /** now() when it arrived. */
  readonly receivedAt: number;
  /** Its PUBACK waits for the earlier ones; false once it waited too long and was set aside. */
  inOrder: boolean;
}

export const DEFAULT_PUBACK_ORDER_WAIT_MS = 2_000;

export class HeldPubacks {
  /** Bumped on every connection loss: PUBACKs held for an earlier connection must not be sent on a later one. */
  private generation = 0;
  /** Messages of this connection in arrival order, from `head` on. */
  private held: HeldPuback[] = [];
  private head = 0;
  /** Looks at the oldest unsettled message again once it has waited `orderWaitMs`. */
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (packet: Packet) => void,
    private readonly orderWaitMs = DEFAULT_PUBACK_ORDER_WAIT_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A QoS 1 message arrived. */
  add(messageId: number): HeldPuback {
    const entry: HeldPuback = { messageId, generation: this.generation, state: 'waiting', packet: undefined, receivedAt: this.now(), inOrder: true };
    this.held.push(entry);
    return entry;
  }

  /** mqtt.js produced the message's PUBACK: sent when its turn comes; dropped if the message was given up on or its connection is gone. */
  produced(entry: HeldPuback, packet: Packet): void {
    if (entry.generation !== this.generation || entry.state === 'abandoned') return;
    entry.packet = packet;
    if (entry.inOrder) this.sendSettled();
    else if (entry.state === 'stored') this.sendAside(entry);
  }

  /** The message is stored (its PUBACK may go once the earlier ones have), or given up on. Only the first call counts. */
  settle(entry: HeldPuback, stored: boolean): void {
    if (entry.generation !== this.generation || entry.state !== 'waiting') return;
    entry.state = stored ? 'stored' : 'abandoned';
    if (!stored) entry.packet = undefined;
    if (entry.inOrder) this.sendSettled();
    else if (stored) this.sendAside(entry);
  }

  /** Stopping: the PUBACKs of stored messages go now, whatever is still unsettled before them (it stays with the broker). */
  sendStored(): void {
    const held = this.held;
    for (let i = this.head; i < held.length; i++) {
      const entry = held[i]!;
      entry.inOrder = false;
      if (entry.state === 'stored') this.sendAside(entry);
      if (this.held !== held) return;
    }
    this.held = [];
    this.head = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The connection is gone: nothing held for it may be sent (the broker delivers those messages again). */
  clear(): void {
    this.generation++;
    this.held = [];
    this.head = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Messages not yet PUBACKed, given up on, or set aside. */
  get waiting(): number {
    return this.held.length - this.head;
  }

  private sendAside(entry: HeldPuback): void {
    const packet = entry.packet;
    if (packet === undefined) return;
    entry.packet = undefined;
    this.send(packet);
  }

  /** Sends the PUBACKs at the front whose messages are stored, up to the first one still waiting (and not waiting too long). */
  private sendSettled(): void {
    const held = this.held;
    let head = this.head;
    let now: number | undefined;
    for (; head < held.length; head++) {
      const entry = held[head]!;
      if (entry.state === 'waiting') {
        now ??= this.now();
        if (now - entry.receivedAt < this.orderWaitMs) break;
        entry.inOrder = false;
        continue;
      }
      if (entry.state === 'stored') {
        // Stored before mqtt.js produced its PUBACK (its callback is withheld while the window is full).
        if (entry.packet === undefined) break;
        const packet = entry.packet;
        entry.packet = undefined;
        this.send(packet);
        // The connection closed while sending: its held PUBACKs are gone.
        if (this.held !== held) return;
      }
    }
    if (head === held.length) {
      this.held = [];
      head = 0;
    } else if (head > 4096 && head * 2 > held.length) {
      this.held = held.slice(head);
      head = 0;
    }
    this.head = head;
    this.lookAgainLater();
  }

  /** While the oldest message is unsettled, a timer sets it aside once it has waited too long, even if nothing else settles meanwhile. */
  private lookAgainLater(): void {
    const oldest = this.held[this.head];
    if (oldest === undefined || oldest.state !== 'waiting' || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sendSettled();
    }, Math.max(0, oldest.receivedAt + this.orderWaitMs - this.now()) + 1);
    this.timer.unref();
  }
}
