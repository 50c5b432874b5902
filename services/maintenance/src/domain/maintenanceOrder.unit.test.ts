import { DomainEventSchema, ORDER_STATUSES, type Actor, type ReadingSummary } from '@mes/contracts';
import { DomainError, foldEvents } from '@mes/platform';
import { deciderSpecification } from '@mes/platform/testing';
import { describe, expect, it } from 'vitest';
import {
  maintenanceOrderDecider,
  orderStatus,
  type OrderCommand,
  type OrderErrorCode,
  type OrderEvent,
  type OrderState,
} from './maintenanceOrder.js';

const spec = deciderSpecification(maintenanceOrderDecider);

const OPENED_AT = '2026-11-25T10:00:00.000Z';
const REQUESTED_AT = '2026-11-25T10:00:01.000Z';
const DECIDED_AT = '2026-11-25T10:12:00.000Z';
const LATER = '2026-11-25T10:12:05.000Z';
const LAST = '2026-11-25T14:00:00.000Z';

const ORDER = 'MO_WF_1';
const workflow: Actor = { kind: 'service', id: 'workflow' };
const operator: Actor = { kind: 'person', id: 'ops@plant1.example' };
const alice = { email: 'alice@plant1.example', name: 'Alice Novak' };
const bob = { email: 'bob@plant1.example', name: 'Bob Ito' };
const trigger: ReadingSummary = {
  machineStatus: 'Fault',
  qualityTrend: 'Stable',
  productionTarget: 100,
  productionActual: 40,
  timestamp: OPENED_AT,
  messageId: 'msg-1',
};

const command = {
  open: (overrides: Partial<Extract<OrderCommand, { type: 'OpenMaintenanceOrder' }>> = {}): OrderCommand => ({
    type: 'OpenMaintenanceOrder',
    orderId: ORDER,
    plantId: 'P1',
    machineId: 'M-07',
    workflowId: 'WF_1',
    reason: 'Machine fault',
    trigger,
    issuedAt: OPENED_AT,
    actor: workflow,
    ...overrides,
  }),
  requestApproval: (approvalId: string, level: number, approver = alice): OrderCommand => ({
    type: 'RecordOrderApprovalRequest',
    orderId: ORDER,
    approvalId,
    approver,
    level,
    issuedAt: REQUESTED_AT,
    actor: workflow,
  }),
  approve: (approvalId = 'AP_1'): OrderCommand => ({
    type: 'ApproveMaintenanceOrder',
    orderId: ORDER,
    approvalId,
    decidedBy: alice.email,
    decidedByName: alice.name,
    decidedAt: DECIDED_AT,
    comment: 'go ahead',
    issuedAt: LATER,
    actor: workflow,
  }),
  reject: (approvalId = 'AP_1'): OrderCommand => ({
    type: 'RejectMaintenanceOrder',
    orderId: ORDER,
    approvalId,
    decidedBy: alice.email,
    decidedAt: DECIDED_AT,
    issuedAt: LATER,
    actor: workflow,
  }),
  expire: (): OrderCommand => ({ type: 'ExpireMaintenanceOrder', orderId: ORDER, issuedAt: LATER, actor: workflow }),
  awaitResources: (): OrderCommand => ({
    type: 'MarkOrderAwaitingResources',
    orderId: ORDER,
    missing: ['Technician'],
    issuedAt: LATER,
    actor: workflow,
  }),
  allocate: (technicianId = 'T-01', equipmentId = 'EQ-01'): OrderCommand => ({
    type: 'RecordOrderResourcesAllocated',
    orderId: ORDER,
    technicianId,
    equipmentId,
    issuedAt: LATER,
    actor: workflow,
  }),
  complete: (): OrderCommand => ({ type: 'CompleteMaintenanceOrder', orderId: ORDER, issuedAt: LAST, actor: operator }),
  cancel: (reason = 'machine replaced'): OrderCommand => ({
    type: 'CancelMaintenanceOrder',
    orderId: ORDER,
    reason,
    issuedAt: LAST,
    actor: operator,
  }),
};

