// Allocating a technician and equipment to approved orders, and giving them back.
//
// Design
// - Streams, all in the plant's `resource` category:
//   `{plant}.resource.{resourceId}`: one Technician or Equipment (domain/resource.ts). Its revision
//     is the lock on the resource: ResourceAllocated is appended only with the revision of a state
//     in which the resource is free (or already held by that same order), so a resource holds at
//     most one order at a time whatever the rest of the system believes.
//   `{plant}.resource.{ALLOCATION_QUEUE_ID}`: the plant's allocation queue (domain/allocationQueue.ts):
//     OrderQueuedForResources, OrderResourcesReserved, OrderResourcesConfirmed,
//     OrderLeftResourceQueue, ResourceWithdrawnFromAllocation / ResourceReturnedToAllocation. Its id
//     is longer than any resource id may be, so it never collides with one.
// - Who gets what is decided in the queue, under optimistic concurrency: a decision reads the
//   queue and every resource of the plant, reserves a free technician AND a free equipment for
//   each waiting order oldest approval first (approval = issuedAt of the first AllocateResources
//   of the order), in ONE event per order, and appends with the queue revision it read. A pair is
//   reserved as a whole or not at all, so an order never holds half an allocation by decision, and
//   a concurrent decision (another copy, another command) fails on the revision, reloads, and sees
//   the reservation. A resource reserved for an order that has not left is never offered again.
// - Booking follows the reservation ("roll forward"): ResourceAllocated on the technician, then on
//   the equipment, then RecordOrderResourcesAllocated to maintenance, then OrderResourcesConfirmed.
//   Every step is idempotent, and every pass of every copy rolls forward ALL unconfirmed
//   reservations of the plant, so a crash anywhere in between (technician booked, equipment not)
//   is completed by the redelivered command or by the next command or start-up: a partial booking
//   is always on its way to complete, never left behind.
// - Release: ReleaseResources first releases on the resource streams what the order holds (its
//   reservation and anything a resource stream shows it holding), then appends
//   OrderLeftResourceQueue and, in the same append, the reservations the freed resources make
//   possible for the next waiting orders. Resources are freed before the queue forgets the
//   reservation, so a resource the queue offers is free on its stream. An order that left stays
//   known (a late or redelivered AllocateResources for it changes nothing).
// - Races:
//   * Two copies deciding at once: one queue append wins, the other reloads and decides again.
//   * A release racing an allocation: whichever queue append comes second sees the first. A decision
//     that saw a resource busy which was freed after its read misses it, but the releaser's own
//     decision comes after its frees and serves the waiting orders, so no release goes unnoticed.
//   * A booking racing a release of the same order (the order leaves while a copy books it): the
//     booking copy sees the order gone when it confirms and releases what it booked; if it dies
//     first, every pass releases resources held by orders that have left.
//   * A resource left out of the plant configuration: withdrawn in the queue first (no new
//     reservations), outstanding reservations booked, then marked unavailable on its stream; it
//     stays with its order until released.
// - Cost: each copy keeps the last state of every queue and resource stream it read or wrote, with
//   its revision, and a read fetches only the events after that revision (none when this copy
//   wrote last), so a decision costs the same after a hundred orders as after a hundred thousand.
//   A kept state is exactly the fold of its stream up to its revision, and a decision on it appends
//   at that revision: when another copy appended meanwhile, the append conflicts and the retry
//   catches up from the kept state, as after a full read. Only a copy's first read of a stream
//   (after a start-up) reads it whole.
// - Replies to maintenance carry deterministic command ids (`{orderId}/resources-allocated`,
//   `{orderId}/awaiting-resources`) and the order's correlation id (its workflow). Appends use
//   random event ids on purpose: every append states its expected revision, so a retry cannot
//   duplicate, and JetStream answers a repeated Nats-Msg-Id as "duplicate" before it checks the
//   expected revision, which would acknowledge a different decision that reused the ids.
// One file on purpose (over 300 lines): the allocation protocol across the queue and the resource
// streams is one piece of reasoning, described here once.
import {
  streamName,
  type Actor,
  type AllocateResources,
  type ReleaseResources,
  type ResourceType,
} from '@mes/contracts';
import {
  AggregateCache,
  DomainError,
  TooManyConflictsError,
  forEachAtOnce,
  WrongExpectedRevisionError,
  handleCommand,
  stateAfter,
  stateFrom,
  buildCommand,
  sendCommand,
  type CommandMetadata,
  type Decider,
  type DomainMessage,
  type EventStore,
  type Logger,
  type NewEvent,
  type ServiceDeps,
  type StreamRevision,
} from '@mes/platform';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ALLOCATION_QUEUE_ID,
  allocationQueueDecider,
  missingKinds,
  type AllocationQueueState,
  type FreeResource,
  type QueueCommand,
  type QueueEvent,
  type QueuedOrder,
} from '../domain/allocationQueue.js';
import { resourceDecider, resourceStatus, type RegisteredResource, type ResourceCommand, type ResourceState } from '../domain/resource.js';

