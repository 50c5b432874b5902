import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import { FetchAhead, createOrderedConsumer, deliveryCounter } from './jetStreamLog.js';

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
