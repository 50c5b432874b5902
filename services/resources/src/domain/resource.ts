// The Technician / Equipment aggregate: one stream per resource. Its revision is the lock that
// keeps two orders off one resource: an allocation is appended with the revision of a state in
// which the resource was free, so of two concurrent allocators one wins and the other reloads.
import type {
  ResourceAllocated,
  ResourceMarkedAvailable,
  ResourceMarkedUnavailable,
  ResourceRegistered,
  ResourceReleased,
  ResourceType,
} from '@mes/contracts';
import { DomainError, domainEventDecoder, type Decider } from '@mes/platform/decider';

/** The Status values of the Resources table (CONTRACT §2). */
export type ResourceStatus = 'Available' | 'Allocated' | 'Unavailable';

export const RESOURCE_ERROR_CODES = ['RESOURCE_NOT_REGISTERED', 'RESOURCE_ALREADY_ALLOCATED', 'RESOURCE_UNAVAILABLE', 'RESOURCE_NOT_HELD'] as const;
export type ResourceErrorCode = (typeof RESOURCE_ERROR_CODES)[number];

/** The resource as the plant configuration lists it; registering again with the same data changes nothing. */
export interface RegisterResource {
  type: 'RegisterResource';
  resourceId: string;
  plantId: string;
  resourceType: ResourceType;
  name: string;
  at: string;
}

export interface AllocateResource {
  type: 'AllocateResource';
  resourceId: string;
  orderId: string;
  at: string;
}

export interface ReleaseResource {
  type: 'ReleaseResource';
  resourceId: string;
  orderId: string;
  at: string;
}

/** Left out of the plant configuration: no further allocations; an order holding it keeps it until released. */
export interface MarkResourceUnavailable {
  type: 'MarkResourceUnavailable';
  resourceId: string;
  reason: string;
  at: string;
}

export type ResourceCommand = RegisterResource | AllocateResource | ReleaseResource | MarkResourceUnavailable;

export type ResourceEvent = ResourceRegistered | ResourceMarkedUnavailable | ResourceMarkedAvailable | ResourceAllocated | ResourceReleased;

export interface RegisteredResource {
  resourceId: string;
  plantId: string;
  resourceType: ResourceType;
  name: string;
  /** The order it is allocated to. */
  holder: string | null;
  /** Set while the resource is out of the plant configuration. */
  unavailable: { reason: string; since: string } | null;
  updatedAt: string;
}

/** `null` until the resource is registered. */
export type ResourceState = RegisteredResource | null;

/** An unavailable resource still held by an order shows as Allocated until the order releases it. */
export function resourceStatus(resource: RegisteredResource): ResourceStatus {
  if (resource.holder !== null) return 'Allocated';
  return resource.unavailable === null ? 'Available' : 'Unavailable';
}

function registered(state: ResourceState, command: Exclude<ResourceCommand, RegisterResource>): RegisteredResource {
  if (state !== null) return state;
  throw new DomainError('RESOURCE_NOT_REGISTERED', `resource ${command.resourceId} is not registered; it is registered from the plant configuration (MES_CONFIG) at start-up`, {
    resourceId: command.resourceId,
  });
}

function register(command: RegisterResource, state: ResourceState): ResourceEvent[] {
  const events: ResourceEvent[] = [];
  if (state === null || state.name !== command.name || state.resourceType !== command.resourceType || state.plantId !== command.plantId) {
    events.push({
      type: 'ResourceRegistered',
      version: 1,
      data: { resourceId: command.resourceId, plantId: command.plantId, resourceType: command.resourceType, name: command.name, registeredAt: command.at },
    });
  }
  if (state?.unavailable) events.push({ type: 'ResourceMarkedAvailable', version: 1, data: { resourceId: command.resourceId, at: command.at } });
  return events;
}

function allocate(command: AllocateResource, resource: RegisteredResource): ResourceEvent[] {
  // The order has it already: a retried allocation.
  if (resource.holder === command.orderId) return [];
  if (resource.holder !== null) {
    throw new DomainError(
      'RESOURCE_ALREADY_ALLOCATED',
      `${resource.resourceType.toLowerCase()} ${resource.resourceId} is allocated to order ${resource.holder}; it cannot be allocated to order ${command.orderId} until that order releases it`,
      { resourceId: resource.resourceId, holder: resource.holder, orderId: command.orderId },
    );
  }
  if (resource.unavailable !== null) {
    throw new DomainError(
      'RESOURCE_UNAVAILABLE',
      `${resource.resourceType.toLowerCase()} ${resource.resourceId} is unavailable (${resource.unavailable.reason}); it cannot be allocated to order ${command.orderId}`,
      { resourceId: resource.resourceId, orderId: command.orderId },
    );
  }
  return [{ type: 'ResourceAllocated', version: 1, data: { resourceId: resource.resourceId, orderId: command.orderId, at: command.at } }];
}

function release(command: ReleaseResource, resource: RegisteredResource): ResourceEvent[] {
  if (resource.holder === command.orderId) {
    return [{ type: 'ResourceReleased', version: 1, data: { resourceId: resource.resourceId, orderId: command.orderId, at: command.at } }];
  }
  // Free already: a retried release.
  if (resource.holder === null) return [];
  throw new DomainError(
    'RESOURCE_NOT_HELD',
    `${resource.resourceType.toLowerCase()} ${resource.resourceId} is allocated to order ${resource.holder}, not to order ${command.orderId}; only its holder can release it`,
    { resourceId: resource.resourceId, holder: resource.holder, orderId: command.orderId },
  );
}

function markUnavailable(command: MarkResourceUnavailable, resource: RegisteredResource): ResourceEvent[] {
  if (resource.unavailable !== null) return [];
  return [{ type: 'ResourceMarkedUnavailable', version: 1, data: { resourceId: resource.resourceId, reason: command.reason, at: command.at } }];
}

function decide(command: ResourceCommand, state: ResourceState): ResourceEvent[] {
  switch (command.type) {
    case 'RegisterResource':
      return register(command, state);
    case 'AllocateResource':
      return allocate(command, registered(state, command));
    case 'ReleaseResource':
      return release(command, registered(state, command));
    case 'MarkResourceUnavailable':
      return markUnavailable(command, registered(state, command));
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

function evolve(state: ResourceState, event: ResourceEvent): ResourceState {
  if (event.type === 'ResourceRegistered') {
    const { data } = event;
    return {
      resourceId: data.resourceId,
      plantId: data.plantId,
      resourceType: data.resourceType,
      name: data.name,
      holder: state?.holder ?? null,
      unavailable: state?.unavailable ?? null,
      updatedAt: data.registeredAt,
    };
  }
  // Every other event follows the registration in a well-formed stream.
  if (state === null) return state;
  switch (event.type) {
    case 'ResourceMarkedUnavailable':
      return { ...state, unavailable: { reason: event.data.reason, since: event.data.at }, updatedAt: event.data.at };
    case 'ResourceMarkedAvailable':
      return { ...state, unavailable: null, updatedAt: event.data.at };
    case 'ResourceAllocated':
      return { ...state, holder: event.data.orderId, updatedAt: event.data.at };
    case 'ResourceReleased':
      return { ...state, holder: null, updatedAt: event.data.at };
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

export const resourceDecider: Decider<ResourceCommand, ResourceEvent, ResourceState> = {
  initialState: null,
  decide,
  evolve,
  decode: domainEventDecoder('ResourceRegistered', 'ResourceMarkedUnavailable', 'ResourceMarkedAvailable', 'ResourceAllocated', 'ResourceReleased'),
};
