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
// instead of the whole plant's log (which would grow without bound). The resources' other events
// are read too, to know each resource's status before an entry (Annex 11 §9: old and new value).
import { IDENTIFIER_PATTERN, plantConfigStream, streamName, type OrderLocation } from '@mes/contracts';
import { verifyChains, verifyReadStreams, type EventStore, type RecordedEvent } from '@mes/platform';
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
  /** The event streams the history was read from (whose hash chains vouch for it). */
  streams: string[];
}

/**
 * The hash chains (CONTRACT §5) of the streams an order's history was read from, recomputed on the
 * events that were read for it (each stream whole), as `mes audit verify --order` does.
 */
export interface OrderChainCheck {
  /** True when every chain holds. */
  ok: boolean;
  /** Events whose links held: all of them when ok, those checked before the break otherwise. */
  verifiedEvents: number;
  /** Streams checked (those that hold events). */
  streams: number;
  /** The first event that does not fit its stream's chain (streams in the order `streams` lists them); absent when ok. */
  firstBreak?: { stream: string; position: string; eventId: string; reason: string };
}

export interface CheckedOrderAudit extends OrderAudit {
  chain: OrderChainCheck;
}

export interface MachineAudit {
  machineId: string;
  /** Plants whose log knows the machine. */
  plants: string[];
  /** Its orders, oldest first. */
  orders: string[];
  entries: AuditEntry[];
}

async function locateOrder(deps: AuditDeps, orderId: string): Promise<OrderLocation> {
  const location = IDENTIFIER_PATTERN.test(orderId) ? await deps.orderIndex.find(orderId) : undefined;
  if (!location) throw new AuditSubjectNotFoundError('ORDER_NOT_FOUND', `no maintenance order ${orderId}`);
  return location;
}

export async function auditOrder(deps: AuditDeps, orderId: string): Promise<OrderAudit> {
  const location = await locateOrder(deps, orderId);
  const { events, context, streams } = await orderEvents(deps.eventStore, location);
  return { ...location, entries: auditTrail(events, context), streams };
}

/** An order's history with the check of its hash chains, done on the same reads (no more reads than `auditOrder`). */
export async function auditOrderWithChain(deps: AuditDeps, orderId: string): Promise<CheckedOrderAudit> {
  const location = await locateOrder(deps, orderId);
  const { events, context, streams, read } = await orderEvents(deps.eventStore, location);
  const result = verifyReadStreams(read);
  const chain: OrderChainCheck =
    result.broken === undefined
      ? { ok: true, verifiedEvents: result.events, streams: result.streams }
      : {
          ok: false,
          verifiedEvents: result.events - 1,
          streams: result.streams,
          firstBreak: { stream: result.broken.stream, position: result.broken.position.toString(), eventId: result.broken.eventId, reason: result.broken.reason },
        };
  return { ...location, entries: auditTrail(events, context), streams, chain };
}

export async function auditMachine(deps: AuditDeps, machineId: string, plants: readonly string[]): Promise<MachineAudit> {
  const notFound = () => new AuditSubjectNotFoundError('MACHINE_NOT_FOUND', `no machine ${machineId} in the event log of plant${plants.length === 1 ? '' : 's'} ${plants.join(', ')}`);
  if (!IDENTIFIER_PATTERN.test(machineId)) throw notFound();
  const events: RecordedEvent[] = [];
  const context: RecordedEvent[] = [];
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
    const read = await orderEvents(deps.eventStore, order);
    events.push(...read.events);
    context.push(...read.context);
  }
  if (found.size === 0) throw notFound();
  const entries = auditTrail(events, context);
  const openedAt = new Map(entries.filter((e) => e.eventType === 'MaintenanceOrderOpened').map((e) => [(e.data as { orderId: string }).orderId, e.position]));
  const position = (orderId: string) => BigInt(openedAt.get(orderId) ?? '0');
  return {
    machineId,
    plants: [...found].sort(),
    orders: orders.map((o) => o.orderId).sort((a, b) => (position(a) < position(b) ? -1 : position(a) > position(b) ? 1 : a.localeCompare(b))),
    entries,
  };
}

/** An order's events (`events`), the other events of the streams read (`context`), and the streams. */
interface OrderEvents {
  events: RecordedEvent[];
  context: RecordedEvent[];
  streams: string[];
  /** Each stream's events as read (whole, in stream order), for checking their chains. */
  read: { stream: string; events: RecordedEvent[] }[];
}

/** The recorded versions of the plants' configurations (CONTRACT §3), oldest first: who applied each, when, and what changed. */
export async function auditPlantConfigs(store: EventStore, plantIds: readonly string[]): Promise<AuditEntry[]> {
  const events: RecordedEvent[] = [];
  for (const plantId of plantIds) events.push(...(await store.readStream(plantConfigStream(plantId))).events);
  return auditTrail(events);
}

async function orderEvents(store: EventStore, location: OrderLocation): Promise<OrderEvents> {
  const { plantId, orderId, workflowId, machineId } = location;
  const streams = [streamName(plantId, 'workflow', workflowId), streamName(plantId, 'order', orderId), streamName(plantId, 'approval', orderId)];
  const [workflow, order, approval] = await Promise.all(streams.map((stream) => store.readStream(stream)));
  const events = [...workflow!.events, ...order!.events, ...approval!.events];
  const context: RecordedEvent[] = [];
  const read = [workflow!, order!, approval!].map((result, i) => ({ stream: streams[i]!, events: result.events }));

  const triggers = new Set(workflow!.events.filter((e) => e.type === 'WorkflowStarted' && e.causationId !== null).map((e) => e.causationId!));
  if (triggers.size > 0) {
    const stream = streamName(plantId, 'machine', machineId);
    const machine = await store.readStream(stream);
    streams.push(stream);
    read.push({ stream, events: machine.events });
    events.push(...machine.events.filter((e) => triggers.has(e.eventId)));
  }

  const resourceIds = new Set<string>();
  for (const event of events) {
    if (event.type !== 'MaintenanceOrderResourcesAllocated') continue;
    const { technicianId, equipmentId } = event.data as { technicianId?: unknown; equipmentId?: unknown };
    for (const id of [technicianId, equipmentId]) if (typeof id === 'string' && IDENTIFIER_PATTERN.test(id)) resourceIds.add(id);
  }
  for (const resourceId of resourceIds) {
    const stream = streamName(plantId, 'resource', resourceId);
    const { events: held } = await store.readStream(stream);
    streams.push(stream);
    read.push({ stream, events: held });
    for (const event of held) {
      const ofThisOrder = event.correlationId === workflowId || (event.data as { orderId?: unknown } | null)?.orderId === orderId;
      (ofThisOrder ? events : context).push(event);
    }
  }
  return { events, context, streams, read };
}

/** The hash chains (CONTRACT §5) of the streams an audit was read from, as checked when exporting it. */
export type ChainVerification =
  | { status: 'verified'; events: number; streams: number }
  | { status: 'broken'; stream: string; position: string; reason: string }
  | { status: 'not verified'; reason: string };

/** Checks the hash chains of `streams`; the export shows the result. */
export type ChainVerifier = (store: EventStore, streams: readonly string[]) => Promise<ChainVerification>;

/** The check of the hash chains an exported history rests on: every stream it was read from, whole. */
export const verifyOrderChains: ChainVerifier = async (store, streams) => {
  const result = await verifyChains(store, { streams });
  if (result.broken === undefined) return { status: 'verified', events: result.events, streams: result.streams };
  const { stream, position, reason } = result.broken;
  return { status: 'broken', stream, position: position.toString(), reason };
};