const event = {
  opened: {
    type: 'MaintenanceOrderOpened',
    version: 1,
    data: { orderId: ORDER, plantId: 'P1', machineId: 'M-07', workflowId: 'WF_1', reason: 'Machine fault', trigger, openedAt: OPENED_AT },
  },
  approvalRequested: (approvalId: string, level: number, approver = alice): OrderEvent => ({
    type: 'MaintenanceOrderApprovalRequested',
    version: 1,
    data: { orderId: ORDER, approvalId, approver, level, requestedAt: REQUESTED_AT },
  }),
  approved: (approvalId = 'AP_1'): OrderEvent => ({
    type: 'MaintenanceOrderApproved',
    version: 1,
    data: { orderId: ORDER, approvalId, decidedBy: alice.email, decidedByName: alice.name, decidedAt: DECIDED_AT, comment: 'go ahead' },
  }),
  rejected: (approvalId = 'AP_1'): OrderEvent => ({
    type: 'MaintenanceOrderRejected',
    version: 1,
    data: { orderId: ORDER, approvalId, decidedBy: alice.email, decidedAt: DECIDED_AT },
  }),
  expired: { type: 'MaintenanceOrderExpired', version: 1, data: { orderId: ORDER, expiredAt: LATER } },
  awaitingResources: {
    type: 'MaintenanceOrderAwaitingResources',
    version: 1,
    data: { orderId: ORDER, since: LATER, missing: ['Technician'] },
  },
  allocated: (technicianId = 'T-01', equipmentId = 'EQ-01'): OrderEvent => ({
    type: 'MaintenanceOrderResourcesAllocated',
    version: 1,
    data: { orderId: ORDER, technicianId, equipmentId, allocatedAt: LATER },
  }),
  completed: { type: 'MaintenanceOrderCompleted', version: 1, data: { orderId: ORDER, completedAt: LAST, completedBy: operator.id } },
  cancelled: {
    type: 'MaintenanceOrderCancelled',
    version: 1,
    data: { orderId: ORDER, cancelledAt: LAST, cancelledBy: operator.id, reason: 'machine replaced' },
  },
} satisfies Record<string, OrderEvent | ((...args: never[]) => OrderEvent)>;

const history = (() => {
  const pending: OrderEvent[] = [event.opened, event.approvalRequested('AP_1', 0)];
  const approved = [...pending, event.approved()];
  const allocated = [...approved, event.allocated()];
  return {
    pending,
    approved,
    rejected: [...pending, event.rejected()],
    expired: [...pending, event.expired],
    awaitingResources: [...approved, event.awaitingResources],
    allocated,
    completed: [...allocated, event.completed],
    cancelledBeforeDecision: [...pending, event.cancelled],
    cancelledAfterApproval: [...approved, event.cancelled],
  };
})();
type HistoryName = keyof typeof history;

/** Each command of the transition table, and the events it records where it is accepted. */
const rows = {
  'opening it again with the same data': { command: command.open(), accepted: [] },
  'opening it again for another machine': { command: command.open({ machineId: 'M-08' }), accepted: [] },
  'an escalated approval request': { command: command.requestApproval('AP_2', 1, bob), accepted: [event.approvalRequested('AP_2', 1, bob)] },
  'approval through AP_1': { command: command.approve(), accepted: [event.approved()] },
  'approval through another request': { command: command.approve('AP_2'), accepted: [event.approved('AP_2')] },
  'rejection through AP_1': { command: command.reject(), accepted: [event.rejected()] },
  expiry: { command: command.expire(), accepted: [event.expired] },
  'a report of missing resources': { command: command.awaitResources(), accepted: [event.awaitingResources] },
  'allocation of T-01 and EQ-01': { command: command.allocate(), accepted: [event.allocated()] },
  'allocation of T-02 and EQ-02': { command: command.allocate('T-02', 'EQ-02'), accepted: [event.allocated('T-02', 'EQ-02')] },
  completion: { command: command.complete(), accepted: [event.completed] },
  cancellation: { command: command.cancel(), accepted: [event.cancelled] },
} satisfies Record<string, { command: OrderCommand; accepted: OrderEvent[] }>;
type RowName = keyof typeof rows;

