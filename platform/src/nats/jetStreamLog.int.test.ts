import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type Consumer, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import { FetchAhead, countAfterSequence, createOrderedConsumer, deliveryCounter, firstSequenceAtOrAfter, readRange } from './jetStreamLog.js';

const STREAM = 'TEST_FETCH_AHEAD';

describe('FetchAhead', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: STREAM, subjects: ['fa.>'] });
    const js = jetstream(nc);
    // Two subjects interleaved, so the filter matters; more messages than several pull requests hold.
    for (let i = 1; i <= 250; i++) await js.publish(i % 2 === 0 ? 'fa.even' : 'fa.odd', JSON.stringify({ i }));
  });

  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  it('reads every message of the filter in stream order across pull requests, then waits at the end for more until stopped', async () => {
    const created = await createOrderedConsumer(jsm, STREAM, 'fa.even', 1);
    const consumer = await jetstream(nc).consumers.get(STREAM, created.name);
    const counted = deliveryCounter(STREAM, 'fa.even');
    const fetches = new FetchAhead(consumer, { max_messages: 16, expires: 1_000, idle_heartbeat: 500 });
    const seen: number[] = [];
    const reading = (async () => {
      for await (const msg of fetches.messages()) {
        counted(msg);
        seen.push((msg.json() as { i: number }).i);
        // A slow reader: the next pull request is answered while this one is still being read.
        if (seen.length % 16 === 1) await new Promise((resolve) => setTimeout(resolve, 5));
        if (seen.length === 125) {
          // At the end of the stream for several heartbeats and expiries: the reader must still be there.
          setTimeout(() => {
            void jetstream(nc).publish('fa.odd', JSON.stringify({ i: 251 }));
            void jetstream(nc).publish('fa.even', JSON.stringify({ i: 252 }));
          }, 2_500);
        }
        if (seen.length === 126) fetches.stop();
      }
    })();
    await reading;
    expect(seen).toEqual([...Array.from({ length: 125 }, (_, k) => 2 * (k + 1)), 252]);
    await jsm.consumers.delete(STREAM, created.name);
  });

  it('ends a reader that waits at the end of the stream when stopped', async () => {
    const created = await createOrderedConsumer(jsm, STREAM, 'fa.none', 1);
    const consumer = await jetstream(nc).consumers.get(STREAM, created.name);
    const fetches = new FetchAhead(consumer, { max_messages: 16, expires: 30_000, idle_heartbeat: 1_000 });
    const reading = (async () => {
      let count = 0;
      for await (const _msg of fetches.messages()) count++;
      return count;
    })();
    setTimeout(() => fetches.stop(), 200);
    expect(await reading).toBe(0);
    await jsm.consumers.delete(STREAM, created.name);
  });
});

describe('countAfterSequence', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let consumersAdded = 0;
  /** The manager, counting the consumers it is asked to create. */
  let counting: JetStreamManager;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
    const consumers = Object.assign(Object.create(jsm.consumers) as JetStreamManager['consumers'], {
      add: (...args: Parameters<JetStreamManager['consumers']['add']>) => {
        consumersAdded++;
        return jsm.consumers.add(...args);
      },
    });
    counting = Object.assign(Object.create(jsm) as JetStreamManager, { consumers });
    await jsm.streams.add({ name: 'TEST_COUNT', subjects: ['cnt.>'] });
    const js = jetstream(nc);
    for (let i = 1; i <= 10; i++) await js.publish(i % 2 === 0 ? 'cnt.b.x' : 'cnt.a.x', String(i));
  });

  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  it('counts the messages after a sequence from the stream state when the filter is the whole stream, else through a consumer', async () => {
    consumersAdded = 0;
    expect(await countAfterSequence(counting, 'TEST_COUNT', 'cnt.>', 0)).toBe(10);
    expect(await countAfterSequence(counting, 'TEST_COUNT', 'cnt.>', 3)).toBe(7);
    expect(await countAfterSequence(counting, 'TEST_COUNT', 'cnt.>', 10)).toBe(0);
    expect(await countAfterSequence(counting, 'TEST_COUNT', 'cnt.>', 12)).toBe(0);
    expect(consumersAdded).toBe(0);
    expect(await countAfterSequence(counting, 'TEST_COUNT', 'cnt.a.>', 0)).toBe(5);
    expect(await countAfterSequence(counting, 'TEST_COUNT', 'cnt.a.>', 4)).toBe(3);
    expect(consumersAdded).toBe(2);
  });

  it('counts through a consumer once a message in between is deleted, and from the state again after the head is purged', async () => {
    await jsm.streams.deleteMessage('TEST_COUNT', 5);
    consumersAdded = 0;
    expect(await countAfterSequence(counting, 'TEST_COUNT', 'cnt.>', 0)).toBe(9);
    expect(await countAfterSequence(counting, 'TEST_COUNT', 'cnt.>', 6)).toBe(4);
    expect(consumersAdded).toBe(2);
    // Up to 6 gone from the head: no hole left in what remains (7..10).
    await jsm.streams.purge('TEST_COUNT', { seq: 7 });
    consumersAdded = 0;
    expect(await countAfterSequence(counting, 'TEST_COUNT', 'cnt.>', 0)).toBe(4);
    expect(await countAfterSequence(counting, 'TEST_COUNT', 'cnt.>', 8)).toBe(2);
    expect(consumersAdded).toBe(0);
  });
});

