// The durable worker by key, against a real nats-server: many keys interleaved are handled
// concurrently and each key in order, a failed message holds its key's later messages back until
// it succeeds, and two copies of one consumer together apply every message exactly once per
// aggregate, in order, because the effect checks the aggregate's revision.
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamEventStore } from '../eventStore/jetStreamEventStore.js';
import { WrongExpectedRevisionError } from '../eventStore/eventStore.js';
import { ensureStream, eventsStreamSpec } from '../nats/topology.js';
import { createLogger } from '../runtime/logger.js';
import { newEvent, waitFor } from '../testing/eventStoreContract.js';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import { startDurableWorker, type DurableWorker } from './durableWorker.js';

const logger = createLogger({ service: 'test', level: 'silent' });

let server: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, { name: 'WORK', subjects: ['work.>'], storage: StorageType.File, retention: RetentionPolicy.Limits });
  await ensureStream(jsm, eventsStreamSpec('AGG', 'agg'));
});
afterAll(async () => {
  await nc?.close();
  await server?.dispose();
});

interface Item {
  key: string;
  index: number;
}

async function publishInterleaved(prefix: string, keys: number, perKey: number): Promise<void> {
  const js = jetstream(nc);
  for (let index = 0; index < perKey; index++) {
    for (let k = 0; k < keys; k++) await js.publish(`work.${prefix}.${k}`, JSON.stringify({ key: `${prefix}-${k}`, index }));
  }
}

function worker(prefix: string, durable: string, handle: (item: Item) => Promise<void>): Promise<DurableWorker> {
  return startDurableWorker({
    nc,
    stream: 'WORK',
    logger,
    consumer: { durable_name: durable, filter_subject: `work.${prefix}.>`, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All },
    keyOf: (msg) => msg.json<Item>().key,
    concurrency: 16,
    handle: async (msg) => {
      await handle(msg.json<Item>());
      return { kind: 'ack' };
    },
  });
}

describe('a durable worker by key', () => {
  it('handles different keys concurrently and each key in order', async () => {
    await publishInterleaved('a', 20, 15);
    const seen = new Map<string, number[]>();
    let running = 0;
    let mostAtOnce = 0;
    const all: Item[] = [];
    const w = await worker('a', 'worker-a', async (item) => {
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      // Uneven handling times, so keys overtake each other.
      await sleep((item.index * 7 + Number(item.key.split('-')[1])) % 9);
      seen.set(item.key, [...(seen.get(item.key) ?? []), item.index]);
      all.push(item);
      running--;
    });
    try {
      await waitFor(all, 300);
    } finally {
      await w.stop();
    }
    for (const [key, indexes] of seen) expect(indexes, key).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(seen.size).toBe(20);
    expect(mostAtOnce).toBeGreaterThan(1);
  });

  it('holds a key\'s later messages back while an earlier one fails, and handles them after it', async () => {
    await publishInterleaved('b', 3, 6);
    const seen = new Map<string, number[]>();
    const all: Item[] = [];
    let failures = 0;
    const w = await worker('b', 'worker-b', async (item) => {
      if (item.key === 'b-1' && item.index === 2 && failures < 2) {
        failures++;
        throw new Error('briefly failing');
      }
      seen.set(item.key, [...(seen.get(item.key) ?? []), item.index]);
      all.push(item);
    });
    try {
      await waitFor(all, 18, 30_000);
      await sleep(300);
    } finally {
      await w.stop();
    }
    expect(failures).toBe(2);
    for (const key of ['b-0', 'b-1', 'b-2']) expect(seen.get(key), key).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('with two copies, gives every message its effect exactly once, the aggregate\'s revision deciding', async () => {
    await publishInterleaved('c', 10, 12);
    const store = new JetStreamEventStore({ nc, stream: 'AGG', subjectPrefix: 'agg' });
    const handledBy = new Map<string, number>();
    const applied: Item[] = [];
    /** As a service's command handler does: read, decide (a repeat changes nothing), append at the revision read. */
    const apply = (copy: string) => async (item: Item): Promise<void> => {
      handledBy.set(copy, (handledBy.get(copy) ?? 0) + 1);
      const stream = `P1.order.${item.key}`;
      for (;;) {
        const { revision, events } = await store.readStream(stream);
        if (events.some((e) => e.data === item.index)) return;
        try {
          await store.appendToStream(stream, [newEvent('Applied', item.index)], { expectedRevision: revision });
          applied.push(item);
          return;
        } catch (err) {
          if (!(err instanceof WrongExpectedRevisionError)) throw err;
        }
      }
    };
    const copies = await Promise.all([worker('c', 'worker-c', apply('A')), worker('c', 'worker-c', apply('B'))]);
    try {
      await waitFor(applied, 120, 30_000);
      await sleep(500);
    } finally {
      await Promise.all(copies.map((copy) => copy.stop()));
    }
    expect(applied).toHaveLength(120);
    expect([...handledBy.keys()].sort()).toEqual(['A', 'B']);
    for (let k = 0; k < 10; k++) {
      const { events } = await store.readStream(`P1.order.c-${k}`);
      expect(events.map((e) => e.data as number).sort((x, y) => x - y), `c-${k}`).toEqual(Array.from({ length: 12 }, (_, i) => i));
    }
    await store.close();
  });
});
