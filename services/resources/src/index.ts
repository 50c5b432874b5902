export { createResourcesService, start } from './application/startResources.js';
export type { ResourcesOptions } from './application/startResources.js';
export { ALLOCATION_QUEUE_ID, allocationQueueDecider, missingKinds, waitingOrders } from './domain/allocationQueue.js';
export type { AllocationQueueState, FreeResource, QueueCommand, QueueEvent, QueuedOrder, Reservation } from './domain/allocationQueue.js';
export { resourceDecider, resourceStatus } from './domain/resource.js';
export type { RegisteredResource, ResourceCommand, ResourceEvent, ResourceState, ResourceStatus } from './domain/resource.js';
