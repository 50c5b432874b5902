// Registers a plant's resources from the plant configuration at start-up, idempotently, so every
// copy can run it: a resource listed is registered (or updated, or made available again); a
// resource in the log but no longer listed is marked Unavailable, never deleted.
import { parseStreamName, type PlantResource } from '@mes/contracts';
import type { EventStore, Logger } from '@mes/platform';
import { ALLOCATION_QUEUE_ID } from '../domain/allocationQueue.js';
import type { Allocator, Cause } from './allocation.js';

export const LEFT_OUT_OF_CONFIGURATION = 'left out of the plant configuration';

export interface RegistrationDeps {
  store: EventStore;
  logger: Logger;
  now: () => Date;
  allocator: Allocator;
}

/** Ids of the resource streams a plant has in the log (fine at start-up: one pass over the plant's events). */
export async function resourceIdsInLog(store: EventStore, plantId: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const event of store.readAll({ plantId })) {
    const { category, id } = parseStreamName(event.stream);
    if (category === 'resource' && id !== ALLOCATION_QUEUE_ID) ids.add(id);
  }
  return ids;
}

/**
 * Brings the plant's resources in line with `configured`. Every resource id of the plant
 * (configured and left out) goes to `known` first: the allocator reads those, and this ends by
 * serving waiting orders.
 */
export async function registerPlantResources(
  deps: RegistrationDeps,
  plantId: string,
  configured: readonly PlantResource[],
  known: (ids: string[]) => void,
): Promise<void> {
  const { allocator, logger } = deps;
  const cause: Cause = { correlationId: `plant-configuration-${plantId}`, causationId: null };
  const inLog = await resourceIdsInLog(deps.store, plantId);
  const configuredIds = new Set(configured.map((resource) => resource.id));
  const leftOut = [...inLog].filter((id) => !configuredIds.has(id)).sort();
  known([...configuredIds, ...leftOut]);

  for (const resource of configured) {
    await allocator.onResource(
      plantId,
      { type: 'RegisterResource', resourceId: resource.id, plantId, resourceType: resource.type, name: resource.name, at: deps.now().toISOString() },
      cause,
    );
  }
  const { queue } = await allocator.readQueue(plantId);
  for (const resource of configured) {
    if (queue.withdrawn.has(resource.id)) await allocator.returnResource(plantId, resource.id, cause);
  }
  for (const resourceId of leftOut) {
    // Withdraw first, so no reservation is made that the unavailable resource would then refuse.
    await allocator.withdrawResource(plantId, resourceId, cause);
    await allocator.onResource(plantId, { type: 'MarkResourceUnavailable', resourceId, reason: LEFT_OUT_OF_CONFIGURATION, at: deps.now().toISOString() }, cause);
  }
  // Resources may have come (back), and a copy may have died mid-booking: serve and finish.
  await allocator.serveWaitingOrders(plantId, cause);
  logger.info({ plantId, resources: configured.length, unavailable: leftOut }, 'plant resources registered');
}
