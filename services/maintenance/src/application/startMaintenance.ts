import { streamName, type Command } from '@mes/contracts';
import { AggregateCache, handleCommand, OrderIndex, startCommandHandlers, type RunningService, type ServiceDeps } from '@mes/platform';
import { maintenanceOrderDecider, type OrderState } from '../domain/maintenanceOrder.js';
import { registerOrderRoutes } from '../adapters/orderRoutes.js';
import { isMaintenanceCommand, toOrderCommand } from './orderCommands.js';

/** Starts the maintenance service: MaintenanceOrder commands, decided under optimistic concurrency. */
export async function start(deps: ServiceDeps): Promise<RunningService> {
  const plants = deps.servedPlants;
  const orderIndex = new OrderIndex(deps.nc);
  // The orders this process decided last: shared by the command handler and the HTTP routes.
  const orders = new AggregateCache<OrderState>();

  const handle = async (command: Command): Promise<void> => {
    if (!isMaintenanceCommand(command)) {
      deps.logger.warn({ command: command.type }, 'maintenance received a command it does not handle');
      return;
    }
    if (command.type === 'OpenMaintenanceOrder') {
      await orderIndex.record({ orderId: command.orderId, plantId: command.plantId, machineId: command.machineId, workflowId: command.workflowId });
    }
    const result = await handleCommand(
      { store: deps.eventStore, now: () => new Date(command.issuedAt), eventId: (index) => `${command.commandId}/${index}` },
      maintenanceOrderDecider,
      streamName(command.plantId, 'order', command.orderId),
      toOrderCommand(command),
      { correlationId: command.correlationId, causationId: command.commandId, actor: command.actor },
      // Opening is of a new order (a redelivered one is refused by its stream and read after all).
      { cache: orders, startsStream: command.type === 'OpenMaintenanceOrder' },
    );
    if (result.events.length > 0) {
      deps.logger.info({ orderId: command.orderId, events: result.events.map((e) => e.type) }, 'order updated');
    }
  };

  registerOrderRoutes({ ...deps, orderIndex, orders });
  const handlers = await startCommandHandlers({ nc: deps.nc, service: 'maintenance', plants, logger: deps.logger, handle });
  return { stop: () => handlers.stop() };
}
