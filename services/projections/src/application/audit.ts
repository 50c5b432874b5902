// The history of an order or a machine, read from the event log (never from SQL), oldest first.
//
// An order's history is gathered from the streams that hold it, not by scanning the plant's log:
// its workflow (`{plant}.workflow.{workflowId}`), the order and its approval requests
// (`{plant}.order.{orderId}`, `{plant}.approval.{orderId}`), the condition change that started the
// workflow (found in `{plant}.machine.{machineId}` by the workflow's causation id), and the
// allocation and release on the resources it held (`{plant}.resource.{id}`, kept where they name
// the order). Every event of the incident carries the workflow id as its correlation id; those
// streams hold them all except the resources' own bookkeeping. Cost: a handful of stream reads,
// plus the machine's condition changes and the held resources' allocations over their lifetime,
// instead of the whole plant's log (which would grow without bound).
import { IDENTIFIER_PATTERN, streamName, type OrderLocation } from '@mes/contracts';
import type { EventStore, RecordedEvent } from '@mes/platform';
import { auditTrail, type AuditEntry } from '../domain/auditTrail.js';

/** Finds an order's plant, machine and workflow from its id. */
export interface OrderIndex {
  find(orderId: string): Promise<OrderLocation | undefined>;
  all(): AsyncIterable<OrderLocation>;
}

export interface AuditDeps {
  eventStore: EventStore;
  orderIndex: OrderIndex;
}

export class AuditSubjectNotFoundError extends Error {
  constructor(readonly code: 'ORDER_NOT_FOUND' | 'MACHINE_NOT_FOUND', message: string) {
    super(message);
    this.name = 'AuditSubjectNotFoundError';
  }
}

export interface OrderAudit extends OrderLocation {
  entries: AuditEntry[];
}

export interface MachineAudit {
  machineId: string;
  /** Plants whose log knows the machine. */
  plants: string[];
  /** Its orders, oldest first. */
  orders: string[];
  entries: AuditEntry[];
}

export async function auditOrder(deps: AuditDeps, orderId: string): Promise<OrderAudit> {
  const location = IDENTIFIER_PATTERN.test(orderId) ? await deps.orderIndex.find(orderId) : undefined;
  if (!location) throw new AuditSubjectNotFoundError('ORDER_NOT_FOUND', `no maintenance order ${orderId}`);
  return { ...location, entries: auditTrail(await orderEvents(deps.eventStore, location)) };
}

export async function auditMachine(deps: AuditDeps, machineId: string, plants: readonly string[]): Promise<MachineAudit> {
  const notFound = () => new AuditSubjectNotFoundError('MACHINE_NOT_FOUND', `no machine ${machineId} in the event log of plant${plants.length === 1 ? '' : 's'} ${plants.join(', ')}`);
  if (!IDENTIFIER_PATTERN.test(machineId)) throw notFound();
  const events: RecordedEvent[] = [];
  const found = new Set<string>();
  for (const plantId of plants) {
    const { events: changes } = await deps.eventStore.readStream(streamName(plantId, 'machine', machineId));
    if (changes.length > 0) found.add(plantId);
    events.push(...changes);
  }
  const orders: OrderLocation[] = [];
  for await (const location of deps.orderIndex.all()) {
    if (location.machineId === machineId && plants.includes(location.plantId)) orders.push(location);
  }
  for (const order of orders) {
    found.add(order.plantId);
    events.push(...(await orderEvents(deps.eventStore, order)));
  }
  if (found.size === 0) throw notFound();
  const entries = auditTrail(events);
  const openedAt = new Map(entries.filter((e) => e.eventType === 'MaintenanceOrderOpened').map((e) => [(e.data as { orderId: string }).orderId, e.position]));
  const position = (orderId: string) => BigInt(openedAt.get(orderId) ?? '0');
  return {
    machineId,
    plants: [...found].sort(),
    orders: orders.map((o) => o.orderId).sort((a, b) => (position(a) < position(b) ? -1 : position(a) > position(b) ? 1 : a.localeCompare(b))),
    entries,
  };
}

async function orderEvents(store: EventStore, location: OrderLocation): Promise<RecordedEvent[]> {
  const { plantId, orderId, workflowId, machineId } = location;
  const [workflow, order, approval] = await Promise.all([
    store.readStream(streamName(plantId, 'workflow', workflowId)),
    store.readStream(streamName(plantId, 'order', orderId)),
    store.readStream(streamName(plantId, 'approval', orderId)),
  ]);
  const events = [...workflow.events, ...order.events, ...approval.events];

  const triggers = new Set(workflow.events.filter((e) => e.type === 'WorkflowStarted' && e.causationId !== null).map((e) => e.causationId!));
  if (triggers.size > 0) {
    const machine = await store.readStream(streamName(plantId, 'machine', machineId));
    events.push(...machine.events.filter((e) => triggers.has(e.eventId)));
  }

  const resourceIds = new Set<string>();
  for (const event of events) {
    if (event.type !== 'MaintenanceOrderResourcesAllocated') continue;
    const { technicianId, equipmentId } = event.data as { technicianId?: unknown; equipmentId?: unknown };
    for (const id of [technicianId, equipmentId]) if (typeof id === 'string' && IDENTIFIER_PATTERN.test(id)) resourceIds.add(id);
  }
  for (const resourceId of resourceIds) {
    const { events: held } = await store.readStream(streamName(plantId, 'resource', resourceId));
    events.push(...held.filter((e) => e.correlationId === workflowId || (e.data as { orderId?: unknown } | null)?.orderId === orderId));
  }
  return events;
}
