// The contract every EventStore adapter must pass (JetStream here; EventStoreDB where a container
// runtime exists). Each test works in a plant id of its own, so adapters can share one store.
// One file over 300 lines on purpose: the whole contract an adapter must keep, read in one place.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleCommand } from '../application/commandHandler.js';
import { checkLink, GENESIS_HASH, newCursor } from '../eventStore/hashChain.js';
import { inSpan } from '../runtime/traceContext.js';
import { collectSpans } from './spanCollector.js';
import type { Decider, DomainMessage } from '../domain/decider.js';
import {
  WrongExpectedRevisionError,
  type EventStore,
  type GlobalPosition,
  type NewEvent,
  type RecordedEvent,
} from '../eventStore/eventStore.js';

export interface EventStoreFixture {
  store: EventStore;
  /** A second store on its own connection, as another copy of a service would have. */
  otherStore?: EventStore;
  dispose(): Promise<void>;
}

export function newEvent(type: string, data: unknown, eventId: string = randomUUID()): NewEvent {
  return {
    eventId,
    type,
    version: 1,
    occurredAt: new Date().toISOString(),
    correlationId: 'corr-1',
    causationId: null,
    actor: { kind: 'service', id: 'contract-test' },
    data,
  };
}

export function uniquePlant(): string {
  return `T${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

/** Collects events from a subscription until `count` arrived, or fails after `timeoutMs`. */
export async function waitFor<T>(items: T[], count: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (items.length < count) {
    if (Date.now() > deadline) throw new Error(`timed out with ${items.length} of ${count} items`);
    await sleep(20);
  }
}

function byStream(events: RecordedEvent[]): Map<string, unknown[]> {
  const streams = new Map<string, unknown[]>();
  for (const event of events) streams.set(event.stream, [...(streams.get(event.stream) ?? []), event.data]);
  return streams;
}

function expectIncreasing(positions: GlobalPosition[]): void {
  for (let i = 1; i < positions.length; i++) expect(positions[i]! > positions[i - 1]!, `position ${i} increases`).toBe(true);
}

type CounterEvent = DomainMessage<'Incremented', { value: number; writer: number }>;
const counter: Decider<{ writer: number }, CounterEvent, number> = {
  initialState: 0,
  decide: (command, value) => [{ type: 'Incremented', version: 1, data: { value: value + 1, writer: command.writer } }],
  evolve: (_value, event) => event.data.value,
  decode: (stored) => {
    const data = stored.data as { value?: unknown; writer?: unknown } | null;
    if (stored.type !== 'Incremented' || typeof data?.value !== 'number' || typeof data.writer !== 'number') throw new Error(`not a counter event: ${stored.type}`);
    return { type: 'Incremented', version: 1, data: { value: data.value, writer: data.writer } };
  },
};

/** Appends `perStream` events to each stream, the streams written concurrently; returns what was written. */
async function writeInterleaved(store: EventStore, streams: string[], perStream: number): Promise<Map<string, unknown[]>> {
  const written = new Map<string, unknown[]>();
  await Promise.all(
    streams.map(async (stream) => {
      let revision: bigint | 'no_stream' = 'no_stream';
      const data: unknown[] = [];
      for (let i = 0; i < perStream; i++) {
        const item = { stream, i };
        revision = (await store.appendToStream(stream, [newEvent('Step', item)], { expectedRevision: revision })).nextRevision;
        data.push(item);
      }
      written.set(stream, data);
    }),
  );
  return written;
}

export interface EventStoreCapabilities {
  /** The store has `readCategorySince` (a read that starts at a time). */
  readsCategorySince?: boolean;
}

export function describeEventStoreContract(adapter: string, setup: () => Promise<EventStoreFixture>, capabilities: EventStoreCapabilities = {}): void {
  describe(`event store contract: ${adapter}`, () => {
    let fixture: EventStoreFixture;
    let store: EventStore;

    beforeAll(async () => {
      fixture = await setup();
      store = fixture.store;
    });
    afterAll(async () => {
      await fixture?.dispose();
    });

    it('answers a ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('append and read', () => {
      it('reads back what was appended, in order, with the envelope intact', async () => {
        const stream = `${uniquePlant()}.order.MO_1`;
        const first = newEvent('OrderOpened', { orderId: 'MO_1', reason: 'MachineStatus=Fault' });
        const rest = [newEvent('ApprovalRequested', { approver: 'alice@plant1.example' }), newEvent('Approved', { comment: 'go' })];
        const a = await store.appendToStream(stream, [first], { expectedRevision: 'no_stream' });
        const b = await store.appendToStream(stream, rest, { expectedRevision: a.nextRevision });
        expect(a.duplicate).toBe(false);

        const read = await store.readStream(stream);
        expect(read.revision).toBe(b.nextRevision);
        expect(read.events.map(({ position: _position, hash: _hash, previousHash: _previous, ...envelope }) => envelope)).toEqual([first, ...rest].map((e) => ({ ...e, stream })));
        expectIncreasing(read.events.map((e) => e.position));
        expect(read.events.at(-1)?.position).toBe(b.position);
      });

      it('reads an empty stream as no_stream with no events', async () => {
        const read = await store.readStream(`${uniquePlant()}.order.MO_none`);
        expect(read).toEqual({ revision: 'no_stream', events: [] });
      });

      it('reads only the events after a revision, exclusive, whether one or many follow it', async () => {
        const plant = uniquePlant();
        const stream = `${plant}.machine.M1`;
        const first = await store.appendToStream(stream, [newEvent('A', 1), newEvent('B', 2)], { expectedRevision: 'no_stream' });
        // Another stream's appends in between, with a shared name prefix, must not be read.
        await store.appendToStream(`${plant}.machine.M10`, [newEvent('Other', 0)], { expectedRevision: 'no_stream' });
        expect(await store.readStream(stream, { after: first.nextRevision })).toEqual({ revision: first.nextRevision, events: [] });

        const second = await store.appendToStream(stream, [newEvent('C', 3)], { expectedRevision: first.nextRevision });
        const one = await store.readStream(stream, { after: first.nextRevision });
        expect(one.revision).toBe(second.nextRevision);
        expect(one.events.map((e) => e.data)).toEqual([3]);

        // More appends than a store may read one by one: all of them, in order, and the revision to append at.
        let revision = second.nextRevision;
        for (let value = 4; value < 24; value++) {
          await store.appendToStream(`${plant}.machine.M10`, [newEvent('Other', value)], { expectedRevision: 'any' });
          revision = (await store.appendToStream(stream, [newEvent('N', value)], { expectedRevision: revision })).nextRevision;
        }
        const many = await store.readStream(stream, { after: second.nextRevision });
        expect(many.events.map((e) => e.data)).toEqual(Array.from({ length: 20 }, (_, i) => i + 4));
        expect(many.revision).toBe(revision);
        const whole = await store.readStream(stream);
        expect(many.events).toEqual(whole.events.slice(3));
        await store.appendToStream(stream, [newEvent('Last', 24)], { expectedRevision: many.revision });
      });

      it('never returns another stream\'s events, even with a shared name prefix', async () => {
        const plant = uniquePlant();
        const streams = [`${plant}.order.MO_1`, `${plant}.order.MO_10`, `${plant}.order.MO_1X`, `${plant}.approval.MO_1`, `${uniquePlant()}.order.MO_1`];
        const written = await writeInterleaved(store, streams, 3);
        for (const stream of streams) {
          const read = await store.readStream(stream);
          expect(read.events.every((e) => e.stream === stream), `only ${stream}`).toBe(true);
          expect(read.events.map((e) => e.data)).toEqual(written.get(stream));
        }
      });

      it('refuses a stream name that is not {plantId}.{category}.{id}', async () => {
        await expect(store.appendToStream('not a stream', [newEvent('X', {})], { expectedRevision: 'any' })).rejects.toThrow(/not a stream name/);
        await expect(store.readStream('P1.order.a.b')).rejects.toThrow(/not a stream name/);
      });
    });

    describe('optimistic concurrency', () => {
      it('refuses a stale expected revision with a typed conflict and writes nothing', async () => {
        const stream = `${uniquePlant()}.resource.T-01`;
        const r1 = await store.appendToStream(stream, [newEvent('Registered', { n: 1 })], { expectedRevision: 'no_stream' });
        await store.appendToStream(stream, [newEvent('Allocated', { n: 2 })], { expectedRevision: r1.nextRevision });

        const stale = store.appendToStream(stream, [newEvent('Allocated', { n: 3 })], { expectedRevision: r1.nextRevision });
        await expect(stale).rejects.toBeInstanceOf(WrongExpectedRevisionError);
        await expect(stale).rejects.toMatchObject({ code: 'EVENT_STORE_CONFLICT', stream });
        await expect(store.appendToStream(stream, [newEvent('Allocated', { n: 4 })], { expectedRevision: 'no_stream' })).rejects.toBeInstanceOf(WrongExpectedRevisionError);

        const read = await store.readStream(stream);
        expect(read.events.map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }]);
      });

      it('refuses an expected revision on a stream that does not exist', async () => {
        const stream = `${uniquePlant()}.resource.T-02`;
        const elsewhere = await store.appendToStream(`${uniquePlant()}.resource.T-03`, [newEvent('Registered', {})], { expectedRevision: 'no_stream' });
        await expect(store.appendToStream(stream, [newEvent('Allocated', {})], { expectedRevision: elsewhere.nextRevision })).rejects.toBeInstanceOf(WrongExpectedRevisionError);
        expect((await store.readStream(stream)).events).toEqual([]);
      });

      it('loses no update from 50 concurrent writers of one aggregate (conflict and retry)', async () => {
        const stream = `${uniquePlant()}.machine.counter`;
        const writers = fixture.otherStore ? [store, fixture.otherStore] : [store];
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, writer) =>
            handleCommand(
              { store: writers[writer % writers.length]!, now: () => new Date() },
              counter,
              stream,
              { writer },
              { correlationId: 'c', causationId: null, actor: { kind: 'service', id: 'test' } },
              { maxAttempts: 200 },
            ),
          ),
        );
        const read = await store.readStream(stream);
        const values = read.events.map((e) => (e.data as { value: number }).value);
        expect(values).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
        expect(new Set(read.events.map((e) => (e.data as { writer: number }).writer)).size).toBe(50);
        // The test is only meaningful if writers really collided.
        expect(results.some((r) => r.attempts > 1)).toBe(true);
      });
    });

    describe('idempotent append', () => {
      it('stores an event appended twice with the same id once', async () => {
        const stream = `${uniquePlant()}.order.MO_dup`;
        const event = newEvent('OrderOpened', { orderId: 'MO_dup' });
        const first = await store.appendToStream(stream, [event], { expectedRevision: 'any' });
        const second = await store.appendToStream(stream, [event], { expectedRevision: 'any' });
        expect(first.duplicate).toBe(false);
        expect(second.duplicate).toBe(true);
        expect(second.nextRevision).toBe(first.nextRevision);
        expect((await store.readStream(stream)).events).toHaveLength(1);
      });

      it('treats a retried append with its original expected revision as done, not as a conflict', async () => {
        const stream = `${uniquePlant()}.order.MO_retry`;
        const event = newEvent('OrderOpened', { orderId: 'MO_retry' });
        const first = await store.appendToStream(stream, [event], { expectedRevision: 'no_stream' });
        const retried = await store.appendToStream(stream, [event], { expectedRevision: 'no_stream' });
        expect(retried).toMatchObject({ duplicate: true, nextRevision: first.nextRevision });
        expect((await store.readStream(stream)).events).toHaveLength(1);
      });
    });

    describe('the hash chain', () => {
      it('chains every event of a stream to the one before it, from the start, across appends', async () => {
        const stream = `${uniquePlant()}.order.MO_chain`;
        const a = await store.appendToStream(stream, [newEvent('A', 1)], { expectedRevision: 'no_stream' });
        await store.appendToStream(stream, [newEvent('B', 2), newEvent('C', { nested: { z: 1, a: [true, null] } })], { expectedRevision: a.nextRevision });
        const { events } = await store.readStream(stream);
        expect(events[0]!.previousHash).toBe(GENESIS_HASH);
        const cursor = newCursor(stream);
        for (const event of events) expect(checkLink(cursor, event)).toBeUndefined();
        expect(events.map((e) => e.previousHash)).toEqual([GENESIS_HASH, events[0]!.hash, events[1]!.hash]);
      });

      it('keeps one chain when appends without an expected revision race', async () => {
        const stream = `${uniquePlant()}.machine.M_race`;
        await Promise.all(Array.from({ length: 20 }, (_, i) => store.appendToStream(stream, [newEvent('Reading', i)], { expectedRevision: 'any' })));
        const { events } = await store.readStream(stream);
        expect(events).toHaveLength(20);
        const cursor = newCursor(stream);
        for (const event of events) expect(checkLink(cursor, event), `event ${String(event.data)}`).toBeUndefined();
      });

      it('gives a repeated append the hashes of the first', async () => {
        const stream = `${uniquePlant()}.order.MO_again`;
        const event = newEvent('A', 1);
        await store.appendToStream(stream, [event], { expectedRevision: 'no_stream' });
        await store.appendToStream(stream, [event], { expectedRevision: 'no_stream' });
        const { events } = await store.readStream(stream);
        expect(events).toHaveLength(1);
        expect(checkLink(newCursor(stream), events[0]!)).toBeUndefined();
      });

      it('serves the chain through reads of the whole log and subscriptions as stored', async () => {
        const plant = uniquePlant();
        await writeInterleaved(store, [`${plant}.order.A`, `${plant}.order.B`], 3);
        const cursors = new Map<string, ReturnType<typeof newCursor>>();
        for await (const event of store.readAll({ plantId: plant })) {
          const cursor = cursors.get(event.stream) ?? newCursor(event.stream);
          cursors.set(event.stream, cursor);
          expect(checkLink(cursor, event)).toBeUndefined();
        }
        expect([...cursors.values()].map((c) => c.events)).toEqual([3, 3]);
      });
    });

    describe('the trace context', () => {
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

      it('keeps the trace context an event was appended with, under its hash, through every read', async () => {
        const plant = uniquePlant();
        const stream = `${plant}.order.MO_traced`;
        const traced = { ...newEvent('A', 1), traceparent, tracestate: 'plant=p1' };
        await store.appendToStream(stream, [traced, newEvent('B', 2)], { expectedRevision: 'no_stream' });
        const [first, second] = (await store.readStream(stream)).events;
        expect(first).toMatchObject({ traceparent, tracestate: 'plant=p1' });
        expect(second?.traceparent).toBeUndefined();
        expect(checkLink(newCursor(stream), first!)).toBeUndefined();
        expect(checkLink(newCursor(stream), { ...first!, traceparent: traceparent.replace('-01', '-00') })).toBeDefined();
        expect((await store.lastEvent(stream))?.traceparent).toBeUndefined();
        const all: RecordedEvent[] = [];
        for await (const event of store.readAll({ plantId: plant })) all.push(event);
        expect(all.map((e) => e.traceparent)).toEqual([traceparent, undefined]);
      });

      it('writes the context of the span appending into each event that has none', async () => {
        const collector = collectSpans();
        try {
          const stream = `${uniquePlant()}.order.MO_span`;
          await inSpan('append', { root: true }, () => store.appendToStream(stream, [newEvent('A', 1), { ...newEvent('B', 2), traceparent }], { expectedRevision: 'no_stream' }));
          const span = collector.spans().find((s) => s.name === 'append')!;
          const { events } = await store.readStream(stream);
          expect(events.map((e) => e.traceparent)).toEqual([`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`, traceparent]);
          const cursor = newCursor(stream);
          for (const event of events) expect(checkLink(cursor, event)).toBeUndefined();
        } finally {
          await collector.stop();
        }
      });
    });

    describe('many appends in flight', () => {
      it('stores each of hundreds of appends started at once, to many streams, and resolves each', async () => {
        const plant = uniquePlant();
        const appends = Array.from({ length: 400 }, (_, i) => ({ stream: `${plant}.machine.M${i % 50}`, event: newEvent('Reading', { i }) }));
        const results = await Promise.all(appends.map(({ stream, event }) => store.appendToStream(stream, [event], { expectedRevision: 'any' })));
        expect(results.every((r) => !r.duplicate)).toBe(true);
        const all: RecordedEvent[] = [];
        for await (const event of store.readAll({ plantId: plant })) all.push(event);
        expect(all.map((e) => e.eventId).sort()).toEqual(appends.map((a) => a.event.eventId).sort());
        // Within a stream, the order of the appends each writer awaited in turn is not promised; that they all landed is.
        expect((await store.readStream(`${plant}.machine.M7`)).events).toHaveLength(8);
      });
    });

    describe('the last event and the end of the log', () => {
      it('reads a stream\'s last event without the rest, and nothing for an empty stream', async () => {
        const stream = `${uniquePlant()}.machine.M1`;
        expect(await store.lastEvent(stream)).toBeUndefined();
        await store.appendToStream(stream, [newEvent('A', 1)], { expectedRevision: 'no_stream' });
        const appended = await store.appendToStream(stream, [newEvent('B', 2), newEvent('C', 3)], { expectedRevision: 'any' });
        const last = await store.lastEvent(stream);
        expect(last).toMatchObject({ type: 'C', data: 3, stream, position: appended.position });
      });

      it('knows a stream\'s revision without reading it', async () => {
        const stream = `${uniquePlant()}.machine.M1`;
        expect(await store.streamRevision(stream)).toBe('no_stream');
        const first = await store.appendToStream(stream, [newEvent('A', 1)], { expectedRevision: 'no_stream' });
        expect(await store.streamRevision(stream)).toBe(first.nextRevision);
        const second = await store.appendToStream(stream, [newEvent('B', 2), newEvent('C', 3)], { expectedRevision: first.nextRevision });
        expect(await store.streamRevision(stream)).toBe(second.nextRevision);
        expect((await store.readStream(stream)).revision).toBe(second.nextRevision);
      });

      it('never returns another stream\'s last event', async () => {
        const plant = uniquePlant();
        await store.appendToStream(`${plant}.machine.M1`, [newEvent('Mine', 1)], { expectedRevision: 'no_stream' });
        await store.appendToStream(`${plant}.machine.M10`, [newEvent('Other', 2)], { expectedRevision: 'no_stream' });
        expect((await store.lastEvent(`${plant}.machine.M1`))?.type).toBe('Mine');
      });

      it('knows where the log of a plant ends, and how much follows a position', async () => {
        const plant = uniquePlant();
        expect(await store.headPosition({ plantId: plant })).toBeUndefined();
        const first = await store.appendToStream(`${plant}.order.A`, [newEvent('A', 1)], { expectedRevision: 'no_stream' });
        await store.appendToStream(`${uniquePlant()}.order.A`, [newEvent('Elsewhere', 1)], { expectedRevision: 'no_stream' });
        const last = await store.appendToStream(`${plant}.order.B`, [newEvent('B', 1), newEvent('C', 2)], { expectedRevision: 'no_stream' });
        expect(await store.headPosition({ plantId: plant })).toBe(last.position);
        const head = await store.headPosition();
        expect(head !== undefined && head >= last.position).toBe(true);

        const count = await store.countAfter(first.position, { plantId: plant });
        // A store that cannot count says so (undefined) rather than guessing.
        if (count !== undefined) {
          expect(count).toBe(1);
          expect(await store.countAfter(undefined, { plantId: plant })).toBe(2);
          expect(await store.countAfter(last.position, { plantId: plant })).toBe(0);
        }
      });
    });

    describe('read all', () => {
      it('delivers every event exactly once, in order per stream, with increasing positions', async () => {
        const plant = uniquePlant();
        const streams = Array.from({ length: 5 }, (_, i) => `${plant}.workflow.W${i}`);
        const written = await writeInterleaved(store, streams, 20);
        const all: RecordedEvent[] = [];
        for await (const event of store.readAll({ plantId: plant })) all.push(event);
        expect(all).toHaveLength(100);
        expect(byStream(all)).toEqual(written);
        expectIncreasing(all.map((e) => e.position));
      });

      it('reads from a position onwards, exclusive, and only the plant asked for', async () => {
        const plant = uniquePlant();
        const other = uniquePlant();
        await writeInterleaved(store, [`${plant}.order.A`, `${other}.order.A`, `${plant}.order.B`], 4);
        const all: RecordedEvent[] = [];
        for await (const event of store.readAll({ plantId: plant })) all.push(event);
        expect(all).toHaveLength(8);
        expect(all.every((e) => e.stream.startsWith(`${plant}.`))).toBe(true);
        const tail: RecordedEvent[] = [];
        for await (const event of store.readAll({ plantId: plant, after: all[2]!.position })) tail.push(event);
        expect(tail.map((e) => e.eventId)).toEqual(all.slice(3).map((e) => e.eventId));
      });

      it('reads each event of a multi-event append and resumes between them', async () => {
        const plant = uniquePlant();
        await store.appendToStream(`${plant}.order.M`, [newEvent('A', 1), newEvent('B', 2), newEvent('C', 3)], { expectedRevision: 'no_stream' });
        const all: RecordedEvent[] = [];
        for await (const event of store.readAll({ plantId: plant })) all.push(event);
        expect(all.map((e) => e.type)).toEqual(['A', 'B', 'C']);
        const after: RecordedEvent[] = [];
        for await (const event of store.readAll({ plantId: plant, after: all[0]!.position })) after.push(event);
        expect(after.map((e) => e.type)).toEqual(['B', 'C']);
      });
    });

    describe.runIf(capabilities.readsCategorySince)('read one category from a time', () => {
      it('reads a suffix of the category\'s events in log order, holding every one recorded since the time, and nothing of other categories or plants', async () => {
        const plant = uniquePlant();
        const other = uniquePlant();
        await writeInterleaved(store, [`${plant}.workflow.A`, `${plant}.order.A`, `${other}.workflow.A`], 2);
        await sleep(20);
        const since = new Date();
        await sleep(20);
        await writeInterleaved(store, [`${plant}.workflow.B`, `${plant}.workflow.C`, `${plant}.order.B`, `${other}.workflow.B`], 3);
        await store.appendToStream(`${plant}.workflow.A`, [newEvent('Step', { stream: 'A', i: 2 })], { expectedRevision: 'any' });
        const readSince = store.readCategorySince!.bind(store);
        const all: RecordedEvent[] = [];
        for await (const event of store.readAll({ plantId: plant })) if (event.stream.startsWith(`${plant}.workflow.`)) all.push(event);
        const got: RecordedEvent[] = [];
        for await (const event of readSince(plant, 'workflow', since)) got.push(event);
        expect(all).toHaveLength(9);
        // A suffix of the plant's workflow events, in log order, holding at least the 7 written after `since`.
        expect(got.length).toBeGreaterThanOrEqual(7);
        expect(got.map((e) => e.eventId)).toEqual(all.slice(all.length - got.length).map((e) => e.eventId));
        const fromLongAgo: RecordedEvent[] = [];
        for await (const event of readSince(plant, 'workflow', new Date(Date.now() - 24 * 3600_000))) fromLongAgo.push(event);
        expect(fromLongAgo.map((e) => e.eventId)).toEqual(all.map((e) => e.eventId));
        const fromLater: RecordedEvent[] = [];
        for await (const event of readSince(plant, 'workflow', new Date(Date.now() + 3600_000))) fromLater.push(event);
        expect(fromLater).toEqual([]);
      });

      it('refuses a plant id that is not a name token', async () => {
        const read = async () => {
          for await (const _ of store.readCategorySince!('P1.>', 'workflow', new Date())) return;
        };
        await expect(read()).rejects.toThrow(/plant id "P1\.>" is not a valid name token/);
      });
    });

    describe('subscribe', () => {
      it('delivers existing and new events exactly once, in order per stream', async () => {
        const plant = uniquePlant();
        const streams = Array.from({ length: 4 }, (_, i) => `${plant}.machine.M${i}`);
        const before = await writeInterleaved(store, streams, 5);
        const received: RecordedEvent[] = [];
        const subscription = store.subscribeToAll({ plantId: plant, onEvent: (e) => void received.push(e) });
        const moreStreams = streams.map((s) => s.replace('.M', '.N'));
        const after = await writeInterleaved(store, moreStreams, 5);
        await waitFor(received, 40);
        await sleep(300);
        await subscription.stop();
        expect(received).toHaveLength(40);
        expect(byStream(received)).toEqual(new Map([...before, ...after]));
        expectIncreasing(received.map((e) => e.position));
      });

      it('resumes from a checkpoint after a stop and misses nothing', async () => {
        const plant = uniquePlant();
        const stream = `${plant}.order.MO_resume`;
        let revision = (await store.appendToStream(stream, Array.from({ length: 10 }, (_, i) => newEvent('Step', i)), { expectedRevision: 'no_stream' })).nextRevision;
        const firstRun: RecordedEvent[] = [];
        let checkpoint: GlobalPosition | undefined;
        const first = store.subscribeToAll({
          plantId: plant,
          onEvent: (e) => {
            firstRun.push(e);
            checkpoint = e.position;
          },
        });
        await waitFor(firstRun, 10);
        await first.stop();
        for (let i = 10; i < 20; i++) revision = (await store.appendToStream(stream, [newEvent('Step', i)], { expectedRevision: revision })).nextRevision;

        const secondRun: RecordedEvent[] = [];
        const second = store.subscribeToAll({ plantId: plant, after: checkpoint, onEvent: (e) => void secondRun.push(e) });
        await waitFor(secondRun, 10);
        await sleep(300);
        await second.stop();
        expect([...firstRun, ...secondRun].map((e) => e.data)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      });

      it('stops on a handler error and redelivers that event from the checkpoint', async () => {
        const plant = uniquePlant();
        await store.appendToStream(`${plant}.order.MO_err`, [newEvent('A', 1), newEvent('B', 2), newEvent('C', 3)], { expectedRevision: 'no_stream' });
        let checkpoint: GlobalPosition | undefined;
        const failing = store.subscribeToAll({
          plantId: plant,
          onEvent: (e) => {
            if (e.type === 'B') throw new Error('projection failed');
            checkpoint = e.position;
          },
        });
        await expect(failing.done).rejects.toThrow('projection failed');
        const resumed: RecordedEvent[] = [];
        const again = store.subscribeToAll({ plantId: plant, after: checkpoint, onEvent: (e) => void resumed.push(e) });
        await waitFor(resumed, 2);
        await again.stop();
        expect(resumed.map((e) => e.type)).toEqual(['B', 'C']);
      });
    });
  });
}

/**
 * The store with some of its operations replaced: a test's way to make a real store stall or fail
 * at one point (a crash between two writes), everything else going to the store itself.
 */
export function withOverrides(store: EventStore, overrides: Partial<EventStore>): EventStore {
  return {
    appendToStream: overrides.appendToStream ?? store.appendToStream.bind(store),
    readStream: overrides.readStream ?? store.readStream.bind(store),
    lastEvent: overrides.lastEvent ?? store.lastEvent.bind(store),
    streamRevision: overrides.streamRevision ?? store.streamRevision.bind(store),
    headPosition: overrides.headPosition ?? store.headPosition.bind(store),
    countAfter: overrides.countAfter ?? store.countAfter.bind(store),
    readAll: overrides.readAll ?? store.readAll.bind(store),
    // Optional in the port: an override of `undefined` takes it away (the store then looks like one without it).
    ...('readCategorySince' in overrides ? (overrides.readCategorySince ? { readCategorySince: overrides.readCategorySince } : {}) : store.readCategorySince ? { readCategorySince: store.readCategorySince.bind(store) } : {}),
    subscribeToAll: overrides.subscribeToAll ?? store.subscribeToAll.bind(store),
    ping: overrides.ping ?? store.ping.bind(store),
    close: overrides.close ?? store.close.bind(store),
  };
}
