// The projection rules of the reporting tables (CONTRACT §2): each event becomes the row changes
// it implies, and nothing else. Pure: no clock, no I/O; positions are attached by the caller, and
// applying a change twice is a no-op there (every row remembers the last position applied).
import type { DomainEvent, DomainEventData, DomainEventType, TelemetryReading } from '@mes/contracts';

export const REPORT_TABLES = ['MESData', 'MaintenanceOrders', 'Resources', 'Approvals'] as const;
export type ReportTable = (typeof REPORT_TABLES)[number];

/** The Status values of CONTRACT §2, per table. */
export const ORDER_STATUSES = ['PendingApproval', 'Approved', 'Rejected', 'Expired', 'AwaitingResources', 'ResourcesAllocated', 'Completed', 'Cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
export const APPROVAL_STATUSES = ['Pending', 'Approved', 'Rejected', 'Expired', 'Superseded'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];
export const RESOURCE_STATUSES = ['Available', 'Allocated', 'Unavailable'] as const;
export type ResourceStatus = (typeof RESOURCE_STATUSES)[number];

export type CellValue = string | number | null;

/** The value depends on whether `whenNull` was NULL in the row before this change. */
export interface CellWhenNull {
  whenNull: string;
  then: CellValue;
  otherwise: CellValue;
}

export type RowChange =
  /** Creates the row; if it exists, sets `values` only (`insertOnly` is for a new row). */
  | { kind: 'upsert'; table: ReportTable; key: Record<string, string>; values: Record<string, CellValue>; insertOnly?: Record<string, CellValue> }
  /** Changes an existing row; nothing when there is none. */
  | { kind: 'update'; table: ReportTable; key: Record<string, string>; values: Record<string, CellValue | CellWhenNull> };

/** MESData: one row per accepted reading, keyed by the reading event's id. */
export function readingRowChanges(eventId: string, reading: TelemetryReading): RowChange[] {
  return [
    {
      kind: 'upsert',
      table: 'MESData',
      key: { EventID: eventId },
      values: {
        ID: reading.machineId,
        PlantID: reading.plantId,
        MachineStatus: reading.machineStatus,
        QualityTrend: reading.qualityTrend,
        ProductionTarget: reading.productionTarget,
        ProductionActual: reading.productionActual,
        Timestamp: reading.timestamp,
      },
    },
  ];
}

function order(orderId: string, values: Record<string, CellValue>): RowChange[] {
  return [{ kind: 'update', table: 'MaintenanceOrders', key: { OrderID: orderId }, values }];
}

function approval(approvalId: string, values: Record<string, CellValue>): RowChange[] {
  return [{ kind: 'update', table: 'Approvals', key: { ApprovalID: approvalId }, values }];
}

function resource(resourceId: string, values: Record<string, CellValue | CellWhenNull>): RowChange[] {
  return [{ kind: 'update', table: 'Resources', key: { ResourceID: resourceId }, values }];
}

function decided(data: DomainEventData<'MaintenanceOrderApproved'>, status: OrderStatus): RowChange[] {
  return order(data.orderId, { Status: status, DecidedBy: data.decidedBy, DecidedAt: data.decidedAt, UpdatedAt: data.decidedAt });
}

/**
 * Events that no table shows (machine conditions, workflow steps, emails, the resources service's
 * allocation queue), whatever they hold: the projection need not even decode them. A failed
 * signature or a lock decides nothing either: the request stays as it is (the audit shows them).
 */
const EVENT_TYPES_WITHOUT_ROWS = [
  'MachineReadingRecorded',
  'MachineStatusChanged',
  'ApprovalEmailSent',
  'ApprovalSignatureFailed',
  'ApproverSigningLocked',
  'OrderQueuedForResources',
  'OrderResourcesReserved',
  'OrderResourcesConfirmed',
  'OrderLeftResourceQueue',
  'ResourceWithdrawnFromAllocation',
  'ResourceReturnedToAllocation',
  'WorkflowStarted',
  'WorkflowStepRecorded',
  'WorkflowTimeoutScheduled',
  'WorkflowCompleted',
  'PlantConfigVersionRecorded',
] as const satisfies readonly DomainEventType[];
type EventTypeWithoutRows = (typeof EVENT_TYPES_WITHOUT_ROWS)[number];
const WITHOUT_ROWS: ReadonlySet<string> = new Set(EVENT_TYPES_WITHOUT_ROWS);

/** True for an event type (of any version) that changes no reporting table. */
export function eventTypeHasNoRows(type: string): type is EventTypeWithoutRows {
  return WITHOUT_ROWS.has(type);
}

function isEventWithoutRows(event: DomainEvent): event is Extract<DomainEvent, { type: EventTypeWithoutRows }> {
  return WITHOUT_ROWS.has(event.type);
}

/** The row changes one event of the log implies (none for the types of EVENT_TYPES_WITHOUT_ROWS). */
export function eventRowChanges(event: DomainEvent): RowChange[] {
  if (isEventWithoutRows(event)) return [];
  switch (event.type) {
    case 'MaintenanceOrderOpened': {
      const { data } = event;
      return [
        {
          kind: 'upsert',
          table: 'MaintenanceOrders',
          key: { OrderID: data.orderId },
          values: {
            MachineID: data.machineId,
            PlantID: data.plantId,
            Status: 'PendingApproval',
            Reason: data.reason,
            CreatedAt: data.openedAt,
            UpdatedAt: data.openedAt,
            DecidedBy: null,
            DecidedAt: null,
            TechnicianID: null,
            EquipmentID: null,
          },
        },
      ];
    }
    case 'MaintenanceOrderApprovalRequested':
      return order(event.data.orderId, { UpdatedAt: event.data.requestedAt });
    case 'MaintenanceOrderApproved':
      return decided(event.data, 'Approved');
    case 'MaintenanceOrderRejected':
      return decided(event.data, 'Rejected');
    case 'MaintenanceOrderExpired':
      return order(event.data.orderId, { Status: 'Expired', UpdatedAt: event.data.expiredAt });
    case 'MaintenanceOrderAwaitingResources':
      return order(event.data.orderId, { Status: 'AwaitingResources', UpdatedAt: event.data.since });
    case 'MaintenanceOrderResourcesAllocated': {
      const { data } = event;
      return order(data.orderId, { Status: 'ResourcesAllocated', TechnicianID: data.technicianId, EquipmentID: data.equipmentId, UpdatedAt: data.allocatedAt });
    }
    case 'MaintenanceOrderCompleted':
      return order(event.data.orderId, { Status: 'Completed', UpdatedAt: event.data.completedAt });
    case 'MaintenanceOrderCancelled':
      return order(event.data.orderId, { Status: 'Cancelled', UpdatedAt: event.data.cancelledAt });

    case 'ApprovalRequested': {
      const { data } = event;
      return [
        {
          kind: 'upsert',
          table: 'Approvals',
          key: { ApprovalID: data.approvalId },
          values: {
            OrderID: data.orderId,
            Approver: data.approver.email,
            // The printed name of the approver the request went to; the decision's signature sets it again.
            ApproverName: data.approver.name,
            Status: 'Pending',
            RequestedAt: data.requestedAt,
            DecidedAt: null,
            Comment: null,
            Meaning: null,
          },
        },
      ];
    }
    case 'ApprovalDecided': {
      const { data } = event;
      // The signature's manifestation (CONTRACT §2, §4): decisions stored before it was recorded get it from their upcaster.
      return approval(data.approvalId, {
        Status: data.decision === 'approved' ? 'Approved' : 'Rejected',
        DecidedAt: data.decidedAt,
        Comment: data.comment ?? null,
        ApproverName: data.signature.printedName,
        Meaning: data.signature.meaning,
      });
    }
    case 'ApprovalEscalated':
      // The event names the request it supersedes; the next request arrives as its own ApprovalRequested.
      return approval(event.data.approvalId, { Status: 'Superseded' });
    case 'ApprovalExpired':
      return approval(event.data.approvalId, { Status: 'Expired' });
    case 'ApprovalWithdrawn':
      // No decision is needed any more (CONTRACT §4): the request is superseded by the order's end.
      return approval(event.data.approvalId, { Status: 'Superseded' });

    case 'ResourceRegistered': {
      const { data } = event;
      // A registration repeated with a new name or type keeps whatever holds the resource.
      return [
        {
          kind: 'upsert',
          table: 'Resources',
          key: { ResourceID: data.resourceId },
          values: { ResourceType: data.resourceType, PlantID: data.plantId, Name: data.name, UpdatedAt: data.registeredAt },
          insertOnly: { Status: 'Available', OrderID: null, UnavailableReason: null },
        },
      ];
    }
    // A resource held by an order shows as Allocated until the order releases it, even when it
    // is marked unavailable meanwhile (as the resources service decides it).
    case 'ResourceAllocated':
      return resource(event.data.resourceId, { Status: 'Allocated', OrderID: event.data.orderId, UpdatedAt: event.data.at });
    case 'ResourceReleased':
      return resource(event.data.resourceId, {
        Status: { whenNull: 'UnavailableReason', then: 'Available', otherwise: 'Unavailable' },
        OrderID: null,
        UpdatedAt: event.data.at,
      });
    case 'ResourceMarkedUnavailable':
      return resource(event.data.resourceId, {
        Status: { whenNull: 'OrderID', then: 'Unavailable', otherwise: 'Allocated' },
        UnavailableReason: event.data.reason,
        UpdatedAt: event.data.at,
      });
    case 'ResourceMarkedAvailable':
      return resource(event.data.resourceId, {
        Status: { whenNull: 'OrderID', then: 'Available', otherwise: 'Allocated' },
        UnavailableReason: null,
        UpdatedAt: event.data.at,
      });

    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}