export const RESOURCES_ACTOR: Actor = { kind: 'service', id: 'resources' };
/** Queue decisions of many copies collide often; each retry reloads, so a few dozen is cheap. */
const MAX_QUEUE_ATTEMPTS = 30;

export function queueStream(plantId: string): string {
  return streamName(plantId, 'resource', ALLOCATION_QUEUE_ID);
}

export function resourceStream(plantId: string, resourceId: string): string {
  return streamName(plantId, 'resource', resourceId);
}

/** Why something was written: the workflow of the order (or a start-up), and the command that caused it. */
export interface Cause {
  correlationId: string;
  causationId: string | null;
}

export interface AllocatorDeps {
  store: EventStore;
  nc: ServiceDeps['nc'];
  logger: Logger;
  now: () => Date;
  /** The resources of a plant this copy knows: its configured ones and those found in the log. */
  resourceIds(plantId: string): readonly string[];
  /** Streams (queues and resources, each) whose last state this copy keeps; default 10,000. */
  cacheCapacity?: number;
}

/** The queue and every known resource of a plant, read together. */
interface PlantView {
  queue: AllocationQueueState;
  revision: StreamRevision | 'no_stream';
  resources: Map<string, RegisteredResource>;
}

interface Decided {
  state: AllocationQueueState;
  /** The free resources the decision was made with. */
  free: FreeResource[];
}

export type Allocator = ReturnType<typeof createAllocator>;

