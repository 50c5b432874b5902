import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStream, eventsStreamSpec } from '../nats/topology.js';
import { createLogger } from '../runtime/logger.js';
import { newEvent } from '../testing/eventStoreContract.js';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import type { RecordedEvent } from './eventStore.js';
import { startEventRelay } from './eventRelay.js';
import { JetStreamEventStore } from './jetStreamEventStore.js';

// The relay's source here is a second JetStream-backed store standing in for EventStoreDB: the relay
// only uses the EventStore port, which both adapters implement.
describe('event relay', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  const logger = createLogger({ service: 'test', level: 'silent' });

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, eventsStreamSpec('SOURCE', 'src'));
    await ensureStream(jsm, eventsStreamSpec('TARGET', 'tgt'));
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  async function targetEvents(): Promise<RecordedEvent[]> {
    const target = new JetStreamEventStore({ nc, stream: 'TARGET', subjectPrefix: 'tgt' });
    const events: RecordedEvent[] = [];
    for await (const event of target.readAll()) events.push(event);
    return events;
  }

  async function waitForTarget(count: number): Promise<RecordedEvent[]> {
    for (let i = 0; i < 200; i++) {
      const events = await targetEvents();
      if (events.length >= count) return events;
      await sleep(50);
    }
    throw new Error(`target never reached ${count} events`);
  }

  it('republishes every event once, in order, and resumes from its checkpoint', async () => {
    const source = new JetStreamEventStore({ nc, stream: 'SOURCE', subjectPrefix: 'src' });
    await source.appendToStream('P1.order.MO_1', [newEvent('A', 1), newEvent('B', 2)], { expectedRevision: 'no_stream' });
    let relay = await startEventRelay({ source, nc, logger, name: 'test', subjectPrefix: 'tgt' });
    await waitForTarget(2);
    await relay.stop();

    await source.appendToStream('P2.approval.MO_1', [newEvent('C', 3)], { expectedRevision: 'no_stream' });
    relay = await startEventRelay({ source, nc, logger, name: 'test', subjectPrefix: 'tgt' });
    const events = await waitForTarget(3);
    await sleep(300);
    await relay.stop();

    const after = await targetEvents();
    expect(after.map((e) => [e.stream, e.type, e.data])).toEqual([
      ['P1.order.MO_1', 'A', 1],
      ['P1.order.MO_1', 'B', 2],
      ['P2.approval.MO_1', 'C', 3],
    ]);
    expect(events.map((e) => e.eventId)).toEqual(after.map((e) => e.eventId));
  });
});
