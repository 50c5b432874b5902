import { ORDER_INDEX_BUCKET, streamName, type Command } from '@mes/contracts';
import { Kvm } from '@nats-io/kv';
import { handleCommand, startCommandHandlers, type RunningService, type ServiceDeps } from '@mes/platform';
import { maintenanceOrderDecider } from '../domain/maintenanceOrder.js';
import { registerOrderRoutes } from '../adapters/orderRoutes.js';
import { isMaintenanceCommand, toOrderCommand } from './orderCommands.js';

/** Where an order's streams are: the HTTP API and the CLI know only the order id. */
export interface OrderIndexEntry {
  plantId: string;
  machineId: string;
  workflowId: string;
}

/** Starts the maintenance service: MaintenanceOrder commands, decided under optimistic concurrency. */
export async function start(deps: ServiceDeps): Promise<RunningService> {
  const plants = deps.config.plants ?? Object.keys(deps.plants.plants);
  const orderIndex = await new Kvm(deps.nc).open(ORDER_INDEX_BUCKET);

  const handle = async (command: Command): Promise<void> => {
    if (!isMaintenanceCommand(command)) {
      deps.logger.warn({ command: command.type }, 'maintenance received a command it does not handle');
      return;
    }
    if (command.type === 'OpenMaintenanceOrder') {
      const entry: OrderIndexEntry = { plantId: command.plantId, machineId: command.machineId, workflowId: command.workflowId };
      await orderIndex.put(command.orderId, JSON.stringify(entry));
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

  registerOrderRoutes(deps);
  const handlers = await startCommandHandlers({ nc: deps.nc, service: 'maintenance', plants, logger: deps.logger, handle });
  return { stop: () => handlers.stop() };
}

/** Looks an order up by id alone; undefined when no order with that id was ever opened. */
export async function findOrder(deps: Pick<ServiceDeps, 'nc'>, orderId: string): Promise<OrderIndexEntry | undefined> {
  const entry = await (await new Kvm(deps.nc).open(ORDER_INDEX_BUCKET)).get(orderId);
  if (!entry || entry.operation !== 'PUT') return undefined;
  return entry.json<OrderIndexEntry>();
}