/** `records`: the row's events; `ignores`: no events (an idempotent repeat); a code: refused. */
type Outcome = 'records' | 'ignores' | OrderErrorCode;

const transitions: Record<HistoryName, { describe: string; outcomes: Record<RowName, Outcome> }> = {
  pending: {
    describe: 'when the order awaits approval',
    outcomes: {
      'opening it again with the same data': 'ignores',
      'opening it again for another machine': 'ORDER_ALREADY_EXISTS',
      'an escalated approval request': 'records',
      'approval through AP_1': 'records',
      'approval through another request': 'records',
      'rejection through AP_1': 'records',
      expiry: 'records',
      'a report of missing resources': 'ORDER_NOT_APPROVED',
      'allocation of T-01 and EQ-01': 'ORDER_NOT_APPROVED',
      'allocation of T-02 and EQ-02': 'ORDER_NOT_APPROVED',
      completion: 'ORDER_NOT_APPROVED',
      cancellation: 'records',
    },
  },
  approved: {
    describe: 'when the order is approved',
    outcomes: {
      'opening it again with the same data': 'ignores',
      'opening it again for another machine': 'ORDER_ALREADY_EXISTS',
      'an escalated approval request': 'ORDER_ALREADY_DECIDED',
      'approval through AP_1': 'ignores',
      'approval through another request': 'ORDER_ALREADY_DECIDED',
      'rejection through AP_1': 'ORDER_ALREADY_DECIDED',
      expiry: 'ORDER_ALREADY_DECIDED',
      'a report of missing resources': 'records',
      'allocation of T-01 and EQ-01': 'records',
      'allocation of T-02 and EQ-02': 'records',
      completion: 'records',
      cancellation: 'records',
    },
  },
  rejected: {
    describe: 'when the order is rejected',
    outcomes: {
      'opening it again with the same data': 'ignores',
      'opening it again for another machine': 'ORDER_ALREADY_EXISTS',
      'an escalated approval request': 'ORDER_ALREADY_DECIDED',
      'approval through AP_1': 'ORDER_ALREADY_DECIDED',
      'approval through another request': 'ORDER_ALREADY_DECIDED',
      'rejection through AP_1': 'ignores',
      expiry: 'ORDER_ALREADY_DECIDED',
      'a report of missing resources': 'ORDER_CLOSED',
      'allocation of T-01 and EQ-01': 'ORDER_CLOSED',
      'allocation of T-02 and EQ-02': 'ORDER_CLOSED',
      completion: 'ORDER_CLOSED',
      cancellation: 'ORDER_CLOSED',
    },
  },
  expired: {
    describe: 'when the order expired',
    outcomes: {
      'opening it again with the same data': 'ignores',
      'opening it again for another machine': 'ORDER_ALREADY_EXISTS',
      'an escalated approval request': 'ORDER_CLOSED',
      'approval through AP_1': 'ORDER_CLOSED',
      'approval through another request': 'ORDER_CLOSED',
      'rejection through AP_1': 'ORDER_CLOSED',
      expiry: 'ignores',
      'a report of missing resources': 'ORDER_CLOSED',
      'allocation of T-01 and EQ-01': 'ORDER_CLOSED',
      'allocation of T-02 and EQ-02': 'ORDER_CLOSED',
      completion: 'ORDER_CLOSED',
      cancellation: 'ORDER_CLOSED',
    },
  },
  awaitingResources: {
    describe: 'when the order awaits resources',
    outcomes: {
      'opening it again with the same data': 'ignores',
      'opening it again for another machine': 'ORDER_ALREADY_EXISTS',
      'an escalated approval request': 'ORDER_ALREADY_DECIDED',
      'approval through AP_1': 'ignores',
      'approval through another request': 'ORDER_ALREADY_DECIDED',
      'rejection through AP_1': 'ORDER_ALREADY_DECIDED',
      expiry: 'ORDER_ALREADY_DECIDED',
      'a report of missing resources': 'ignores',
      'allocation of T-01 and EQ-01': 'records',
      'allocation of T-02 and EQ-02': 'records',
      completion: 'records',
      cancellation: 'records',
    },
  },
  allocated: {
    describe: 'when the order holds its resources',
    outcomes: {
      'opening it again with the same data': 'ignores',
      'opening it again for another machine': 'ORDER_ALREADY_EXISTS',
      'an escalated approval request': 'ORDER_ALREADY_DECIDED',
      'approval through AP_1': 'ignores',
      'approval through another request': 'ORDER_ALREADY_DECIDED',
      'rejection through AP_1': 'ORDER_ALREADY_DECIDED',
      expiry: 'ORDER_ALREADY_DECIDED',
      'a report of missing resources': 'ignores',
      'allocation of T-01 and EQ-01': 'ignores',
      'allocation of T-02 and EQ-02': 'ILLEGAL_TRANSITION',
      completion: 'records',
      cancellation: 'records',
    },
  },
  completed: {
    describe: 'when the order is completed',
    outcomes: {
      'opening it again with the same data': 'ignores',
      'opening it again for another machine': 'ORDER_ALREADY_EXISTS',
      'an escalated approval request': 'ORDER_ALREADY_DECIDED',
      'approval through AP_1': 'ignores',
      'approval through another request': 'ORDER_ALREADY_DECIDED',
      'rejection through AP_1': 'ORDER_ALREADY_DECIDED',
      expiry: 'ORDER_ALREADY_DECIDED',
      'a report of missing resources': 'ORDER_CLOSED',
      'allocation of T-01 and EQ-01': 'ignores',
      'allocation of T-02 and EQ-02': 'ORDER_CLOSED',
      completion: 'ignores',
      cancellation: 'ORDER_CLOSED',
    },
  },
  cancelledBeforeDecision: {
    describe: 'when the order was cancelled before a decision',
    outcomes: {
      'opening it again with the same data': 'ignores',
      'opening it again for another machine': 'ORDER_ALREADY_EXISTS',
      'an escalated approval request': 'ORDER_CLOSED',
      'approval through AP_1': 'ORDER_CLOSED',
      'approval through another request': 'ORDER_CLOSED',
      'rejection through AP_1': 'ORDER_CLOSED',
      expiry: 'ORDER_CLOSED',
      'a report of missing resources': 'ORDER_CLOSED',
      'allocation of T-01 and EQ-01': 'ORDER_CLOSED',
      'allocation of T-02 and EQ-02': 'ORDER_CLOSED',
      completion: 'ORDER_CLOSED',
      cancellation: 'ignores',
    },
  },
  cancelledAfterApproval: {
    describe: 'when the order was cancelled after approval',
    outcomes: {
      'opening it again with the same data': 'ignores',
      'opening it again for another machine': 'ORDER_ALREADY_EXISTS',
      'an escalated approval request': 'ORDER_ALREADY_DECIDED',
      'approval through AP_1': 'ignores',
      'approval through another request': 'ORDER_ALREADY_DECIDED',
      'rejection through AP_1': 'ORDER_ALREADY_DECIDED',
      expiry: 'ORDER_ALREADY_DECIDED',
      'a report of missing resources': 'ORDER_CLOSED',
      'allocation of T-01 and EQ-01': 'ORDER_CLOSED',
      'allocation of T-02 and EQ-02': 'ORDER_CLOSED',
      completion: 'ORDER_CLOSED',
      cancellation: 'ignores',
    },
  },
};

