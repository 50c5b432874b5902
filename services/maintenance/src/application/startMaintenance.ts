import { streamName, type Command } from '@mes/contracts';
import { handleCommand, OrderIndex, startCommandHandlers, type RunningService, type ServiceDeps } from '@mes/platform';
import { maintenanceOrderDecider } from '../domain/maintenanceOrder.js';
import { registerOrderRoutes } from '../adapters/orderRoutes.js';
import { isMaintenanceCommand, toOrderCommand } from './orderCommands.js';

/** Starts the maintenance service: MaintenanceOrder commands, decided under optimistic concurrency. */
export async function start(deps: ServiceDeps): Promise<RunningService> {
  const plants = deps.servedPlants;
  const orderIndex = new OrderIndex(deps.nc);

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
    );
    if (result.events.length > 0) {
      deps.logger.info({ orderId: command.orderId, events: result.events.map((e) => e.type) }, 'order updated');
    }
  };

  registerOrderRoutes({ ...deps, orderIndex });
  const handlers = await startCommandHandlers({ nc: deps.nc, service: 'maintenance', plants, logger: deps.logger, handle });
  return { stop: () => handlers.stop() };
}
