// Two copies of the allocator on one plant, each keeping its own states of the queue and the
// resources: a copy whose kept state another copy made stale catches up (before deciding, or when
// its append conflicts) and never books a resource twice; and it reads only what followed its state.
import { EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, type AllocateResources, type ReleaseResources } from '@mes/contracts';
import { createLogger, JetStreamEventStore, type EventStore, type StreamRevision } from '@mes/platform';
import { withOverrides } from '@mes/platform/testing';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allocateCommand,
  eventsOf,
  expectWholeAllocations,
  newPlantId,
  releaseCommand,
  replayAllocations,
  resourceList,
  startResourcesFixture,
  type ResourcesFixture,
} from '../testing/resourcesFixture.js';
import { createAllocator, queueStream, type Allocator } from './allocation.js';

let fixture: ResourcesFixture;
const connections: NatsConnection[] = [];

beforeAll(async () => {
  fixture = await startResourcesFixture();
});
afterAll(async () => {
  for (const nc of connections) await nc.close();
  await fixture?.dispose();
});

const logger = createLogger({ service: 'resources-test', level: 'silent' });
const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const allocate = (plantId: string, orderId: string, ms: number) => allocateCommand(plantId, orderId, at(ms)) as AllocateResources;
const release = (plantId: string, orderId: string) => releaseCommand(plantId, orderId) as ReleaseResources;

interface Copy {
  allocator: Allocator;
  /** The `after` of every read of the plant's queue stream: undefined for a whole read. */
  queueReads: (StreamRevision | undefined)[];
}

/** A copy of the allocator on its own connection and store, as another process would have; `wrap` changes its store. */
async function copyOf(plantId: string, ids: string[], wrap: (store: EventStore) => EventStore = (store) => store): Promise<Copy> {
  const nc = await connect({ servers: fixture.nats.url });
  connections.push(nc);
  const own = new JetStreamEventStore({ nc, stream: EVENTS_STREAM, subjectPrefix: EVENTS_SUBJECT_PREFIX });
  const queueReads: (StreamRevision | undefined)[] = [];
  const store = wrap(
    withOverrides(own, {
      readStream: (stream, options) => {
        if (stream === queueStream(plantId)) queueReads.push(options?.after);
        return own.readStream(stream, options);
      },
    }),
  );
  const allocator = createAllocator({ store, nc, logger, now: () => new Date(), resourceIds: () => ids });
  return { allocator, queueReads };
}

async function registerAll(copy: Copy, plantId: string, resources: ReturnType<typeof resourceList>): Promise<void> {
  const cause = { correlationId: 'test', causationId: null };
  for (const r of resources) {
    await copy.allocator.onResource(plantId, { type: 'RegisterResource', resourceId: r.id, plantId, resourceType: r.type, name: r.id, at: at(0) }, cause);
  }
}

