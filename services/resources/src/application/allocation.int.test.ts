// Allocation against real NATS: the queue serves the oldest approval first, and three copies of
// the service handling 200 requests at once never put two orders on one resource.
import { splitJetStreamPosition, type Runtime } from '@mes/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allocateCommand,
  expectWholeAllocations,
  eventsOf,
  eventually,
  maintenanceCommands,
  newPlantId,
  releaseCommand,
  replayAllocations,
  queueStreamOf,
  resourceList,
  send,
  startResourcesFixture,
  type ResourcesFixture,
} from '../testing/resourcesFixture.js';

let fixture: ResourcesFixture;

beforeAll(async () => {
  fixture = await startResourcesFixture();
});
afterAll(async () => {
  await fixture?.dispose();
});

const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

describe('three orders, one technician and one equipment', () => {
  it('allocates one, the other two wait; a release goes to the oldest approval', async () => {
    const plantId = newPlantId();
    const runtime = await fixture.startCopy(await fixture.writePlantConfig(plantId, plantId, resourceList(1, 1)));
    const store = runtime.deps.eventStore;
    // Stored in this order; MO_C was approved after MO_B but asks first.
    await send(runtime, allocateCommand(plantId, 'MO_A', at(0)));
    await send(runtime, allocateCommand(plantId, 'MO_C', at(2_000)));
    await send(runtime, allocateCommand(plantId, 'MO_B', at(1_000)));

    const waiting = await eventually('two orders awaiting resources', async () => {
      const marks = await maintenanceCommands(runtime.deps.nc, plantId, 'MarkOrderAwaitingResources');
      return marks.length === 2 ? marks : undefined;
    });
    expect(waiting.map((c) => c.orderId).sort()).toEqual(['MO_B', 'MO_C']);
    for (const mark of waiting) {
      expect(mark.missing.sort()).toEqual(['Equipment', 'Technician']);
      expect(mark.correlationId).toBe(`WF_${mark.orderId}`);
      expect(mark.commandId).toBe(`${mark.orderId}/awaiting-resources`);
    }
    const allocated = await maintenanceCommands(runtime.deps.nc, plantId, 'RecordOrderResourcesAllocated');
    expect(allocated).toMatchObject([{ orderId: 'MO_A', technicianId: 'T-01', equipmentId: 'EQ-01', correlationId: 'WF_MO_A', commandId: 'MO_A/resources-allocated' }]);

    await send(runtime, releaseCommand(plantId, 'MO_A'));
    const next = await eventually('the next allocation', async () => {
      const records = await maintenanceCommands(runtime.deps.nc, plantId, 'RecordOrderResourcesAllocated');
      return records.length === 2 ? records[1] : undefined;
    });
    expect(next).toMatchObject({ orderId: 'MO_B', technicianId: 'T-01', equipmentId: 'EQ-01' });

    const report = await eventually('MO_B confirmed', async () => {
      const r = replayAllocations(await eventsOf(store, plantId));
      return r.confirmed.has('MO_B') ? r : undefined;
    });
    expectWholeAllocations(report);
    expect([...report.waiting]).toEqual(['MO_C']);
    expect(report.holders).toEqual(new Map([['T-01', 'MO_B'], ['EQ-01', 'MO_B']]));
    expect(report.left).toEqual(new Set(['MO_A']));

    // A redelivered request of the released order changes nothing.
    await send(runtime, { ...allocateCommand(plantId, 'MO_A', at(0)), commandId: 'MO_A/redelivered' });
    await send(runtime, releaseCommand(plantId, 'MO_C'));
    await eventually('MO_C to leave', async () => (replayAllocations(await eventsOf(store, plantId)).left.has('MO_C') ? true : undefined));
    const after = replayAllocations(await eventsOf(store, plantId));
    expect(after.waiting.size).toBe(0);
    expect(after.holders).toEqual(new Map([['T-01', 'MO_B'], ['EQ-01', 'MO_B']]));
    expect(after.queued.get('MO_A')).toBe(1);
  });
});

