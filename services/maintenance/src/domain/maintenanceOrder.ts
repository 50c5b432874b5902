// The MaintenanceOrder aggregate: one order's life from opening to a final status (CONTRACT §2).
// Pure: times, ids and actors arrive with the commands.
// One file on purpose (over 300 lines): every command, refusal and transition of the order reads
// together, beside its transition-table test.
import type {
  CancelMaintenanceOrder,
  CompleteMaintenanceOrder,
  MaintenanceOrderApprovalRequested,
  MaintenanceOrderApproved,
  MaintenanceOrderAwaitingResources,
  MaintenanceOrderCancelled,
  MaintenanceOrderCompleted,
  MaintenanceOrderExpired,
  MaintenanceOrderOpened,
  MaintenanceOrderRejected,
  MaintenanceOrderResourcesAllocated,
  OpenMaintenanceOrder,
  OrderStatus,
  Person,
  ResourceType,
} from '@mes/contracts';
import { DomainError, domainEventDecoder, type Decider } from '@mes/platform/decider';

export const ORDER_ERROR_CODES = [
  'ORDER_NOT_FOUND',
  'ORDER_ALREADY_EXISTS',
  'ORDER_ALREADY_DECIDED',
  'ORDER_NOT_APPROVED',
  'ORDER_CLOSED',
  'ILLEGAL_TRANSITION',
] as const;
export type OrderErrorCode = (typeof ORDER_ERROR_CODES)[number];

// Commands. The three the contracts define are taken as the fields the decider reads, so a whole
// contract command fits. The others have no contract command yet; they carry the same basics.

type OrderCommandBasics = Pick<CompleteMaintenanceOrder, 'orderId' | 'issuedAt' | 'actor'>;

export type OpenOrderCommand = Pick<
  OpenMaintenanceOrder,
  'type' | 'orderId' | 'plantId' | 'machineId' | 'workflowId' | 'reason' | 'trigger' | 'issuedAt' | 'actor'
>;
export type CompleteOrderCommand = Pick<CompleteMaintenanceOrder, 'type' | 'orderId' | 'reason' | 'statedBy' | 'issuedAt' | 'actor'>;
export type CancelOrderCommand = Pick<CancelMaintenanceOrder, 'type' | 'orderId' | 'reason' | 'statedBy' | 'issuedAt' | 'actor'>;

/** Notes on the order that approval request `approvalId` went to `approver` (level 0, then escalations). */
export interface RecordOrderApprovalRequest extends OrderCommandBasics {
  type: 'RecordOrderApprovalRequest';
  approvalId: string;
  approver: Person;
  level: number;
}

interface OrderDecisionFields extends OrderCommandBasics {
  approvalId: string;
  /** The approver's email. */
  decidedBy: string;
  decidedByName?: string;
  /** When the approver decided (the ApprovalDecided time), which may precede `issuedAt`. */
  decidedAt: string;
  comment?: string;
}

export interface ApproveMaintenanceOrder extends OrderDecisionFields {
  type: 'ApproveMaintenanceOrder';
}

export interface RejectMaintenanceOrder extends OrderDecisionFields {
  type: 'RejectMaintenanceOrder';
}

/** The last approver did not decide in time. */
export interface ExpireMaintenanceOrder extends OrderCommandBasics {
  type: 'ExpireMaintenanceOrder';
}

export interface MarkOrderAwaitingResources extends OrderCommandBasics {
  type: 'MarkOrderAwaitingResources';
  missing: ResourceType[];
}

export interface RecordOrderResourcesAllocated extends OrderCommandBasics {
  type: 'RecordOrderResourcesAllocated';
  technicianId: string;
  equipmentId: string;
}

export type OrderCommand =
  | OpenOrderCommand
  | RecordOrderApprovalRequest
  | ApproveMaintenanceOrder
  | RejectMaintenanceOrder
  | ExpireMaintenanceOrder
  | MarkOrderAwaitingResources
  | RecordOrderResourcesAllocated
  | CompleteOrderCommand
  | CancelOrderCommand;

export type OrderEvent =
  | MaintenanceOrderOpened
  | MaintenanceOrderApprovalRequested
  | MaintenanceOrderApproved
  | MaintenanceOrderRejected
  | MaintenanceOrderExpired
  | MaintenanceOrderAwaitingResources
  | MaintenanceOrderResourcesAllocated
  | MaintenanceOrderCompleted
  | MaintenanceOrderCancelled;