describe('readRange', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  /** The sizes of the pull requests readRange made, in order. */
  let asked: number[] = [];
  /** The client, recording what each pull request asks for. */
  let recording: JetStreamClient;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const consumers = Object.assign(Object.create(js.consumers) as JetStreamClient['consumers'], {
      get: async (...args: Parameters<JetStreamClient['consumers']['get']>) => {
        const consumer = await js.consumers.get(...args);
        return Object.assign(Object.create(consumer) as Consumer, {
          fetch: (options: Parameters<Consumer['fetch']>[0]) => {
            asked.push(options?.max_messages ?? 0);
            return consumer.fetch(options);
          },
        });
      },
    });
    recording = Object.assign(Object.create(js) as JetStreamClient, { consumers });
    await jsm.streams.add({ name: 'TEST_RANGE', subjects: ['rng.>'] });
    // 2,500 of the filter between 2,500 others: three pull requests of 1024 at most.
    for (let i = 1; i <= 5_000; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, k) => js.publish((i + k) % 2 === 0 ? 'rng.even' : 'rng.odd', JSON.stringify({ i: i + k }))));
    }
  });

  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  it('reads every message of the filter in stream order up to the end as it was when the read began, asking ahead for no more than is pending', async () => {
    asked = [];
    const seen: number[] = [];
    const js = jetstream(nc);
    for await (const msg of readRange(recording, jsm, 'TEST_RANGE', 'rng.even', 1)) {
      seen.push((msg.json() as { i: number }).i);
      // Appended while the range is read: after the end it began with, so not part of it.
      if (seen.length === 100) await js.publish('rng.even', JSON.stringify({ i: 5_002 }));
    }
    expect(seen).toEqual(Array.from({ length: 2_500 }, (_, k) => 2 * (k + 1)));
    // Never more than was pending (the one appended meanwhile included), so no request waits for its expiry at the end.
    expect(asked.reduce((sum, n) => sum + n, 0)).toBeLessThanOrEqual(2_501);
    expect(Math.max(...asked)).toBeLessThanOrEqual(1024);
  });

  it('reads from a start sequence and ends at once when nothing matches', async () => {
    const seen: number[] = [];
    for await (const msg of readRange(recording, jsm, 'TEST_RANGE', 'rng.even', 4_001)) seen.push((msg.json() as { i: number }).i);
    expect(seen).toEqual([...Array.from({ length: 500 }, (_, k) => 4_002 + 2 * k), 5_002]);
    const none: number[] = [];
    for await (const msg of readRange(recording, jsm, 'TEST_RANGE', 'rng.none', 1)) none.push(msg.seq);
    expect(none).toEqual([]);
  });

  // nats-server 2.9 miscounts what a filtered consumer starting mid-stream has pending (it counts
  // matching messages before its start): the range must end at its last matching message anyway.
  it('reads exactly the matching messages from a sequence in the middle, with a wildcard filter (where the server miscounts what is pending)', async () => {
    const js = jetstream(nc);
    const read = async (filter: string, from: number): Promise<string[]> => {
      const subjects: string[] = [];
      for await (const msg of readRange(js, jsm, 'TEST_RANGE', filter, from)) subjects.push(`${msg.seq} ${msg.subject}`);
      return subjects;
    };
    for (let round = 0; round < 10; round++) {
      const plant = `P${round}`;
      for (let i = 0; i < 20; i++) await js.publish(`rng.X${round}.order.${i}`, 'filler');
      for (const stream of ['workflow.A', 'order.A', 'workflow.A', 'order.A']) await js.publish(`rng.${plant}.${stream}`, 'before');
      const expected: string[] = [];
      const middle = (await js.publish(`rng.${plant}.workflow.B`, 'from')).seq;
      expected.push(`${middle} rng.${plant}.workflow.B`);
      for (const stream of ['workflow.C', 'order.B', 'workflow.B', 'order.B', 'workflow.A']) {
        const { seq } = await js.publish(`rng.${plant}.${stream}`, 'after');
        if (stream.startsWith('workflow.')) expected.push(`${seq} rng.${plant}.${stream}`);
      }
      await js.publish(`rng.${plant}.order.C`, 'last, not matching');
      expect(await read(`rng.${plant}.workflow.>`, middle)).toEqual(expected);
      expect(await read(`rng.${plant}.workflow.>`, middle + 1000)).toEqual([]);
    }
  });

  it('finds the first sequence stored at or after a time', async () => {
    const js = jetstream(nc);
    const before = (await js.publish('rng.T.a', '1')).seq;
    await new Promise((resolve) => setTimeout(resolve, 30));
    const time = new Date();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const after = (await js.publish('rng.T.b', '2')).seq;
    const found = await firstSequenceAtOrAfter(jsm, 'TEST_RANGE', time);
    expect(found).toBeGreaterThan(before);
    expect(found).toBeLessThanOrEqual(after);
    expect(await firstSequenceAtOrAfter(jsm, 'TEST_RANGE', new Date(Date.now() + 60_000))).toBe(after + 1);
    expect(await firstSequenceAtOrAfter(jsm, 'TEST_RANGE', new Date(0))).toBe(1);
  });
});
