// The allocation queue of one plant: which order gets which technician and equipment, oldest
// approval first. Decided in one stream under optimistic concurrency, so two copies of the service
// can never give one resource to two orders, nor one order two pairs. The resources' own streams
// then record the bookings (see application/allocation.ts for the whole protocol).
import type {
  OrderLeftResourceQueue,
  OrderQueuedForResources,
  OrderResourcesConfirmed,
  OrderResourcesReserved,
  ResourceReturnedToAllocation,
  ResourceType,
  ResourceWithdrawnFromAllocation,
} from '@mes/contracts';
import { domainEventDecoder, type Decider } from '@mes/platform/decider';
import { PersistentSet } from './persistentSet.js';

/**
 * The queue's stream id in the resource category: 65 characters, one more than a resource id may
 * have (CONTRACT §3 ids are 1 to 64 characters), so no resource of the plant configuration can share it.
 */
export const ALLOCATION_QUEUE_ID = 'allocation-queue-of-orders-waiting-for-a-technician-and-equipment';

/** A resource the resource streams show as Available (registered, in the configuration, held by no order). */
export interface FreeResource {
  resourceId: string;
  resourceType: ResourceType;
}

/** An approved order asks for resources; a repeat (redelivery, re-sent command) changes nothing. */
export interface RequestResources {
  type: 'RequestResources';
  orderId: string;
  plantId: string;
  machineId: string;
  correlationId: string;
  /** When allocation was first requested for the order; a repeat keeps the first. */
  approvedAt: string;
  free: FreeResource[];
  at: string;
}

/** The order ended: it leaves the queue, and what it held goes to the next waiting orders. */
export interface ReleaseOrder {
  type: 'ReleaseOrder';
  orderId: string;
  free: FreeResource[];
  at: string;
}

/** Reserves free resources for waiting orders (after a restart, or resources coming back). */
export interface ServeWaitingOrders {
  type: 'ServeWaitingOrders';
  free: FreeResource[];
  at: string;
}

/** The reserved resources of these orders are booked and maintenance was told. */
export interface ConfirmReservations {
  type: 'ConfirmReservations';
  orderIds: string[];
  at: string;
}

export interface WithdrawResource {
  type: 'WithdrawResource';
  resourceId: string;
  at: string;
}

export interface ReturnResource {
  type: 'ReturnResource';
  resourceId: string;
  free: FreeResource[];
  at: string;
}

export type QueueCommand = RequestResources | ReleaseOrder | ServeWaitingOrders | ConfirmReservations | WithdrawResource | ReturnResource;

export type QueueEvent =
  | OrderQueuedForResources
  | OrderResourcesReserved
  | OrderResourcesConfirmed
  | OrderLeftResourceQueue
  | ResourceWithdrawnFromAllocation
  | ResourceReturnedToAllocation;

export interface Reservation {
  technicianId: string;
  equipmentId: string;
  /** Booked on both resources and reported to maintenance. */
  confirmed: boolean;
}

export interface QueuedOrder {
  orderId: string;
  machineId: string;
  approvedAt: string;
  correlationId: string;
  /** Place in arrival order, to break ties between equal approval times. */
  arrival: number;
  /** Null while the order waits. */
  reservation: Reservation | null;
}

export interface AllocationQueueState {
  /** Orders waiting or holding a reservation. */
  orders: ReadonlyMap<string, QueuedOrder>;
  /**
   * Orders that left; a late request for one of them is ignored. Every order the plant ever had
   * ends up here, so it is a persistent set: adding one does not copy the others.
   */
  left: PersistentSet;
  /** Resources out of the plant configuration: never reserved again until they return. */
  withdrawn: ReadonlySet<string>;
  arrivals: number;
}

export const emptyAllocationQueue: AllocationQueueState = { orders: new Map(), left: PersistentSet.empty, withdrawn: new Set(), arrivals: 0 };

/** Waiting orders, oldest approval first (arrival order between equal times). */
export function waitingOrders(state: AllocationQueueState): QueuedOrder[] {
  return [...state.orders.values()]
    .filter((order) => order.reservation === null)
    .sort((a, b) => Date.parse(a.approvedAt) - Date.parse(b.approvedAt) || a.arrival - b.arrival);
}

/** Free resources of a kind no order has reserved, in a stable order (by id). */
function candidates(state: AllocationQueueState, free: readonly FreeResource[], kind: ResourceType): string[] {
  const reserved = new Set<string>();
  for (const order of state.orders.values()) {
    if (order.reservation) reserved.add(order.reservation.technicianId).add(order.reservation.equipmentId);
  }
  return free
    .filter((r) => r.resourceType === kind && !reserved.has(r.resourceId) && !state.withdrawn.has(r.resourceId))
    .map((r) => r.resourceId)
    .sort();
}

/** The kinds of which no resource is left for a waiting order; empty when both kinds have one. */
export function missingKinds(state: AllocationQueueState, free: readonly FreeResource[]): ResourceType[] {
  const kinds: ResourceType[] = ['Technician', 'Equipment'];
  return kinds.filter((kind) => candidates(state, free, kind).length === 0);
}

/** Pairs of free resources for waiting orders, oldest first; stops at the first order that cannot get both. */
function serve(state: AllocationQueueState, free: readonly FreeResource[], at: string): OrderResourcesReserved[] {
  const technicians = candidates(state, free, 'Technician');
  const equipment = candidates(state, free, 'Equipment');
  const reserved: OrderResourcesReserved[] = [];
  for (const order of waitingOrders(state)) {
    const technicianId = technicians.shift();
    const equipmentId = equipment.shift();
    if (technicianId === undefined || equipmentId === undefined) break;
    reserved.push({ type: 'OrderResourcesReserved', version: 1, data: { orderId: order.orderId, technicianId, equipmentId, reservedAt: at } });
  }
  return reserved;
}

