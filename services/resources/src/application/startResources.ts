// The resources service: registers each served plant's resources from the plant configuration,
// then handles AllocateResources, ReleaseResources and RegisterResource (see allocation.ts).
import type { Command } from '@mes/contracts';
import { startCommandHandlers, type RunningService, type ServiceDeps } from '@mes/platform';
import { createAllocator, type Cause } from './allocation.js';
import { registerPlantResources } from './registration.js';

export interface ResourcesOptions {
  /** Clock, for tests. */
  now?: () => Date;
}

/** Starts the resources service on shared dependencies; `npm start` runs every service in one process this way. */
export async function start(deps: ServiceDeps): Promise<RunningService> {
  return startResources(deps, {});
}

export function createResourcesService(options: ResourcesOptions = {}) {
  return (deps: ServiceDeps) => startResources(deps, options);
}

async function startResources(deps: ServiceDeps, options: ResourcesOptions): Promise<RunningService> {
  const now = options.now ?? (() => new Date());
  const plants = deps.servedPlants;
  const knownResources = new Map<string, readonly string[]>();
  const allocator = createAllocator({
    store: deps.eventStore,
    nc: deps.nc,
    logger: deps.logger,
    now,
    resourceIds: (plantId) => knownResources.get(plantId) ?? [],
  });

  for (const plantId of plants) {
    const plant = deps.plants.plants[plantId];
    if (!plant) throw new Error(`plant ${plantId} is not in the plant configuration ${deps.config.plantConfigPath}`);
    await registerPlantResources({ store: deps.eventStore, logger: deps.logger, now, allocator }, plantId, plant.resources, (ids) => knownResources.set(plantId, ids));
  }

  const handle = async (command: Command): Promise<void> => {
    switch (command.type) {
      case 'AllocateResources':
        return allocator.requestResources(command);
      case 'ReleaseResources':
        return allocator.releaseResources(command);
      case 'RegisterResource': {
        // A resource added between start-ups; the next start-up holds it to the configuration again.
        const { plantId, resourceId } = command;
        const cause: Cause = { correlationId: command.correlationId, causationId: command.commandId };
        await allocator.onResource(plantId, { type: 'RegisterResource', resourceId, plantId, resourceType: command.resourceType, name: command.name, at: command.issuedAt }, cause);
        const ids = knownResources.get(plantId) ?? [];
        if (!ids.includes(resourceId)) knownResources.set(plantId, [...ids, resourceId]);
        const { queue } = await allocator.readQueue(plantId);
        if (queue.withdrawn.has(resourceId)) await allocator.returnResource(plantId, resourceId, cause);
        else await allocator.serveWaitingOrders(plantId, cause);
        return;
      }
      default:
        deps.logger.warn({ command: command.type, commandId: command.commandId }, 'resources received a command it does not handle');
    }
  };

  const handlers = await startCommandHandlers({
    nc: deps.nc,
    service: 'resources',
    plants,
    logger: deps.logger,
    handle,
    // An order's allocation and release in turn; different orders' at once: the allocator takes the
    // plant's queue decisions in turn itself, and decides the requests that waited together.
    keyOf: (command) => (typeof command.resourceId === 'string' ? `resource:${command.resourceId}` : typeof command.orderId === 'string' ? `order:${command.orderId}` : 'allocation-queue'),
  });
  return { stop: () => handlers.stop() };
}