describe('200 concurrent requests, 10 technicians, 10 equipment, three copies of the service', () => {
  it('never double-books, allocates exactly 10 whole pairs, queues 190, then serves the oldest on release', async () => {
    const plantId = newPlantId();
    const config = await fixture.writePlantConfig(plantId, plantId, resourceList(10, 10));
    const copies: Runtime[] = [];
    for (let i = 0; i < 3; i++) copies.push(await fixture.startCopy(config));
    const [first] = copies as [Runtime, ...Runtime[]];
    const store = first.deps.eventStore;

    // Approval times are a permutation of the send order, so arrival order says nothing about age.
    const orders = Array.from({ length: 200 }, (_, i) => ({ orderId: `MO_${String(i).padStart(3, '0')}`, approvedAt: at(((i * 37) % 200) * 1_000) }));
    await Promise.all(orders.map((o, i) => send(copies[i % 3]!, allocateCommand(plantId, o.orderId, o.approvedAt))));

    const report = await eventually(
      'every order queued and every reservation confirmed',
      async () => {
        const r = replayAllocations(await eventsOf(store, plantId));
        return r.queued.size === 200 && r.confirmed.size === 10 ? r : undefined;
      },
      45_000,
    );
    expectWholeAllocations(report);
    expect(report.holdings.size).toBe(10);
    expect(report.reserved.size).toBe(10);
    expect(report.waiting.size).toBe(190);
    const marks = await eventually('190 orders told to wait', async () => {
      const m = await maintenanceCommands(first.deps.nc, plantId, 'MarkOrderAwaitingResources');
      return m.length >= 190 ? m : undefined;
    });
    expect(new Set(marks.map((m) => m.orderId))).toEqual(report.waiting);
    const records = await maintenanceCommands(first.deps.nc, plantId, 'RecordOrderResourcesAllocated');
    expect(records.map((r) => r.orderId).sort()).toEqual([...report.reserved.keys()].sort());

    // Releasing the 10 at once, through different copies: the 10 oldest waiting orders get them.
    const allocatedFirst = [...report.reserved.keys()];
    const approvedAt = new Map(orders.map((o) => [o.orderId, o.approvedAt]));
    const oldestWaiting = [...report.waiting].sort((a, b) => approvedAt.get(a)!.localeCompare(approvedAt.get(b)!)).slice(0, 10);
    await Promise.all(allocatedFirst.map((orderId, i) => send(copies[i % 3]!, releaseCommand(plantId, orderId))));
    const afterRelease = await eventually(
      'the released resources to go to the next orders',
      async () => {
        const r = replayAllocations(await eventsOf(store, plantId));
        return r.left.size === 10 && r.confirmed.size === 20 ? r : undefined;
      },
      30_000,
    );
    expectWholeAllocations(afterRelease);
    expect([...afterRelease.holdings.keys()].sort()).toEqual(oldestWaiting.sort());
    expect(afterRelease.waiting.size).toBe(180);
  });
});

describe('a burst of 40 approvals on one copy, 40 technicians, 40 equipment', () => {
  it('decides requests that arrive together in a few queue appends, books every order whole, and records each order under its own command', async () => {
    const plantId = newPlantId();
    const runtime = await fixture.startCopy(await fixture.writePlantConfig(plantId, plantId, resourceList(40, 40)));
    const store = runtime.deps.eventStore;
    const orders = Array.from({ length: 40 }, (_, i) => `MO_${String(i).padStart(2, '0')}`);
    await Promise.all(orders.map((orderId, i) => send(runtime, allocateCommand(plantId, orderId, at(i * 1_000)))));

    const report = await eventually('every order booked and confirmed', async () => {
      const r = replayAllocations(await eventsOf(store, plantId));
      return r.confirmed.size === 40 ? r : undefined;
    });
    expectWholeAllocations(report);
    expect(report.holdings.size).toBe(40);
    expect(report.waiting.size).toBe(0);
    const records = await eventually('maintenance told of all 40', async () => {
      const r = await maintenanceCommands(runtime.deps.nc, plantId, 'RecordOrderResourcesAllocated');
      return r.length >= 40 ? r : undefined;
    });
    expect(new Set(records.map((r) => r.orderId))).toEqual(new Set(orders));
    for (const record of records) expect(record.correlationId).toBe(`WF_${record.orderId}`);

    const queue = (await store.readStream(queueStreamOf(plantId))).events;
    const queued = queue.filter((e) => e.type === 'OrderQueuedForResources');
    expect(queued).toHaveLength(40);
    // Each order's events are caused by its own request, however many were decided together.
    for (const event of queued) expect(event.causationId).toBe(`WF_${(event.data as { orderId: string }).orderId}/allocate-resources`);
    // Requests that waited for the queue's turn were decided together: fewer appends than orders.
    const appends = new Set(queued.map((e) => splitJetStreamPosition(e.position).sequence));
    expect(appends.size).toBeLessThan(40);
  });
});
