// The command handler with an aggregate cache, against a real JetStream store: the stream is not
// read again for an aggregate this process wrote last, and a cached state is never what a decision
// rests on once another writer changed the stream (the append refuses it, or the stream's revision
// is checked before a decision of nothing or a refusal stands).
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError, type Decider, type DomainMessage } from '../domain/decider.js';
import { WrongExpectedRevisionError, type EventStore } from '../eventStore/eventStore.js';
import { JetStreamEventStore } from '../eventStore/jetStreamEventStore.js';
import { ensureStream, eventsStreamSpec } from '../nats/topology.js';
import { uniquePlant, withOverrides } from '../testing/eventStoreContract.js';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import { AggregateCache } from './aggregateCache.js';
import { handleCommand } from './commandHandler.js';

type Command = { type: 'Set'; value: number } | { type: 'Close' };
type Event = DomainMessage<'ValueSet', { value: number }> | DomainMessage<'Closed', Record<string, never>>;
type State = { value: number; closed: boolean };

/** Sets a value (nothing when it is the value already); refuses anything once closed. */
const register: Decider<Command, Event, State> = {
  initialState: { value: 0, closed: false },
  decide(command, state): Event[] {
    if (state.closed) throw new DomainError('CLOSED', 'the register is closed');
    if (command.type === 'Close') return [{ type: 'Closed', version: 1, data: {} }];
    return command.value === state.value ? [] : [{ type: 'ValueSet', version: 1, data: { value: command.value } }];
  },
  evolve: (state, event) => (event.type === 'Closed' ? { ...state, closed: true } : { ...state, value: event.data.value }),
  decode(stored): Event {
    if (stored.type === 'Closed') return { type: 'Closed', version: 1, data: {} };
    const value = (stored.data as { value?: unknown } | null)?.value;
    if (stored.type === 'ValueSet' && typeof value === 'number') return { type: 'ValueSet', version: 1, data: { value } };
    throw new Error(`not a register event: ${stored.type}`);
  },
};

const context = { correlationId: 'c-1', causationId: null, actor: { kind: 'service' as const, id: 'test' } };

let server: NatsServerHandle;
let nc: NatsConnection;
let store: JetStreamEventStore;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  await ensureStream(await jetstreamManager(nc), eventsStreamSpec('CACHE', 'cache'));
  store = new JetStreamEventStore({ nc, stream: 'CACHE', subjectPrefix: 'cache' });
});
afterAll(async () => {
  await store?.close();
  await nc?.close();
  await server?.dispose();
});

/** The store, counting the full reads of streams. */
function counted(): { store: EventStore; reads: () => number } {
  let reads = 0;
  return {
    store: withOverrides(store, {
      readStream: (stream) => {
        reads++;
        return store.readStream(stream);
      },
    }),
    reads: () => reads,
  };
}

const set = (value: number): Command => ({ type: 'Set', value });