async function sequentially<T>(reads: readonly (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = [];
  for (const read of reads) results.push(await read());
  return results;
}

/** Keeps `state` as the stream's at `revision`, unless a later revision is kept already. */
function remember<State>(cache: AggregateCache<State>, stream: string, revision: StreamRevision, state: State): void {
  const kept = cache.get(stream);
  if (kept === undefined || kept.revision < revision) cache.set(stream, { revision, state });
}

/**
 * A stream's state as it is now: the cached state caught up with the events appended after its
 * revision (by another copy, or by this one without caching), or, not cached, the whole stream.
 * The cache holds only states folded from exactly the events up to their revision, so appending at
 * the revision returned is as safe as after a full read: a later writer makes the append conflict.
 */
async function readCached<Command, Event extends DomainMessage, State>(
  store: EventStore,
  cache: AggregateCache<State>,
  decider: Decider<Command, Event, State>,
  stream: string,
): Promise<{ state: State; revision: StreamRevision | 'no_stream' }> {
  const cached = cache.get(stream);
  const read = await store.readStream(stream, cached === undefined ? {} : { after: cached.revision });
  if (read.revision === 'no_stream') {
    cache.forget(stream);
    return { state: decider.initialState, revision: 'no_stream' };
  }
  if (cached !== undefined && read.events.length === 0) return cached;
  const state = cached === undefined ? stateFrom(decider, read.events) : stateAfter(decider, cached.state, read.events);
  remember(cache, stream, read.revision, state);
  return { state, revision: read.revision };
}

/** Reservations booked at once by one pass (each books its two resources in turn). */
const BOOKINGS_AT_ONCE = 16;
/** Most allocation requests decided together in one queue append. */
const MAX_REQUESTS_PER_DECISION = 200;

/** The events of `commands` decided in turn, each on the state the ones before it leave. */
function decideInTurn(commands: QueueCommand | QueueCommand[], state: AllocationQueueState): QueueEvent[] {
  const events: QueueEvent[] = [];
  let current = state;
  for (const command of Array.isArray(commands) ? commands : [commands]) {
    const decided = allocationQueueDecider.decide(command, current);
    events.push(...decided);
    current = decided.reduce(allocationQueueDecider.evolve, current);
  }
  return events;
}

interface WaitingRequest {
  command: AllocateResources;
  resolve(): void;
  reject(err: unknown): void;
}

export function createAllocator(deps: AllocatorDeps) {
  const { store, logger, now } = deps;

  const queues = new AggregateCache<AllocationQueueState>(deps.cacheCapacity);
  const resourceStates = new AggregateCache<ResourceState>(deps.cacheCapacity);

  const readQueue = async (plantId: string): Promise<{ queue: AllocationQueueState; revision: StreamRevision | 'no_stream' }> => {
    const { state, revision } = await readCached(store, queues, allocationQueueDecider, queueStream(plantId));
    return { queue: state, revision };
  };

  const readPlant = async (plantId: string): Promise<PlantView> => {
    const ids = deps.resourceIds(plantId);
    const reads = ids.map((id) => () => readCached(store, resourceStates, resourceDecider, resourceStream(plantId, id)));
    // A copy's first reads are whole, and whole reads of several long streams at once overrun one
    // connection (messages dropped in transit): one after another then; catching up, all at once.
    const cold = queues.get(queueStream(plantId)) === undefined || ids.some((id) => resourceStates.get(resourceStream(plantId, id)) === undefined);
    const [queue, streams] = cold
      ? [await readQueue(plantId), await sequentially(reads)]
      : await Promise.all([readQueue(plantId), Promise.all(reads.map((read) => read()))]);
    const resources = new Map<string, RegisteredResource>();
    streams.forEach(({ state }, index) => {
      if (state !== null) resources.set(ids[index]!, state);
    });
    return { queue: queue.queue, revision: queue.revision, resources };
  };

  const onResource = async (plantId: string, command: ResourceCommand, cause: Cause): Promise<ResourceState> => {
    const result = await handleCommand({ store, now }, resourceDecider, resourceStream(plantId, command.resourceId), command, { ...cause, actor: RESOURCES_ACTOR }, { cache: resourceStates });
    if (result.events.length > 0) logger.info({ plantId, resourceId: command.resourceId, events: result.events.map((e) => e.type) }, 'resource updated');
    return result.state;
  };

  /** Releases a resource held by `orderId`; null when it is not (any more) that order's. */
  const releaseHeld = async (plantId: string, resourceId: string, orderId: string, cause: Cause): Promise<ResourceState> => {
    try {
      return await onResource(plantId, { type: 'ReleaseResource', resourceId, orderId, at: now().toISOString() }, cause);
    } catch (err) {
      if (err instanceof DomainError && (err.code === 'RESOURCE_NOT_HELD' || err.code === 'RESOURCE_NOT_REGISTERED')) return null;
      throw err;
    }
  };

  /** Gives back resources whose holder left the queue (a booking that raced the order's release). */
  const releaseOrphans = async (plantId: string, view: PlantView, cause: Cause): Promise<void> => {
    for (const resource of [...view.resources.values()]) {
      if (resource.holder === null || !view.queue.left.has(resource.holder)) continue;
      logger.warn({ plantId, resourceId: resource.resourceId, orderId: resource.holder }, 'resource held by an order that left the queue; releasing it');
      const state = await releaseHeld(plantId, resource.resourceId, resource.holder, cause);
      if (state) view.resources.set(resource.resourceId, state);
    }
  };

  /** Appends the decision at the revision it was made on; the state after it is cached unless the store found it stored already. */
  const appendToQueue = async (
    plantId: string,
    state: AllocationQueueState,
    events: QueueEvent[],
    revision: StreamRevision | 'no_stream',
    cause: Cause,
    causationOf: (event: QueueEvent) => string | null = () => cause.causationId,
  ): Promise<AllocationQueueState> => {
    const occurredAt = now().toISOString();
    let current = state;
    const newEvents: NewEvent[] = events.map((event) => {
      const correlationId =
        event.type === 'OrderQueuedForResources'
          ? event.data.correlationId
          : 'orderId' in event.data
            ? (current.orders.get(event.data.orderId)?.correlationId ?? cause.correlationId)
            : cause.correlationId;
      current = allocationQueueDecider.evolve(current, event);
      return { eventId: randomUUID(), type: event.type, version: event.version, occurredAt, correlationId, causationId: causationOf(event), actor: RESOURCES_ACTOR, data: event.data };
    });
    const stream = queueStream(plantId);
    const appended = await store.appendToStream(stream, newEvents, { expectedRevision: revision });
    // A repeat (a resend after a lost ack) may have later events after it: the next read finds out.
    if (appended.duplicate) queues.forget(stream);
    else remember(queues, stream, appended.nextRevision, current);
    return current;
  };

  /**
   * One queue decision: read the queue (and, with `withResources`, every resource of the plant),
   * tidy up, decide, append with the queue revision read; on a conflict, again from the start.
   */
  const decideOnQueue = async (
    plantId: string,
    cause: Cause,
    command: (free: FreeResource[]) => QueueCommand | QueueCommand[],
    options: { withResources: boolean; prepare?: (view: PlantView) => Promise<void>; causationOf?: (event: QueueEvent) => string | null },
  ): Promise<Decided> => {
    for (let attempt = 1; ; attempt++) {
      let view: PlantView;
      if (options.withResources) {
        view = await readPlant(plantId);
        await releaseOrphans(plantId, view, cause);
      } else {
        view = { ...(await readQueue(plantId)), resources: new Map() };
      }
      await options.prepare?.(view);
      const free = [...view.resources.values()]
        .filter((resource) => resourceStatus(resource) === 'Available')
        .map((resource) => ({ resourceId: resource.resourceId, resourceType: resource.resourceType }));
      const events = decideInTurn(command(free), view.queue);
      if (events.length === 0) return { state: view.queue, free };
      try {
        const state = await appendToQueue(plantId, view.queue, events, view.revision, cause, options.causationOf);
        logEvents(plantId, events);
        return { state, free };
      } catch (err) {
        if (!(err instanceof WrongExpectedRevisionError)) throw err;
        if (attempt >= MAX_QUEUE_ATTEMPTS) throw new TooManyConflictsError(queueStream(plantId), attempt);
        await sleep(Math.random() * Math.min(100, 5 * attempt));
      }
    }
  };

  const logEvents = (plantId: string, events: QueueEvent[]): void => {
    for (const event of events) {
      if (event.type === 'OrderResourcesReserved') logger.info({ plantId, ...event.data }, 'resources reserved for order');
      else if (event.type === 'OrderLeftResourceQueue') logger.info({ plantId, ...event.data }, 'order left the allocation queue');
    }
  };

  /** Books `resourceId` for the order; a holder that left the queue is released first. */
  const book = async (plantId: string, resourceId: string, order: QueuedOrder, state: AllocationQueueState, cause: Cause): Promise<void> => {
    const allocate: ResourceCommand = { type: 'AllocateResource', resourceId, orderId: order.orderId, at: now().toISOString() };
    try {
      await onResource(plantId, allocate, cause);
    } catch (err) {
      const holder = err instanceof DomainError && err.code === 'RESOURCE_ALREADY_ALLOCATED' ? err.details?.holder : undefined;
      if (typeof holder !== 'string' || !state.left.has(holder)) throw err;
      await releaseHeld(plantId, resourceId, holder, cause);
      await onResource(plantId, allocate, cause);
    }
  };

  /** Books every unconfirmed reservation of the plant, tells maintenance, and confirms them. */
  const rollForward = async (plantId: string, state: AllocationQueueState, cause: Cause, causeOf: (order: QueuedOrder) => string | null = () => cause.causationId): Promise<AllocationQueueState> => {
    const pending = [...state.orders.values()].filter((order) => order.reservation !== null && !order.reservation.confirmed);
    if (pending.length === 0) return state;
    const booked: QueuedOrder[] = [];
    // Every reservation names resources of its own (the queue never reserves one twice), so the
    // orders are booked at once, a few at a time; each order's two bookings stay in turn.
    await forEachAtOnce(pending, BOOKINGS_AT_ONCE, async (order) => {
      const { technicianId, equipmentId } = order.reservation!;
      const orderCause: Cause = { correlationId: order.correlationId, causationId: causeOf(order) };
      try {
        await book(plantId, technicianId, order, state, orderCause);
        await book(plantId, equipmentId, order, state, orderCause);
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        // Cannot happen while every allocation goes through the queue; say so loudly, retry on the next pass.
        logger.error({ plantId, orderId: order.orderId, technicianId, equipmentId, code: err.code, reason: err.message }, 'reserved resources cannot be booked');
        return;
      }
      await sendCommand(
        deps.nc,
        buildCommand('RecordOrderResourcesAllocated', commandMetadata(plantId, order, 'resources-allocated', { ...cause, causationId: orderCause.causationId }), { orderId: order.orderId, technicianId, equipmentId }),
      );
      booked.push(order);
    });
    if (booked.length === 0) return state;
    const { state: confirmed } = await decideOnQueue(plantId, cause, () => ({ type: 'ConfirmReservations', orderIds: booked.map((o) => o.orderId), at: now().toISOString() }), {
      withResources: false,
    });
    // An order released while we booked it: give back what we booked for it.
    for (const order of booked) {
      if (!confirmed.left.has(order.orderId)) continue;
      for (const resourceId of [order.reservation!.technicianId, order.reservation!.equipmentId]) {
        await releaseHeld(plantId, resourceId, order.orderId, cause);
      }
    }
    return confirmed;
  };

  /** What maintenance is told about an order: a command id per fact, so a repeat is recognised. */
  const commandMetadata = (plantId: string, order: QueuedOrder, fact: string, cause: Cause): CommandMetadata => ({
    commandId: `${order.orderId}/${fact}`,
    correlationId: order.correlationId,
    causationId: cause.causationId,
    plantId,
    issuedAt: now().toISOString(),
    actor: RESOURCES_ACTOR,
  });

  const sendAwaitingResources = async (plantId: string, order: QueuedOrder, missing: ResourceType[], cause: Cause): Promise<void> => {
    await sendCommand(deps.nc, buildCommand('MarkOrderAwaitingResources', commandMetadata(plantId, order, 'awaiting-resources', cause), { orderId: order.orderId, missing }));
    logger.info({ plantId, orderId: order.orderId, missing }, 'order waits for resources');
  };

  // One queue decision of a plant at a time in this copy: decisions of one copy would only refuse
  // each other's revisions. (Other copies' decisions still race, and lose or win by revision.)
  const turns = new Map<string, Promise<void>>();
  const inTurn = <T>(plantId: string, work: () => Promise<T>): Promise<T> => {
    const mine = (turns.get(plantId) ?? Promise.resolve()).then(work);
    const settled = mine.then(
      () => undefined,
      () => undefined,
    );
    turns.set(plantId, settled);
    void settled.then(() => {
      if (turns.get(plantId) === settled) turns.delete(plantId);
    });
    return mine;
  };

  /**
   * Allocation requests that arrive while the plant's queue is busy wait for its next turn, and
   * are decided together then: one queue append reserves for all of them, their bookings run at
   * once. A burst of approvals costs a few decisions, not one each.
   */
  const waitingRequests = new Map<string, WaitingRequest[]>();

  /** Queues each order (once), serves the queue, and tells maintenance the outcome of each. */
  const requestTogether = async (plantId: string, commands: AllocateResources[]): Promise<void> => {
    const byOrder = new Map<string, AllocateResources>();
    for (const command of commands) if (!byOrder.has(command.orderId)) byOrder.set(command.orderId, command);
    const first = commands[0]!;
    const cause: Cause = { correlationId: first.correlationId, causationId: first.commandId };
    const commandOf = (orderId: string) => byOrder.get(orderId)?.commandId ?? cause.causationId;
    const decided = await decideOnQueue(
      plantId,
      cause,
      (free) =>
        [...byOrder.values()].map((command) => ({
          type: 'RequestResources' as const,
          orderId: command.orderId,
          plantId,
          machineId: command.machineId,
          correlationId: command.correlationId,
          approvedAt: command.issuedAt,
          free,
          at: now().toISOString(),
        })),
      { withResources: true, causationOf: (event) => ('orderId' in event.data ? commandOf(event.data.orderId) : cause.causationId) },
    );
    await rollForward(plantId, decided.state, cause, (order) => commandOf(order.orderId));
    const waiting: { order: QueuedOrder; command: AllocateResources; missing: ResourceType[] }[] = [];
    for (const command of byOrder.values()) {
      const { orderId } = command;
      if (decided.state.left.has(orderId)) {
        logger.info({ plantId, orderId }, 'allocation requested for an order whose resources were already released; ignored');
        continue;
      }
      const order = decided.state.orders.get(orderId);
      if (!order || order.reservation !== null) continue;
      const missing = missingKinds(decided.state, decided.free);
      if (missing.length === 0) {
        logger.warn({ plantId, orderId }, 'order waits although both kinds looked free; the next release or start-up serves it');
        continue;
      }
      waiting.push({ order, command, missing });
    }
    await Promise.all(waiting.map(({ order, command, missing }) => sendAwaitingResources(plantId, order, missing, { correlationId: command.correlationId, causationId: command.commandId })));
  };

  return {
    readQueue,
    readPlant,
    onResource,

    /**
     * AllocateResources: queue the order (once), serve the queue, and tell maintenance the outcome;
     * together with the other requests of the plant that arrive before the queue's next turn.
     */
    requestResources(command: AllocateResources): Promise<void> {
      const { plantId } = command;
      return new Promise<void>((resolve, reject) => {
        let batch = waitingRequests.get(plantId);
        if (batch === undefined || batch.length >= MAX_REQUESTS_PER_DECISION) {
          const requests: WaitingRequest[] = [];
          batch = requests;
          waitingRequests.set(plantId, requests);
          inTurn(plantId, async () => {
            // Its turn: later requests start the next batch.
            if (waitingRequests.get(plantId) === requests) waitingRequests.delete(plantId);
            await requestTogether(plantId, requests.map((request) => request.command));
          }).then(
            () => requests.forEach((request) => request.resolve()),
            (err: unknown) => requests.forEach((request) => request.reject(err)),
          );
        }
        batch.push({ command, resolve, reject });
      });
    },

    /** ReleaseResources: free what the order holds, take it out of the queue, serve the next orders. */
    releaseResources: (command: ReleaseResources): Promise<void> => inTurn(command.plantId, async () => {
      const { plantId, orderId } = command;
      const cause: Cause = { correlationId: command.correlationId, causationId: command.commandId };
      const prepare = async (view: PlantView): Promise<void> => {
        const held = new Set([...view.resources.values()].filter((r) => r.holder === orderId).map((r) => r.resourceId));
        const reservation = view.queue.orders.get(orderId)?.reservation;
        if (reservation) held.add(reservation.technicianId).add(reservation.equipmentId);
        for (const resourceId of held) {
          const state = await releaseHeld(plantId, resourceId, orderId, cause);
          if (state) view.resources.set(resourceId, state);
        }
      };
      const decided = await decideOnQueue(plantId, cause, (free) => ({ type: 'ReleaseOrder', orderId, free, at: now().toISOString() }), { withResources: true, prepare });
      await rollForward(plantId, decided.state, cause);
    }),

    /** Serves waiting orders with whatever is free, and finishes any booking left half done. */
    serveWaitingOrders: (plantId: string, cause: Cause): Promise<void> => inTurn(plantId, async () => {
      const decided = await decideOnQueue(plantId, cause, (free) => ({ type: 'ServeWaitingOrders', free, at: now().toISOString() }), { withResources: true });
      await rollForward(plantId, decided.state, cause);
    }),

    /** No further reservations of the resource; reservations made before it are booked. */
    withdrawResource: (plantId: string, resourceId: string, cause: Cause): Promise<void> => inTurn(plantId, async () => {
      const decided = await decideOnQueue(plantId, cause, () => ({ type: 'WithdrawResource', resourceId, at: now().toISOString() }), { withResources: false });
      await rollForward(plantId, decided.state, cause);
    }),

    returnResource: (plantId: string, resourceId: string, cause: Cause): Promise<void> => inTurn(plantId, async () => {
      const decided = await decideOnQueue(plantId, cause, (free) => ({ type: 'ReturnResource', resourceId, free, at: now().toISOString() }), { withResources: true });
      await rollForward(plantId, decided.state, cause);
    }),
  };
}