describe('two copies deciding on one plant, each with its own kept states', () => {
  it('catches up on what the other copy decided, and reads only that', async () => {
    const plantId = newPlantId();
    const resources = resourceList(1, 1);
    const ids = resources.map((r) => r.id);
    const a = await copyOf(plantId, ids);
    const b = await copyOf(plantId, ids);
    await registerAll(a, plantId, resources);

    await a.allocator.requestResources(allocate(plantId, 'MO_1', 0));
    // B starts without a kept state: one whole read, then it keeps what it decided.
    await b.allocator.requestResources(allocate(plantId, 'MO_2', 1_000));
    // A's kept queue misses MO_2: releasing MO_1 must still hand the pair to MO_2.
    await a.allocator.releaseResources(release(plantId, 'MO_1'));
    // B's kept queue misses the release and MO_2's reservation: MO_3 must wait, and the late
    // request of MO_1 must be recognised as one for an order that left.
    await b.allocator.requestResources(allocate(plantId, 'MO_3', 2_000));
    await b.allocator.requestResources({ ...allocate(plantId, 'MO_1', 0), commandId: 'MO_1/redelivered' });

    const report = replayAllocations(await eventsOf(fixture.store, plantId));
    expectWholeAllocations(report);
    expect(report.holders).toEqual(new Map([['T-01', 'MO_2'], ['EQ-01', 'MO_2']]));
    expect([...report.waiting]).toEqual(['MO_3']);
    expect(report.left).toEqual(new Set(['MO_1']));
    expect(report.queued.get('MO_1')).toBe(1);

    // Each copy read the queue whole once, at its first decision; every later read only what followed.
    for (const copy of [a, b]) {
      expect(copy.queueReads[0]).toBeUndefined();
      expect(copy.queueReads.slice(1).every((after) => after !== undefined)).toBe(true);
      expect(copy.queueReads.length).toBeGreaterThan(1);
    }
  });

  it('never books twice when the other copy decides between its read and its append', async () => {
    const plantId = newPlantId();
    const resources = resourceList(1, 1);
    const ids = resources.map((r) => r.id);
    const b = await copyOf(plantId, ids);
    // A's first append of a reservation to the queue waits for B to reserve and book the only pair.
    let interfered = false;
    const a = await copyOf(plantId, ids, (store) =>
      withOverrides(store, {
        appendToStream: async (stream, events, options) => {
          if (!interfered && stream === queueStream(plantId) && events.some((e) => e.type === 'OrderResourcesReserved')) {
            interfered = true;
            await b.allocator.requestResources(allocate(plantId, 'MO_B', 5_000));
          }
          return store.appendToStream(stream, events, options);
        },
      }),
    );
    await registerAll(a, plantId, resources);
    // Both copies keep states in which the pair is free.
    await a.allocator.serveWaitingOrders(plantId, { correlationId: 'test', causationId: null });
    await b.allocator.serveWaitingOrders(plantId, { correlationId: 'test', causationId: null });

    await a.allocator.requestResources(allocate(plantId, 'MO_A', 0));
    expect(interfered).toBe(true);
    const report = replayAllocations(await eventsOf(fixture.store, plantId));
    expectWholeAllocations(report);
    expect(report.holders).toEqual(new Map([['T-01', 'MO_B'], ['EQ-01', 'MO_B']]));
    expect([...report.waiting]).toEqual(['MO_A']);

    // A release through A (whose kept resource states say the pair is free) serves MO_A, through B as well.
    await a.allocator.releaseResources(release(plantId, 'MO_B'));
    await b.allocator.releaseResources(release(plantId, 'MO_A'));
    await a.allocator.requestResources(allocate(plantId, 'MO_C', 6_000));
    const after = replayAllocations(await eventsOf(fixture.store, plantId));
    expectWholeAllocations(after);
    expect(after.holders).toEqual(new Map([['T-01', 'MO_C'], ['EQ-01', 'MO_C']]));
    expect(after.left).toEqual(new Set(['MO_B', 'MO_A']));
  });

  it('never double-books with both copies deciding at once on many orders', async () => {
    const plantId = newPlantId();
    const resources = resourceList(3, 3);
    const ids = resources.map((r) => r.id);
    const copies = [await copyOf(plantId, ids), await copyOf(plantId, ids)];
    await registerAll(copies[0]!, plantId, resources);
    const orders = Array.from({ length: 30 }, (_, i) => `MO_${String(i).padStart(2, '0')}`);
    await Promise.all(orders.map((orderId, i) => copies[i % 2]!.allocator.requestResources(allocate(plantId, orderId, i * 1_000))));
    // Release in waves, each through the other copy than the one that queued it.
    for (let wave = 0; wave < 10; wave++) {
      const holding = [...replayAllocations(await eventsOf(fixture.store, plantId)).holdings.keys()];
      await Promise.all(holding.map((orderId, i) => copies[(i + wave) % 2]!.allocator.releaseResources(release(plantId, orderId))));
      const report = replayAllocations(await eventsOf(fixture.store, plantId));
      expectWholeAllocations(report);
    }
    const end = replayAllocations(await eventsOf(fixture.store, plantId));
    expect(end.left.size).toBe(30);
    expect(end.waiting.size).toBe(0);
  });
});
