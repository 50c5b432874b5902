// What the approval pages and emails show of a maintenance order, read from the order's own
// stream (owned by the maintenance service): the facts it was opened with and its current status.
import { parseDomainEvent, type DomainEvent, type ReadingSummary } from '@mes/contracts';

/** The MaintenanceOrders Status values of CONTRACT §2. */
export type OrderStatus =
  | 'PendingApproval'
  | 'Approved'
  | 'Rejected'
  | 'Expired'
  | 'AwaitingResources'
  | 'ResourcesAllocated'
  | 'Completed'
  | 'Cancelled';

export interface OrderSummary {
  orderId: string;
  plantId: string;
  machineId: string;
  reason: string;
  trigger: ReadingSummary;
  openedAt: string;
  status: OrderStatus;
}

const STATUS_AFTER: Partial<Record<DomainEvent['type'], OrderStatus>> = {
  MaintenanceOrderOpened: 'PendingApproval',
  MaintenanceOrderApprovalRequested: 'PendingApproval',
  MaintenanceOrderApproved: 'Approved',
  MaintenanceOrderRejected: 'Rejected',
  MaintenanceOrderExpired: 'Expired',
  MaintenanceOrderAwaitingResources: 'AwaitingResources',
  MaintenanceOrderResourcesAllocated: 'ResourcesAllocated',
  MaintenanceOrderCompleted: 'Completed',
  MaintenanceOrderCancelled: 'Cancelled',
};

/**
 * The order's summary from its stored events (type, version, data), or undefined when the stream
 * holds no MaintenanceOrderOpened. Events this build cannot read are skipped: a page about the
 * approval should not fail over the order's later history.
 */
export function orderSummaryOf(events: readonly { type: string; version: number; data: unknown }[]): OrderSummary | undefined {
  let summary: OrderSummary | undefined;
  for (const stored of events) {
    let event: DomainEvent;
    try {
      event = parseDomainEvent(stored.type, stored.version, stored.data);
    } catch {
      continue;
    }
    if (event.type === 'MaintenanceOrderOpened') {
      const { orderId, plantId, machineId, reason, trigger, openedAt } = event.data;
      summary = { orderId, plantId, machineId, reason, trigger, openedAt, status: 'PendingApproval' };
      continue;
    }
    const status = STATUS_AFTER[event.type];
    if (summary !== undefined && status !== undefined) summary = { ...summary, status };
  }
  return summary;
}
