// What every service knows of a maintenance order: its statuses (the MaintenanceOrders Status
// values of CONTRACT §2) and the one rule that names the order of a workflow.
import { createHash } from 'node:crypto';
import { IDENTIFIER_PATTERN } from './names.js';

export const ORDER_STATUSES = [
  'PendingApproval',
  'Approved',
  'Rejected',
  'Expired',
  'AwaitingResources',
  'ResourcesAllocated',
  'Completed',
  'Cancelled',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Statuses an order never leaves. */
export const FINAL_ORDER_STATUSES: readonly OrderStatus[] = ['Rejected', 'Expired', 'Completed', 'Cancelled'];

export function isOrderStatus(value: string): value is OrderStatus {
  return (ORDER_STATUSES as readonly string[]).includes(value);
}

const ORDER_ID_PREFIX = 'MO_';
const WORKFLOW_ID_PREFIX = 'WF_';
const MAX_ID_LENGTH = 64;
const READABLE_PART_LENGTH = 28;
const HASH_PART_LENGTH = MAX_ID_LENGTH - ORDER_ID_PREFIX.length - READABLE_PART_LENGTH - 1;

/** A workflow id that cannot name an order (not 1 to 64 characters of A-Z a-z 0-9 _ -). */
export class InvalidWorkflowIdError extends Error {
  readonly code = 'INVALID_WORKFLOW_ID';
  constructor(workflowId: string) {
    super(`workflow id ${JSON.stringify(workflowId)} must be 1 to 64 characters of A-Z a-z 0-9 _ -`);
    this.name = 'InvalidWorkflowIdError';
  }
}

/**
 * The one order id a workflow gets, so a retried OpenMaintenanceOrder lands on the same stream:
 * `MO_` and the workflow id without its `WF_` (`WF_3f2a` -> `MO_3f2a`). An id too long for 64
 * characters keeps a readable start and a hash of the whole id, always exactly 64 characters, so
 * the two forms never collide.
 */
export function orderIdForWorkflow(workflowId: string): string {
  if (!IDENTIFIER_PATTERN.test(workflowId)) throw new InvalidWorkflowIdError(workflowId);
  const suffix = workflowId.startsWith(WORKFLOW_ID_PREFIX) && workflowId.length > WORKFLOW_ID_PREFIX.length ? workflowId.slice(WORKFLOW_ID_PREFIX.length) : workflowId;
  if (ORDER_ID_PREFIX.length + suffix.length < MAX_ID_LENGTH) return ORDER_ID_PREFIX + suffix;
  const hash = createHash('sha256').update(workflowId).digest('hex').slice(0, HASH_PART_LENGTH);
  return `${ORDER_ID_PREFIX}${suffix.slice(0, READABLE_PART_LENGTH)}_${hash}`;
}

/** Where an order's streams are: what the order index keeps for each order id. */
export interface OrderLocation {
  orderId: string;
  plantId: string;
  machineId: string;
  workflowId: string;
}
