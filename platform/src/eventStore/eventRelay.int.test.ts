import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStream, eventsStreamSpec } from '../nats/topology.js';
import { createLogger } from '../runtime/logger.js';
import { newEvent, withOverrides } from '../testing/eventStoreContract.js';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import type { EventStore, RecordedEvent } from './eventStore.js';
import { RELAY_CHECKPOINTS_BUCKET, startEventRelay } from './eventRelay.js';
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

  it('restarts after a publish fails, reporting it meanwhile, and relays everything once', async () => {
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, eventsStreamSpec('SOURCE2', 'src2'));
    await ensureStream(jsm, eventsStreamSpec('TARGET2', 'tgt2'));
    const source = new JetStreamEventStore({ nc, stream: 'SOURCE2', subjectPrefix: 'src2' });
    const relay = await startEventRelay({ source, nc, logger, name: 'restart-test', subjectPrefix: 'tgt2', maxRestartDelayMs: 200 });
    try {
      await source.appendToStream('P1.order.MO_7', [newEvent('A', 1)], { expectedRevision: 'no_stream' });
      await eventuallyCount('TARGET2', 'tgt2', 1);
      // The target is gone: publishing fails until it is back.
      await jsm.streams.delete('TARGET2');
      await source.appendToStream('P1.order.MO_8', [newEvent('B', 2)], { expectedRevision: 'no_stream' });
      await waitUntil('the relay to report its failure', async () => relay.check().then(() => false, () => true));
      await ensureStream(jsm, eventsStreamSpec('TARGET2', 'tgt2'));
      await source.appendToStream('P1.order.MO_9', [newEvent('C', 3)], { expectedRevision: 'no_stream' });
      const relayed = await eventuallyCount('TARGET2', 'tgt2', 2);
      expect(relayed.map((e) => e.type)).toEqual(['B', 'C']);
      await waitUntil('the relay to report it works again', async () => relay.check().then(() => true, () => false));
    } finally {
      await relay.stop();
    }
  });

  it('never moves the shared checkpoint back, nor republishes what another copy relayed, when a stalled copy wakes up', async () => {
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, eventsStreamSpec('SOURCE3', 'src3'));
    // A short duplicate window, so a late republish would be stored as a new message.
    await ensureStream(jsm, { ...eventsStreamSpec('TARGET3', 'tgt3'), duplicate_window: nanos(1_000) });
    const source = new JetStreamEventStore({ nc, stream: 'SOURCE3', subjectPrefix: 'src3' });
    for (let i = 0; i < 10; i++) await source.appendToStream(`P1.order.MO_${i}`, [newEvent(`E${i}`, i)], { expectedRevision: 'no_stream' });

    // Copy B's store delivers the first event, then stalls until released.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const stalling: EventStore = withOverrides(source, {
      subscribeToAll: (subscribeOptions) => {
        let delivered = 0;
        return source.subscribeToAll({
          ...subscribeOptions,
          onEvent: async (event) => {
            if (delivered++ === 1) await released;
            await subscribeOptions.onEvent(event);
          },
        });
      },
    });
    const checkpoints = await new Kvm(nc).open(RELAY_CHECKPOINTS_BUCKET);
    const seen: bigint[] = [];
    const watch = await checkpoints.watch({ key: 'stall-test' });
    void (async () => {
      for await (const entry of watch) if (entry.operation === 'PUT') seen.push(BigInt(entry.string()));
    })();

    const copyB = await startEventRelay({ source: stalling, nc, logger, name: 'stall-test', subjectPrefix: 'tgt3' });
    await eventuallyCount('TARGET3', 'tgt3', 1);
    const copyA = await startEventRelay({ source, nc, logger, name: 'stall-test', subjectPrefix: 'tgt3' });
    try {
      await eventuallyCount('TARGET3', 'tgt3', 10);
      // Beyond the duplicate window, then copy B goes on from where it stalled.
      await sleep(1_500);
      release();
      await sleep(500);
      const relayed = await targetOf('TARGET3', 'tgt3');
      expect(relayed.map((e) => e.type)).toEqual(Array.from({ length: 10 }, (_, i) => `E${i}`));
      expect(seen.length).toBeGreaterThan(0);
      for (let i = 1; i < seen.length; i++) expect(seen[i]! >= seen[i - 1]!, `checkpoint ${seen.join(' → ')}`).toBe(true);
    } finally {
      watch.stop();
      await copyA.stop();
      await copyB.stop();
    }
  });

  async function targetOf(stream: string, subjectPrefix: string): Promise<RecordedEvent[]> {
    const target = new JetStreamEventStore({ nc, stream, subjectPrefix });
    const events: RecordedEvent[] = [];
    for await (const event of target.readAll()) events.push(event);
    return events;
  }

  async function eventuallyCount(stream: string, subjectPrefix: string, count: number): Promise<RecordedEvent[]> {
    for (let i = 0; i < 200; i++) {
      const events = await targetOf(stream, subjectPrefix);
      if (events.length >= count) return events;
      await sleep(50);
    }
    throw new Error(`${stream} never reached ${count} events`);
  }

  async function waitUntil(what: string, probe: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (await probe()) return;
      await sleep(50);
    }
    throw new Error(`timed out waiting for ${what}`);
  }
});