describe('handling commands with an aggregate cache', () => {
  it('does not read the stream again for an aggregate this process wrote last', async () => {
    const stream = `${uniquePlant()}.order.R1`;
    const cache = new AggregateCache<State>();
    const { store: counting, reads } = counted();
    const deps = { store: counting, now: () => new Date() };
    for (let value = 1; value <= 5; value++) await handleCommand(deps, register, stream, set(value), context, { cache });
    expect(reads()).toBe(1);
    expect((await store.readStream(stream)).events.map((e) => e.data)).toEqual([1, 2, 3, 4, 5].map((value) => ({ value })));
  });

  it('decides again on the stream as it is when another writer appended meanwhile', async () => {
    const stream = `${uniquePlant()}.order.R2`;
    const cache = new AggregateCache<State>();
    const deps = { store, now: () => new Date() };
    await handleCommand(deps, register, stream, set(1), context, { cache });
    // Another copy, without this process's cache, sets 2.
    await handleCommand(deps, register, stream, set(2), context);
    const result = await handleCommand(deps, register, stream, set(3), context, { cache });
    expect(result.state).toEqual({ value: 3, closed: false });
    expect(result.attempts).toBe(2);
    expect((await store.readStream(stream)).events.map((e) => e.data)).toEqual([{ value: 1 }, { value: 2 }, { value: 3 }]);
  });

  it('after a conflict, reads only the events that followed the state it decided on', async () => {
    const stream = `${uniquePlant()}.order.R8`;
    const cache = new AggregateCache<State>();
    const deps = { store, now: () => new Date() };
    for (let value = 1; value <= 20; value++) await handleCommand(deps, register, stream, set(value), context, { cache });
    // Another copy, without this process's cache, sets 21.
    await handleCommand(deps, register, stream, set(21), context);
    const reads: (bigint | undefined)[] = [];
    const watching = withOverrides(store, {
      readStream: (name, options) => {
        reads.push(options?.after);
        return store.readStream(name, options);
      },
    });
    const result = await handleCommand({ store: watching, now: () => new Date() }, register, stream, set(22), context, { cache });
    expect(result.attempts).toBe(2);
    expect(reads).toHaveLength(1);
    expect(reads[0]).toBeTypeOf('bigint');
    expect((await store.readStream(stream)).events.map((e) => e.data)).toEqual(Array.from({ length: 22 }, (_, i) => ({ value: i + 1 })));
    // The caught-up state was right: the cache now holds it, and a decision of nothing reads only what followed.
    reads.length = 0;
    const same = await handleCommand({ store: watching, now: () => new Date() }, register, stream, set(22), context, { cache });
    expect(same.events).toEqual([]);
    expect(same.state).toEqual({ value: 22, closed: false });
    expect(reads.every((after) => after !== undefined)).toBe(true);
  });

  it('confirms a decision of nothing against the stream before it stands', async () => {
    const stream = `${uniquePlant()}.order.R3`;
    const cache = new AggregateCache<State>();
    const deps = { store, now: () => new Date() };
    await handleCommand(deps, register, stream, set(1), context, { cache });
    await handleCommand(deps, register, stream, set(2), context);
    // The cache says the value is 1 already; the stream says 2: setting 1 must append.
    const result = await handleCommand(deps, register, stream, set(1), context, { cache });
    expect(result.events).toEqual([{ type: 'ValueSet', version: 1, data: { value: 1 } }]);
    expect((await store.readStream(stream)).events.map((e) => e.data)).toEqual([{ value: 1 }, { value: 2 }, { value: 1 }]);
  });

  it('refuses only on the stream as it is, not on a stale cached state', async () => {
    const stream = `${uniquePlant()}.order.R4`;
    const cache = new AggregateCache<State>();
    const deps = { store, now: () => new Date() };
    await handleCommand(deps, register, stream, { type: 'Close' }, context, { cache });
    // Another copy cannot reopen a closed register, so make the cache stale the other way: a fresh
    // stream whose cached state says closed while the stream is open.
    const open = `${uniquePlant()}.order.R5`;
    cache.set(open, { revision: 1n, state: { value: 0, closed: true } });
    await handleCommand(deps, register, open, set(4), context);
    const result = await handleCommand(deps, register, open, set(5), context, { cache });
    expect(result.state).toEqual({ value: 5, closed: false });
    await expect(handleCommand(deps, register, stream, set(9), context, { cache })).rejects.toThrow('the register is closed');
  });

  it('reads the stream when an append from the cache turns out to be a repeat of one stored before', async () => {
    const stream = `${uniquePlant()}.order.R6`;
    const cache = new AggregateCache<State>();
    const ids = (prefix: string) => ({ store, now: () => new Date(), eventId: (index: number) => `${prefix}/${index}` });
    await handleCommand(ids('first'), register, stream, set(1), context, { cache });
    // Another copy handled "set 2" (ids second/0), then "set 3".
    await handleCommand(ids('second'), register, stream, set(2), context);
    await handleCommand(ids('third'), register, stream, set(3), context);
    // This process gets "set 2" redelivered: from its cache it decides the same event again, which
    // the store drops as a repeat. Nothing new was written, and the result is the stream's state.
    const result = await handleCommand(ids('second'), register, stream, set(2), context, { cache });
    expect(result.duplicate).toBe(true);
    expect(result.events).toEqual([{ type: 'ValueSet', version: 1, data: { value: 2 } }]);
    expect(result.state).toEqual({ value: 3, closed: false });
    expect((await store.readStream(stream)).events.map((e) => e.data)).toEqual([{ value: 1 }, { value: 2 }, { value: 3 }]);
    // The cache was not left with the repeat's state: the next command decides on the stream.
    const next = await handleCommand(ids('fourth'), register, stream, set(3), context, { cache });
    expect(next.events).toEqual([]);
    expect(next.duplicate).toBeUndefined();
  });

  it('reports events whose append was stored although the answer was a conflict (a resend refused for the revision its first send moved on)', async () => {
    const stream = `${uniquePlant()}.order.R7`;
    await handleCommand({ store, now: () => new Date() }, register, stream, set(1), context);
    // The first send is stored but its ack is lost; the resend is checked against the expected
    // revision before its duplicate id, and refused.
    let appends = 0;
    const lostAck: EventStore = withOverrides(store, {
      appendToStream: async (...args) => {
        appends++;
        await store.appendToStream(...args);
        throw new WrongExpectedRevisionError(stream, args[2]?.expectedRevision ?? 'any');
      },
    });
    const result = await handleCommand({ store: lostAck, now: () => new Date() }, register, stream, set(2), context);
    expect(appends).toBe(1);
    expect(result.duplicate).toBe(true);
    expect(result.events).toEqual([{ type: 'ValueSet', version: 1, data: { value: 2 } }]);
    expect(result.state).toEqual({ value: 2, closed: false });
    expect((await store.readStream(stream)).events.map((e) => e.data)).toEqual([{ value: 1 }, { value: 2 }]);
  });
});