function testName(row: string, outcome: Outcome): string {
  if (outcome === 'records') return `records ${row}`;
  if (outcome === 'ignores') return `decides nothing for ${row} (a repeat)`;
  return `refuses ${row} with ${outcome}`;
}

describe('MaintenanceOrder', () => {
  describe('when no order exists', () => {
    it('opens it, awaiting approval', () => {
      spec.given([]).when(command.open()).then([event.opened]);
    });

    it.each(Object.entries(rows).filter(([name]) => !name.startsWith('opening')))('refuses %s with ORDER_NOT_FOUND', (_name, row) => {
      spec.given([]).when(row.command).thenThrows('ORDER_NOT_FOUND');
    });

    it('says which order is missing and what to do', () => {
      spec.given([]).when(command.complete()).thenThrows(/^order MO_WF_1 does not exist; it cannot be completed: open it first$/);
    });
  });

  for (const [historyName, { describe: state, outcomes }] of Object.entries(transitions)) {
    describe(state, () => {
      const past = history[historyName as HistoryName];

      it(`has status ${String(orderStatus(foldEvents(maintenanceOrderDecider, past)))}`, () => {
        expect(ORDER_STATUSES).toContain(orderStatus(foldEvents(maintenanceOrderDecider, past)));
      });

      for (const [rowName, outcome] of Object.entries(outcomes)) {
        const row = rows[rowName as RowName];
        it(testName(rowName, outcome), () => {
          if (outcome === 'records') spec.given(past).when(row.command).then(row.accepted);
          else if (outcome === 'ignores') spec.given(past).when(row.command).then([]);
          else spec.given(past).when(row.command).thenThrows(outcome);
        });
      }
    });
  }

  describe('when the order awaits approval', () => {
    it('notes the first approval request on a freshly opened order', () => {
      spec.given([event.opened]).when(command.requestApproval('AP_1', 0)).then([event.approvalRequested('AP_1', 0)]);
    });

    it('accepts a decision before any approval request was noted on it', () => {
      spec.given([event.opened]).when(command.approve()).then([event.approved()]);
    });

    it('decides nothing for the same approval request again', () => {
      spec.given(history.pending).when(command.requestApproval('AP_1', 0)).then([]);
    });

    it('decides nothing for a late request of a level an escalation superseded', () => {
      spec.given([...history.pending, event.approvalRequested('AP_2', 1, bob)]).when(command.requestApproval('AP_0', 0)).then([]);
    });

    it('refuses a second request for the level already requested', () => {
      spec.given(history.pending).when(command.requestApproval('AP_9', 0)).thenThrows('ILLEGAL_TRANSITION');
    });

    it('records a decision without the optional name and comment', () => {
      const bare: OrderCommand = {
        type: 'ApproveMaintenanceOrder',
        orderId: ORDER,
        approvalId: 'AP_1',
        decidedBy: alice.email,
        decidedAt: DECIDED_AT,
        issuedAt: LATER,
        actor: workflow,
      };
      const [recorded] = maintenanceOrderDecider.decide(bare, foldEvents(maintenanceOrderDecider, history.pending));
      expect(recorded?.data).toStrictEqual({ orderId: ORDER, approvalId: 'AP_1', decidedBy: alice.email, decidedAt: DECIDED_AT });
    });

    it('refuses completion, saying that it must be approved first', () => {
      spec.given(history.pending).when(command.complete()).thenThrows(/^order MO_WF_1 is PendingApproval; it cannot be completed: it must be approved first$/);
    });
  });

  describe('when the order is approved', () => {
    it('refuses a second decision, naming the decision it has', () => {
      spec.given(history.approved).when(command.reject()).thenThrows(/^order MO_WF_1 is Approved; it cannot be rejected: approval AP_1 already approved it \(by alice@plant1\.example at 2026-11-25T10:12:00\.000Z\)$/);
    });
  });

  describe('when the order awaits resources', () => {
    it('gets resources, then completes', () => {
      spec.given([...history.awaitingResources, event.allocated()]).when(command.complete()).then([event.completed]);
    });
  });

  describe('when the order holds its resources', () => {
    it('records what was done when the completion says', () => {
      spec.given(history.allocated).when({ ...command.complete(), reason: 'Replaced the drive belt' } as OrderCommand).then([{ ...event.completed, data: { ...event.completed.data, reason: 'Replaced the drive belt' } }]);
    });

    it('refuses another allocation, naming what it holds', () => {
      spec.given(history.allocated).when(command.allocate('T-02', 'EQ-02')).thenThrows(/already holds technician T-01 and equipment EQ-01/);
    });
  });

  describe('when the order is cancelled', () => {
    it('decides nothing for a second cancellation with another reason', () => {
      spec.given(history.cancelledBeforeDecision).when(command.cancel('changed my mind')).then([]);
    });
  });

  describe('when the order is rejected', () => {
    it('refuses completion as final, with the order, its status and the action', () => {
      const state = foldEvents(maintenanceOrderDecider, history.rejected);
      let refusal: unknown;
      try {
        maintenanceOrderDecider.decide(command.complete(), state);
      } catch (error) {
        refusal = error;
      }
      expect(refusal).toBeInstanceOf(DomainError);
      expect(refusal).toMatchObject({
        code: 'ORDER_CLOSED',
        message: 'order MO_WF_1 is Rejected; it cannot be completed: Rejected is final',
        details: { orderId: ORDER, status: 'Rejected', action: 'CompleteMaintenanceOrder' },
      });
    });
  });

  describe('its state', () => {
    it('mirrors the MaintenanceOrders row through the whole life of an order', () => {
      const state = foldEvents(maintenanceOrderDecider, history.completed);
      expect(state).toStrictEqual({
        orderId: ORDER,
        status: 'Completed',
        machineId: 'M-07',
        plantId: 'P1',
        reason: 'Machine fault',
        createdAt: OPENED_AT,
        updatedAt: LAST,
        decidedBy: alice.email,
        decidedAt: DECIDED_AT,
        technicianId: 'T-01',
        equipmentId: 'EQ-01',
        workflowId: 'WF_1',
        approvalRequest: { approvalId: 'AP_1', level: 0, approver: alice },
        decision: { approvalId: 'AP_1', outcome: 'approved' },
      } satisfies OrderState);
    });

    it('has no status before the order is opened', () => {
      expect(orderStatus(maintenanceOrderDecider.initialState)).toBeNull();
    });

    it('is never mutated by evolve', () => {
      let state: OrderState = maintenanceOrderDecider.initialState;
      for (const next of [...history.awaitingResources, event.allocated(), event.completed]) {
        const before = structuredClone(state);
        const after = maintenanceOrderDecider.evolve(deepFreeze(state), next);
        expect(state).toStrictEqual(before);
        state = after;
      }
    });
  });

  describe('its events', () => {
    it('fit the contract schemas', () => {
      const produced: OrderEvent[] = [];
      let state: OrderState = maintenanceOrderDecider.initialState;
      const run = (next: OrderCommand) => {
        const decided = maintenanceOrderDecider.decide(next, state);
        produced.push(...decided);
        state = decided.reduce(maintenanceOrderDecider.evolve, state);
      };
      [command.open(), command.requestApproval('AP_1', 0), command.requestApproval('AP_2', 1, bob), command.approve('AP_2'),
        command.awaitResources(), command.allocate(), command.complete()].forEach(run);
      state = maintenanceOrderDecider.initialState;
      [command.open(), command.reject()].forEach(run);
      state = maintenanceOrderDecider.initialState;
      [command.open(), command.expire()].forEach(run);
      state = maintenanceOrderDecider.initialState;
      [command.open(), command.cancel()].forEach(run);
      expect(new Set(produced.map((e) => e.type)).size).toBe(9);
      for (const produce of produced) expect(DomainEventSchema.parse(produce)).toStrictEqual(produce);
    });
  });
});

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