/** An existing order: the MaintenanceOrders row (CONTRACT §2) plus what deciding needs. */
export interface MaintenanceOrderState {
  orderId: string;
  status: OrderStatus;
  machineId: string;
  plantId: string;
  reason: string;
  createdAt: string;
  updatedAt: string;
  /** The approver's email, once decided. */
  decidedBy: string | null;
  decidedAt: string | null;
  technicianId: string | null;
  equipmentId: string | null;
  workflowId: string;
  /** The latest approval request noted on the order. */
  approvalRequest: { approvalId: string; level: number; approver: Person } | null;
  /** The approval request whose decision the order recorded. */
  decision: { approvalId: string; outcome: 'approved' | 'rejected' } | null;
}

/** `null` until the order is opened. */
export type OrderState = MaintenanceOrderState | null;

export function orderStatus(state: OrderState): OrderStatus | null {
  return state === null ? null : state.status;
}

/** How each command reads in a refusal: "order MO_1 is Rejected; it cannot be completed". */
const ACTIONS: { readonly [Type in OrderCommand['type']]: string } = {
  OpenMaintenanceOrder: 'opened',
  RecordOrderApprovalRequest: 'sent for approval',
  ApproveMaintenanceOrder: 'approved',
  RejectMaintenanceOrder: 'rejected',
  ExpireMaintenanceOrder: 'expired',
  MarkOrderAwaitingResources: 'put to wait for resources',
  RecordOrderResourcesAllocated: 'given resources',
  CompleteMaintenanceOrder: 'completed',
  CancelMaintenanceOrder: 'cancelled',
};

function refusal(code: OrderErrorCode, state: MaintenanceOrderState, command: OrderCommand, why: string): DomainError {
  const action = ACTIONS[command.type];
  return new DomainError(code, `order ${state.orderId} is ${state.status}; it cannot be ${action}: ${why}`, {
    orderId: state.orderId,
    status: state.status,
    action: command.type,
  });
}

/** The refusal for an order past PendingApproval: its decision is recorded, or it ended without one. */
function decidedOrClosed(state: MaintenanceOrderState, command: OrderCommand): DomainError {
  if (state.decision !== null) {
    return refusal(
      'ORDER_ALREADY_DECIDED',
      state,
      command,
      `approval ${state.decision.approvalId} already ${state.decision.outcome} it (by ${state.decidedBy ?? 'unknown'} at ${state.decidedAt ?? 'unknown'})`,
    );
  }
  return closed(state, command);
}

function closed(state: MaintenanceOrderState, command: OrderCommand): DomainError {
  return refusal('ORDER_CLOSED', state, command, `${state.status} is final`);
}

function notApproved(state: MaintenanceOrderState, command: OrderCommand): DomainError {
  return refusal('ORDER_NOT_APPROVED', state, command, 'it must be approved first');
}

function existing(state: OrderState, command: OrderCommand): MaintenanceOrderState {
  if (state !== null) return state;
  throw new DomainError(
    'ORDER_NOT_FOUND',
    `order ${command.orderId} does not exist; it cannot be ${ACTIONS[command.type]}: open it first`,
    { orderId: command.orderId, status: null, action: command.type },
  );
}

function open(command: OpenOrderCommand, state: OrderState): OrderEvent[] {
  if (state !== null) {
    // A retry of the command that opened it (same workflow, machine and reason) changes nothing.
    const sameOrder =
      state.workflowId === command.workflowId &&
      state.plantId === command.plantId &&
      state.machineId === command.machineId &&
      state.reason === command.reason;
    if (sameOrder) return [];
    throw new DomainError(
      'ORDER_ALREADY_EXISTS',
      `order ${state.orderId} already exists for workflow ${state.workflowId} (machine ${state.machineId}, reason ${JSON.stringify(state.reason)}); it cannot be opened again with other data: use orderIdForWorkflow(workflowId) for a new workflow's order`,
      { orderId: state.orderId, status: state.status, action: command.type },
    );
  }
  return [
    {
      type: 'MaintenanceOrderOpened',
      version: 1,
      data: {
        orderId: command.orderId,
        plantId: command.plantId,
        machineId: command.machineId,
        workflowId: command.workflowId,
        reason: command.reason,
        trigger: command.trigger,
        openedAt: command.issuedAt,
      },
    },
  ];
}

function recordApprovalRequest(command: RecordOrderApprovalRequest, state: MaintenanceOrderState): OrderEvent[] {
  // A repeat of a request already noted, or of one a later escalation has superseded, is a late
  // retry: the order already knows as much.
  if (state.approvalRequest?.approvalId === command.approvalId || state.decision?.approvalId === command.approvalId) return [];
  if (state.approvalRequest !== null && command.level < state.approvalRequest.level) return [];
  if (state.status !== 'PendingApproval') throw decidedOrClosed(state, command);
  if (state.approvalRequest !== null && command.level === state.approvalRequest.level) {
    throw refusal(
      'ILLEGAL_TRANSITION',
      state,
      command,
      `level ${String(command.level)} was already requested as approval ${state.approvalRequest.approvalId}; an escalation goes to the next level`,
    );
  }
  return [
    {
      type: 'MaintenanceOrderApprovalRequested',
      version: 1,
      data: {
        orderId: state.orderId,
        approvalId: command.approvalId,
        approver: command.approver,
        level: command.level,
        requestedAt: command.issuedAt,
      },
    },
  ];
}

