// Resources come from the plant configuration: registered once however often copies start, left
// out -> Unavailable (never deleted, kept by the order holding it until released), back -> Available.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allocateCommand,
  eventsOf,
  eventually,
  maintenanceCommands,
  newPlantId,
  releaseCommand,
  replayAllocations,
  resourceStreamOf,
  send,
  startResourcesFixture,
  type ResourcesFixture,
} from '../testing/resourcesFixture.js';
import { LEFT_OUT_OF_CONFIGURATION } from './registration.js';

let fixture: ResourcesFixture;

beforeAll(async () => {
  fixture = await startResourcesFixture();
});
afterAll(async () => {
  await fixture?.dispose();
});

describe('resources from the plant configuration', () => {
  it('are registered once across starts; one left out becomes Unavailable, not deleted, and comes back', async () => {
    const plantId = newPlantId();
    const full = await fixture.writePlantConfig('full', plantId, [
      { id: 'T-01', type: 'Technician' },
      { id: 'T-02', type: 'Technician' },
      { id: 'EQ-01', type: 'Equipment' },
    ]);
    const withoutT01 = await fixture.writePlantConfig('without-T-01', plantId, [
      { id: 'T-02', type: 'Technician' },
      { id: 'EQ-01', type: 'Equipment' },
    ]);

    const first = await fixture.startCopy(full);
    await first.stop();
    const second = await fixture.startCopy(full);
    const { store, nc } = fixture;
    const types = async (resourceId: string) => (await store.readStream(resourceStreamOf(plantId, resourceId))).events.map((e) => e.type);
    for (const id of ['T-01', 'T-02', 'EQ-01']) expect(await types(id)).toEqual(['ResourceRegistered']);

    // T-01 (first by id) goes to MO_1; then T-01 is left out of the configuration while allocated.
    await send(second, allocateCommand(plantId, 'MO_1', new Date().toISOString()));
    await eventually('MO_1 allocated', async () => ((await maintenanceCommands(nc, plantId, 'RecordOrderResourcesAllocated')).length === 1 ? true : undefined));
    await second.stop();

    const third = await fixture.startCopy(withoutT01);
    expect(await types('T-01')).toEqual(['ResourceRegistered', 'ResourceAllocated', 'ResourceMarkedUnavailable']);
    const marked = (await store.readStream(resourceStreamOf(plantId, 'T-01'))).events.at(-1)!;
    expect(marked.data).toMatchObject({ resourceId: 'T-01', reason: LEFT_OUT_OF_CONFIGURATION });
    let report = replayAllocations(await eventsOf(store, plantId));
    expect(report.holders.get('T-01')).toBe('MO_1');

    // MO_2 waits (the only equipment is MO_1's); releasing MO_1 frees EQ-01 and T-01, but T-01 is
    // Unavailable, so MO_2 gets T-02.
    await send(third, allocateCommand(plantId, 'MO_2', new Date().toISOString()));
    await eventually('MO_2 waiting', async () => ((await maintenanceCommands(nc, plantId, 'MarkOrderAwaitingResources')).length === 1 ? true : undefined));
    await send(third, releaseCommand(plantId, 'MO_1'));
    await eventually('MO_2 allocated', async () => ((await maintenanceCommands(nc, plantId, 'RecordOrderResourcesAllocated')).length === 2 ? true : undefined));
    report = replayAllocations(await eventsOf(store, plantId));
    expect(report.holders).toEqual(new Map([['T-01', null], ['T-02', 'MO_2'], ['EQ-01', 'MO_2']]));
    expect(report.unavailable).toEqual(new Set(['T-01']));
    await third.stop();

    // A second start without it changes nothing; with it again, it is available again.
    const fourth = await fixture.startCopy(withoutT01);
    expect(await types('T-01')).toEqual(['ResourceRegistered', 'ResourceAllocated', 'ResourceMarkedUnavailable', 'ResourceReleased']);
    await fourth.stop();
    await fixture.startCopy(full);
    expect(await types('T-01')).toEqual(['ResourceRegistered', 'ResourceAllocated', 'ResourceMarkedUnavailable', 'ResourceReleased', 'ResourceMarkedAvailable']);
    for (const id of ['T-02', 'EQ-01']) expect((await types(id)).filter((t) => t === 'ResourceRegistered')).toHaveLength(1);
    const queueEvents = (await eventsOf(store, plantId)).filter((e) => e.type === 'ResourceWithdrawnFromAllocation' || e.type === 'ResourceReturnedToAllocation');
    expect(queueEvents.map((e) => [e.type, (e.data as { resourceId: string }).resourceId])).toEqual([
      ['ResourceWithdrawnFromAllocation', 'T-01'],
      ['ResourceReturnedToAllocation', 'T-01'],
    ]);

    // A RegisterResource command adds equipment between start-ups, and the waiting order gets it.
    await send(nc, allocateCommand(plantId, 'MO_3', new Date().toISOString()));
    await eventually('MO_3 waiting', async () => ((await maintenanceCommands(nc, plantId, 'MarkOrderAwaitingResources')).some((c) => c.orderId === 'MO_3') ? true : undefined));
    await send(nc, {
      type: 'RegisterResource',
      version: 1,
      commandId: `register-EQ-02-${plantId}`,
      correlationId: 'operator',
      plantId,
      issuedAt: new Date().toISOString(),
      actor: { kind: 'person', id: 'operator@plant.example' },
      resourceId: 'EQ-02',
      resourceType: 'Equipment',
      name: 'Forklift',
    });
    const allocated = await eventually('MO_3 allocated', async () =>
      (await maintenanceCommands(nc, plantId, 'RecordOrderResourcesAllocated')).find((c) => c.orderId === 'MO_3'),
    );
    expect(allocated).toMatchObject({ technicianId: 'T-01', equipmentId: 'EQ-02' });
  });
});