describe('handling a command that starts its aggregate (startsStream)', () => {
  /** The store, counting every read of a stream (whole or after a revision). */
  function countingReads(): { store: EventStore; reads: () => number } {
    let reads = 0;
    return {
      store: withOverrides(store, {
        readStream: (stream, options) => {
          reads++;
          return store.readStream(stream, options);
        },
      }),
      reads: () => reads,
    };
  }
  const values = async (stream: string) => (await store.readStream(stream)).events.map((e) => (e.data as { value?: number }).value);

  it('appends to a new stream without reading it first', async () => {
    const stream = `${uniquePlant()}.order.N1`;
    const { store: counting, reads } = countingReads();
    const result = await handleCommand({ store: counting, now: () => new Date() }, register, stream, set(3), context, { startsStream: true });
    expect(reads()).toBe(0);
    expect(result.events).toEqual([{ type: 'ValueSet', version: 1, data: { value: 3 } }]);
    expect(result.revision).toEqual((await store.readStream(stream)).revision);
    expect(await values(stream)).toEqual([3]);
  });

  it('decides on the stream as it is when the aggregate exists already (its append is refused, then it reads)', async () => {
    const stream = `${uniquePlant()}.order.N2`;
    await handleCommand({ store, now: () => new Date() }, register, stream, set(5), context);
    const { store: counting, reads } = countingReads();
    // On a new register, Set 5 would set it; on the stream as it is, it is the value already.
    const result = await handleCommand({ store: counting, now: () => new Date() }, register, stream, set(5), context, { startsStream: true });
    expect(result.events).toEqual([]);
    expect(result.state).toEqual({ value: 5, closed: false });
    expect(reads()).toBeGreaterThanOrEqual(1);
    expect(await values(stream)).toEqual([5]);
  });

  it('confirms a decision of nothing on the initial state against the stream', async () => {
    const stream = `${uniquePlant()}.order.N3`;
    await handleCommand({ store, now: () => new Date() }, register, stream, set(5), context);
    // Set 0 changes nothing on a new register, but this one holds 5.
    const result = await handleCommand({ store, now: () => new Date() }, register, stream, set(0), context, { startsStream: true });
    expect(result.events).toEqual([{ type: 'ValueSet', version: 1, data: { value: 0 } }]);
    expect(await values(stream)).toEqual([5, 0]);
  });

  it('refuses only on the stream as it is', async () => {
    const stream = `${uniquePlant()}.order.N4`;
    await handleCommand({ store, now: () => new Date() }, register, stream, { type: 'Close' }, context);
    await expect(handleCommand({ store, now: () => new Date() }, register, stream, set(1), context, { startsStream: true })).rejects.toThrow(/closed/);
    const empty = `${uniquePlant()}.order.N5`;
    expect((await handleCommand({ store, now: () => new Date() }, register, empty, set(0), context, { startsStream: true })).events).toEqual([]);
    expect((await store.readStream(empty)).revision).toBe('no_stream');
  });
});