/**
 * The approvals service decides which request and approver may decide (it refuses superseded
 * requests and wrong approvers); the order only makes sure it is decided once.
 */
function recordDecision(command: ApproveMaintenanceOrder | RejectMaintenanceOrder, state: MaintenanceOrderState): OrderEvent[] {
  const outcome = command.type === 'ApproveMaintenanceOrder' ? 'approved' : 'rejected';
  if (state.decision !== null) {
    // The same decision of the same request again is a retried command.
    if (state.decision.approvalId === command.approvalId && state.decision.outcome === outcome) return [];
    throw decidedOrClosed(state, command);
  }
  if (state.status !== 'PendingApproval') throw closed(state, command);
  const data: MaintenanceOrderApproved['data'] = {
    orderId: state.orderId,
    approvalId: command.approvalId,
    decidedBy: command.decidedBy,
    decidedAt: command.decidedAt,
  };
  if (command.decidedByName !== undefined) data.decidedByName = command.decidedByName;
  if (command.comment !== undefined) data.comment = command.comment;
  return outcome === 'approved'
    ? [{ type: 'MaintenanceOrderApproved', version: 1, data }]
    : [{ type: 'MaintenanceOrderRejected', version: 1, data }];
}

function expire(command: ExpireMaintenanceOrder, state: MaintenanceOrderState): OrderEvent[] {
  if (state.status === 'Expired') return [];
  if (state.status !== 'PendingApproval') throw decidedOrClosed(state, command);
  return [{ type: 'MaintenanceOrderExpired', version: 1, data: { orderId: state.orderId, expiredAt: command.issuedAt } }];
}

function markAwaitingResources(command: MarkOrderAwaitingResources, state: MaintenanceOrderState): OrderEvent[] {
  switch (state.status) {
    case 'Approved':
      return [
        {
          type: 'MaintenanceOrderAwaitingResources',
          version: 1,
          data: { orderId: state.orderId, since: command.issuedAt, missing: [...command.missing] },
        },
      ];
    // Already waiting, or past waiting: a repeated or late report that something is missing
    // changes nothing.
    case 'AwaitingResources':
    case 'ResourcesAllocated':
      return [];
    case 'PendingApproval':
      throw notApproved(state, command);
    case 'Rejected':
    case 'Expired':
    case 'Completed':
    case 'Cancelled':
      throw closed(state, command);
    default: {
      const _exhaustive: never = state.status;
      return _exhaustive;
    }
  }
}

function recordResourcesAllocated(command: RecordOrderResourcesAllocated, state: MaintenanceOrderState): OrderEvent[] {
  // The allocation already recorded, reported again, is a retried command whatever came since.
  if (state.technicianId === command.technicianId && state.equipmentId === command.equipmentId) return [];
  switch (state.status) {
    case 'Approved':
    case 'AwaitingResources':
      return [
        {
          type: 'MaintenanceOrderResourcesAllocated',
          version: 1,
          data: {
            orderId: state.orderId,
            technicianId: command.technicianId,
            equipmentId: command.equipmentId,
            allocatedAt: command.issuedAt,
          },
        },
      ];
    case 'ResourcesAllocated':
      throw refusal(
        'ILLEGAL_TRANSITION',
        state,
        command,
        `it already holds technician ${state.technicianId ?? 'none'} and equipment ${state.equipmentId ?? 'none'}; a second allocation would double-book`,
      );
    case 'PendingApproval':
      throw notApproved(state, command);
    case 'Rejected':
    case 'Expired':
    case 'Completed':
    case 'Cancelled':
      throw closed(state, command);
    default: {
      const _exhaustive: never = state.status;
      return _exhaustive;
    }
  }
}

function complete(command: CompleteOrderCommand, state: MaintenanceOrderState): OrderEvent[] {
  switch (state.status) {
    case 'Approved':
    case 'AwaitingResources':
    case 'ResourcesAllocated':
      return [
        {
          type: 'MaintenanceOrderCompleted',
          version: 1,
          data: {
            orderId: state.orderId,
            completedAt: command.issuedAt,
            completedBy: command.actor.id,
            ...(command.reason === undefined ? {} : { reason: command.reason }),
            ...(command.statedBy === undefined ? {} : { statedBy: command.statedBy }),
          },
        },
      ];
    // A retried POST /complete: the order is completed already.
    case 'Completed':
      return [];
    case 'PendingApproval':
      throw notApproved(state, command);
    case 'Rejected':
    case 'Expired':
    case 'Cancelled':
      throw closed(state, command);
    default: {
      const _exhaustive: never = state.status;
      return _exhaustive;
    }
  }
}

