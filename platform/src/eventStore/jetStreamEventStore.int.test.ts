import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsStreamSpec, ensureStream } from '../nats/topology.js';
import { describeEventStoreContract, newEvent, uniquePlant, waitFor } from '../testing/eventStoreContract.js';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import type { RecordedEvent } from './eventStore.js';
import { JetStreamEventStore } from './jetStreamEventStore.js';

const STREAM = 'TEST_EVENTS';
const PREFIX = 'tes';

async function openStore(url: string): Promise<{ nc: NatsConnection; store: JetStreamEventStore }> {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, eventsStreamSpec(STREAM, PREFIX));
  return { nc, store: new JetStreamEventStore({ nc, stream: STREAM, subjectPrefix: PREFIX }) };
}

describeEventStoreContract('JetStream', async () => {
  const server = await startNatsServer();
  const a = await openStore(server.url);
  const b = await openStore(server.url);
  return {
    store: a.store,
    otherStore: b.store,
    async dispose() {
      await a.store.close();
      await b.store.close();
      await a.nc.close();
      await b.nc.close();
      await server.dispose();
    },
  };
}, { readsCategorySince: true });

describe('JetStream event store across a nats-server restart', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let store: JetStreamEventStore;

  beforeAll(async () => {
    server = await startNatsServer();
    ({ nc, store } = await openStore(server.url));
  });
  afterAll(async () => {
    await store?.close();
    await nc?.close();
    await server?.dispose();
  });

  it('keeps a subscription going through a restart: nothing lost, nothing duplicated', async () => {
    const plant = uniquePlant();
    const stream = `${plant}.machine.M1`;
    const received: RecordedEvent[] = [];
    const subscription = store.subscribeToAll({ plantId: plant, onEvent: (e) => void received.push(e) });

    // A writer that appends 0..N-1 in order, retrying each append until it is stored, as a service would.
    const total = 60;
    let revision: bigint | 'no_stream' = 'no_stream';
    const writer = (async () => {
      for (let i = 0; i < total; i++) {
        const event = newEvent('Step', i, `restart-${plant}-${i}`);
        for (;;) {
          try {
            revision = (await store.appendToStream(stream, [event], { expectedRevision: revision })).nextRevision;
            break;
          } catch {
            // The server is down: the append may or may not have landed; the same event id makes the retry safe.
            await sleep(100);
            const read = await store.readStream(stream).catch(() => undefined);
            if (read?.events.some((e) => e.eventId === event.eventId)) {
              revision = read.revision;
              break;
            }
            if (read) revision = read.revision;
          }
        }
        await sleep(10);
      }
    })();

    await waitFor(received, 20);
    await server.restart();
    await writer;
    await waitFor(received, total, 30_000);
    await sleep(500);
    await subscription.stop();

    expect(received.map((e) => e.data)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(new Set(received.map((e) => e.position)).size).toBe(total);
  });

  it('keeps the events through a crash of the server (SIGKILL)', async () => {
    const stream = `${uniquePlant()}.order.MO_crash`;
    await store.appendToStream(stream, [newEvent('A', 1), newEvent('B', 2)], { expectedRevision: 'no_stream' });
    await server.kill();
    await server.start();
    let read;
    for (let attempt = 0; attempt < 50 && !read; attempt++) {
      read = await store.readStream(stream).catch(async () => { await sleep(200); return undefined; });
    }
    expect(read?.events.map((e) => e.type)).toEqual(['A', 'B']);
  });
});

describe('JetStream event store: the whole log', () => {
  let server: NatsServerHandle;
  let opened: { nc: NatsConnection; store: JetStreamEventStore };

  beforeAll(async () => {
    server = await startNatsServer();
    opened = await openStore(server.url);
  });

  afterAll(async () => {
    await opened?.store.close();
    await opened?.nc.close();
    await server?.dispose();
  });

  it('knows where it ends and how many appends follow a position', async () => {
    const { store } = opened;
    expect(await store.headPosition()).toBeUndefined();
    expect(await store.countAfter(undefined)).toBe(0);
    const first = await store.appendToStream(`${uniquePlant()}.order.A`, [newEvent('A', 1)], { expectedRevision: 'no_stream' });
    const second = await store.appendToStream(`${uniquePlant()}.order.B`, [newEvent('B', 1)], { expectedRevision: 'no_stream' });
    const last = await store.appendToStream(`${uniquePlant()}.order.C`, [newEvent('C', 1), newEvent('D', 2)], { expectedRevision: 'no_stream' });
    expect(await store.headPosition()).toBe(last.position);
    expect(await store.countAfter(undefined)).toBe(3);
    expect(await store.countAfter(first.position)).toBe(2);
    expect(await store.countAfter(last.position)).toBe(0);
    expect(await store.countAfter(second.position)).toBe(1);
    // Per plant: the same answers through a consumer of the plant's subjects.
    expect(await store.headPosition({ plantId: 'nowhere' })).toBeUndefined();
  });

  it('keeps in each append the sequence of the one before it, and reads the stream back to its first', async () => {
    const { store, nc } = opened;
    const plant = uniquePlant();
    const stream = `${plant}.order.L1`;
    const other = `${plant}.order.L2`;
    let revision: bigint | 'no_stream' = 'no_stream';
    for (let i = 0; i < 3; i++) {
      await store.appendToStream(other, [newEvent('Other', { i })], { expectedRevision: 'any' });
      revision = (await store.appendToStream(stream, [newEvent('Step', { i }), newEvent('Step', { i, part: 2 })], { expectedRevision: revision })).nextRevision;
    }
    const jsm = await jetstreamManager(nc);
    const last = await jsm.streams.getMessage(STREAM, { last_by_subj: `${PREFIX}.${stream}` });
    const previous = Number(last!.header!.get('Nats-Expected-Last-Subject-Sequence'));
    const before = await jsm.streams.getMessage(STREAM, { seq: previous });
    expect(before!.subject).toBe(`${PREFIX}.${stream}`);

    const read = await store.readStream(stream);
    expect(read.revision).toBe(BigInt(last!.seq));
    expect(read.events.map((e) => e.data)).toEqual([0, 1, 2].flatMap((i) => [{ i }, { i, part: 2 }]));
    const tail = await store.readStream(stream, { after: BigInt(previous) });
    expect(tail.events.map((e) => e.data)).toEqual([{ i: 2 }, { i: 2, part: 2 }]);
    expect((await store.readStream(stream, { after: read.revision as bigint })).events).toEqual([]);
  });

  it('reads forwards a stream with a message that names no append before it (written by anything but this store)', async () => {
    const { store, nc } = opened;
    const plant = uniquePlant();
    const stream = `${plant}.order.F1`;
    // A message published to the stream's subject without the header, then appends by the store after it.
    const js = (await import('@nats-io/jetstream')).jetstream(nc);
    await js.publish(`${PREFIX}.${stream}`, JSON.stringify([{ ...newEvent('Raw', { raw: true }), stream }]));
    await store.appendToStream(stream, [newEvent('Step', { i: 1 })], { expectedRevision: 'any' });
    await store.appendToStream(stream, [newEvent('Step', { i: 2 })], { expectedRevision: 'any' });
    const read = await store.readStream(stream);
    expect(read.events.map((e) => e.type)).toEqual(['Raw', 'Step', 'Step']);
  });
});