/** `events` followed by the reservations they make possible. */
function thenServe(state: AllocationQueueState, events: QueueEvent[], free: readonly FreeResource[], at: string): QueueEvent[] {
  return [...events, ...serve(events.reduce(evolve, state), free, at)];
}

function request(command: RequestResources, state: AllocationQueueState): QueueEvent[] {
  if (state.left.has(command.orderId)) return [];
  const queued: QueueEvent[] = state.orders.has(command.orderId)
    ? []
    : [
        {
          type: 'OrderQueuedForResources',
          version: 1,
          data: {
            orderId: command.orderId,
            plantId: command.plantId,
            machineId: command.machineId,
            approvedAt: command.approvedAt,
            correlationId: command.correlationId,
          },
        },
      ];
  return thenServe(state, queued, command.free, command.at);
}

function release(command: ReleaseOrder, state: AllocationQueueState): QueueEvent[] {
  if (state.left.has(command.orderId)) return serve(state, command.free, command.at);
  const reservation = state.orders.get(command.orderId)?.reservation ?? null;
  const left: OrderLeftResourceQueue = {
    type: 'OrderLeftResourceQueue',
    version: 1,
    data: {
      orderId: command.orderId,
      technicianId: reservation?.technicianId ?? null,
      equipmentId: reservation?.equipmentId ?? null,
      leftAt: command.at,
    },
  };
  return thenServe(state, [left], command.free, command.at);
}

function confirm(command: ConfirmReservations, state: AllocationQueueState): QueueEvent[] {
  const events: QueueEvent[] = [];
  for (const orderId of new Set(command.orderIds)) {
    const reservation = state.orders.get(orderId)?.reservation;
    if (!reservation || reservation.confirmed) continue;
    events.push({
      type: 'OrderResourcesConfirmed',
      version: 1,
      data: { orderId, technicianId: reservation.technicianId, equipmentId: reservation.equipmentId, confirmedAt: command.at },
    });
  }
  return events;
}

function decide(command: QueueCommand, state: AllocationQueueState): QueueEvent[] {
  switch (command.type) {
    case 'RequestResources':
      return request(command, state);
    case 'ReleaseOrder':
      return release(command, state);
    case 'ServeWaitingOrders':
      return serve(state, command.free, command.at);
    case 'ConfirmReservations':
      return confirm(command, state);
    case 'WithdrawResource':
      return state.withdrawn.has(command.resourceId) ? [] : [{ type: 'ResourceWithdrawnFromAllocation', version: 1, data: { resourceId: command.resourceId, at: command.at } }];
    case 'ReturnResource': {
      const returned: QueueEvent[] = state.withdrawn.has(command.resourceId)
        ? [{ type: 'ResourceReturnedToAllocation', version: 1, data: { resourceId: command.resourceId, at: command.at } }]
        : [];
      return thenServe(state, returned, command.free, command.at);
    }
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

function withOrder(state: AllocationQueueState, orderId: string, update: (order: QueuedOrder) => QueuedOrder): AllocationQueueState {
  const order = state.orders.get(orderId);
  if (!order) return state;
  return { ...state, orders: new Map(state.orders).set(orderId, update(order)) };
}

function evolve(state: AllocationQueueState, event: QueueEvent): AllocationQueueState {
  switch (event.type) {
    case 'OrderQueuedForResources': {
      const { data } = event;
      const order: QueuedOrder = {
        orderId: data.orderId,
        machineId: data.machineId,
        approvedAt: data.approvedAt,
        correlationId: data.correlationId,
        arrival: state.arrivals,
        reservation: null,
      };
      return { ...state, orders: new Map(state.orders).set(data.orderId, order), arrivals: state.arrivals + 1 };
    }
    case 'OrderResourcesReserved': {
      const { technicianId, equipmentId } = event.data;
      return withOrder(state, event.data.orderId, (order) => ({ ...order, reservation: { technicianId, equipmentId, confirmed: false } }));
    }
    case 'OrderResourcesConfirmed':
      return withOrder(state, event.data.orderId, (order) => (order.reservation ? { ...order, reservation: { ...order.reservation, confirmed: true } } : order));
    case 'OrderLeftResourceQueue': {
      const orders = new Map(state.orders);
      orders.delete(event.data.orderId);
      return { ...state, orders, left: state.left.add(event.data.orderId) };
    }
    case 'ResourceWithdrawnFromAllocation':
      return { ...state, withdrawn: new Set(state.withdrawn).add(event.data.resourceId) };
    case 'ResourceReturnedToAllocation': {
      const withdrawn = new Set(state.withdrawn);
      withdrawn.delete(event.data.resourceId);
      return { ...state, withdrawn };
    }
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

export const allocationQueueDecider: Decider<QueueCommand, QueueEvent, AllocationQueueState> = {
  initialState: emptyAllocationQueue,
  decide,
  evolve,
  decode: domainEventDecoder(
    'OrderQueuedForResources',
    'OrderResourcesReserved',
    'OrderResourcesConfirmed',
    'OrderLeftResourceQueue',
    'ResourceWithdrawnFromAllocation',
    'ResourceReturnedToAllocation',
  ),
};