function cancel(command: CancelOrderCommand, state: MaintenanceOrderState): OrderEvent[] {
  switch (state.status) {
    case 'PendingApproval':
    case 'Approved':
    case 'AwaitingResources':
    case 'ResourcesAllocated':
      return [
        {
          type: 'MaintenanceOrderCancelled',
          version: 1,
          data: {
            orderId: state.orderId,
            cancelledAt: command.issuedAt,
            cancelledBy: command.actor.id,
            reason: command.reason,
            ...(command.statedBy === undefined ? {} : { statedBy: command.statedBy }),
          },
        },
      ];
    // A retried POST /cancel: the order is cancelled already; the first reason stands.
    case 'Cancelled':
      return [];
    case 'Rejected':
    case 'Expired':
    case 'Completed':
      throw closed(state, command);
    default: {
      const _exhaustive: never = state.status;
      return _exhaustive;
    }
  }
}

function decide(command: OrderCommand, state: OrderState): OrderEvent[] {
  switch (command.type) {
    case 'OpenMaintenanceOrder':
      return open(command, state);
    case 'RecordOrderApprovalRequest':
      return recordApprovalRequest(command, existing(state, command));
    case 'ApproveMaintenanceOrder':
    case 'RejectMaintenanceOrder':
      return recordDecision(command, existing(state, command));
    case 'ExpireMaintenanceOrder':
      return expire(command, existing(state, command));
    case 'MarkOrderAwaitingResources':
      return markAwaitingResources(command, existing(state, command));
    case 'RecordOrderResourcesAllocated':
      return recordResourcesAllocated(command, existing(state, command));
    case 'CompleteMaintenanceOrder':
      return complete(command, existing(state, command));
    case 'CancelMaintenanceOrder':
      return cancel(command, existing(state, command));
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

function evolve(state: OrderState, event: OrderEvent): OrderState {
  if (event.type === 'MaintenanceOrderOpened') {
    const { data } = event;
    return {
      orderId: data.orderId,
      status: 'PendingApproval',
      machineId: data.machineId,
      plantId: data.plantId,
      reason: data.reason,
      createdAt: data.openedAt,
      updatedAt: data.openedAt,
      decidedBy: null,
      decidedAt: null,
      technicianId: null,
      equipmentId: null,
      workflowId: data.workflowId,
      approvalRequest: null,
      decision: null,
    };
  }
  // Every other event follows the opening in a well-formed stream.
  if (state === null) return state;
  switch (event.type) {
    case 'MaintenanceOrderApprovalRequested': {
      const { approvalId, level, approver } = event.data;
      return { ...state, approvalRequest: { approvalId, level, approver: { ...approver } }, updatedAt: event.data.requestedAt };
    }
    case 'MaintenanceOrderApproved':
    case 'MaintenanceOrderRejected': {
      const { data } = event;
      return {
        ...state,
        status: event.type === 'MaintenanceOrderApproved' ? 'Approved' : 'Rejected',
        decidedBy: data.decidedBy,
        decidedAt: data.decidedAt,
        decision: { approvalId: data.approvalId, outcome: event.type === 'MaintenanceOrderApproved' ? 'approved' : 'rejected' },
        updatedAt: data.decidedAt,
      };
    }
    case 'MaintenanceOrderExpired':
      return { ...state, status: 'Expired', updatedAt: event.data.expiredAt };
    case 'MaintenanceOrderAwaitingResources':
      return { ...state, status: 'AwaitingResources', updatedAt: event.data.since };
    case 'MaintenanceOrderResourcesAllocated':
      return {
        ...state,
        status: 'ResourcesAllocated',
        technicianId: event.data.technicianId,
        equipmentId: event.data.equipmentId,
        updatedAt: event.data.allocatedAt,
      };
    case 'MaintenanceOrderCompleted':
      return { ...state, status: 'Completed', updatedAt: event.data.completedAt };
    case 'MaintenanceOrderCancelled':
      return { ...state, status: 'Cancelled', updatedAt: event.data.cancelledAt };
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

export const maintenanceOrderDecider: Decider<OrderCommand, OrderEvent, OrderState> = {
  initialState: null,
  decide,
  evolve,
  decode: domainEventDecoder(
    'MaintenanceOrderOpened',
    'MaintenanceOrderApprovalRequested',
    'MaintenanceOrderApproved',
    'MaintenanceOrderRejected',
    'MaintenanceOrderExpired',
    'MaintenanceOrderAwaitingResources',
    'MaintenanceOrderResourcesAllocated',
    'MaintenanceOrderCompleted',
    'MaintenanceOrderCancelled',
  ),
};
