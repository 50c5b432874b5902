import { parseDomainEvent, type DomainEvent, type TelemetryReading } from '@mes/contracts';
import { describe, expect, it } from 'vitest';
import { eventRowChanges, readingRowChanges, type CellValue, type RowChange } from './reportingRows.js';

type Rows = Record<string, Record<string, Record<string, CellValue>>>;

/** The row semantics the SQL sink implements, in memory and without positions: enough to read a rule's outcome. */
function apply(events: DomainEvent[], rows: Rows = {}): Rows {
  const next: Rows = structuredClone(rows);
  for (const change of events.flatMap(eventRowChanges)) applyChange(next, change);
  return next;
}

function applyChange(rows: Rows, change: RowChange): void {
  const table = (rows[change.table] ??= {});
  const id = Object.values(change.key).join('|');
  const existing = table[id];
  if (change.kind === 'upsert') {
    table[id] = existing ? { ...existing, ...change.values } : { ...change.key, ...change.values, ...change.insertOnly };
    return;
  }
  if (!existing) return;
  const updated = { ...existing };
  for (const [column, value] of Object.entries(change.values)) {
    updated[column] = value !== null && typeof value === 'object' ? (existing[value.whenNull] === null ? value.then : value.otherwise) : value;
  }
  table[id] = updated;
}

const T0 = '2026-11-25T10:00:00.000Z';
const T1 = '2026-11-25T10:05:00.000Z';
const T2 = '2026-11-25T10:10:00.000Z';
const T3 = '2026-11-25T11:00:00.000Z';
const alice = { email: 'alice@plant1.example', name: 'Alice Novak' };
const bob = { email: 'bob@plant1.example', name: 'Bob Ito' };
const trigger = { machineStatus: 'Fault', qualityTrend: 'Stable', productionTarget: 100, productionActual: 40, timestamp: T0 } as const;

const ev = <E extends DomainEvent>(type: E['type'], data: E['data']): DomainEvent => ({ type, version: 1, data }) as DomainEvent;
const opened = ev('MaintenanceOrderOpened', { orderId: 'MO_1', plantId: 'P1', machineId: 'M-1', workflowId: 'WF_1', reason: 'Machine fault', trigger, openedAt: T0 });
const orderRow = (rows: Rows) => rows.MaintenanceOrders?.MO_1;

describe('MESData', () => {
  const reading: TelemetryReading = {
    plantId: 'P1', machineId: 'M-1', machineStatus: 'Fault', qualityTrend: 'Declining', productionTarget: 100, productionActual: 42.5,
    timestamp: T0, timestampSource: 'device', messageId: 'm-1', receivedAt: T1,
  };

  it('has one row per reading, keyed by its event id, with the reading time', () => {
    expect(readingRowChanges('evt-1', reading)).toEqual([
      {
        kind: 'upsert',
        table: 'MESData',
        key: { EventID: 'evt-1' },
        values: { ID: 'M-1', PlantID: 'P1', MachineStatus: 'Fault', QualityTrend: 'Declining', ProductionTarget: 100, ProductionActual: 42.5, Timestamp: T0 },
      },
    ]);
  });
});

describe('MaintenanceOrders', () => {
  it('opens a row PendingApproval with the reason in words and nothing decided or allocated', () => {
    expect(orderRow(apply([opened]))).toEqual({
      OrderID: 'MO_1', MachineID: 'M-1', PlantID: 'P1', Status: 'PendingApproval', Reason: 'Machine fault', CreatedAt: T0, UpdatedAt: T0,
      DecidedBy: null, DecidedAt: null, TechnicianID: null, EquipmentID: null,
    });
  });

  describe('when the order awaits approval', () => {
    it('only touches UpdatedAt when approval is requested', () => {
      const rows = apply([opened, ev('MaintenanceOrderApprovalRequested', { orderId: 'MO_1', approvalId: 'AP_1', approver: alice, level: 0, requestedAt: T1 })]);
      expect(orderRow(rows)).toMatchObject({ Status: 'PendingApproval', UpdatedAt: T1, DecidedBy: null });
    });

    it('records an approval with the approver email and time', () => {
      const rows = apply([opened, ev('MaintenanceOrderApproved', { orderId: 'MO_1', approvalId: 'AP_1', decidedBy: alice.email, decidedByName: alice.name, decidedAt: T1, comment: 'ok' })]);
      expect(orderRow(rows)).toMatchObject({ Status: 'Approved', DecidedBy: 'alice@plant1.example', DecidedAt: T1, UpdatedAt: T1 });
    });

    it('records a rejection the same way', () => {
      const rows = apply([opened, ev('MaintenanceOrderRejected', { orderId: 'MO_1', approvalId: 'AP_1', decidedBy: bob.email, decidedAt: T2 })]);
      expect(orderRow(rows)).toMatchObject({ Status: 'Rejected', DecidedBy: 'bob@plant1.example', DecidedAt: T2, UpdatedAt: T2 });
    });

    it('ends Expired without a decision', () => {
      const rows = apply([opened, ev('MaintenanceOrderExpired', { orderId: 'MO_1', expiredAt: T3 })]);
      expect(orderRow(rows)).toMatchObject({ Status: 'Expired', DecidedBy: null, DecidedAt: null, UpdatedAt: T3 });
    });

    it('ends Cancelled', () => {
      const rows = apply([opened, ev('MaintenanceOrderCancelled', { orderId: 'MO_1', cancelledAt: T1, cancelledBy: 'api', reason: 'machine replaced' })]);
      expect(orderRow(rows)).toMatchObject({ Status: 'Cancelled', UpdatedAt: T1 });
    });
  });

  describe('when the order is approved', () => {
    const approved = [opened, ev('MaintenanceOrderApproved', { orderId: 'MO_1', approvalId: 'AP_1', decidedBy: alice.email, decidedAt: T1 })];

    it('waits for resources', () => {
      const rows = apply([...approved, ev('MaintenanceOrderAwaitingResources', { orderId: 'MO_1', since: T2, missing: ['Technician'] })]);
      expect(orderRow(rows)).toMatchObject({ Status: 'AwaitingResources', UpdatedAt: T2, DecidedBy: alice.email, TechnicianID: null });
    });

    it('shows the technician and equipment once allocated, then Completed keeps them', () => {
      const rows = apply([
        ...approved,
        ev('MaintenanceOrderResourcesAllocated', { orderId: 'MO_1', technicianId: 'T-01', equipmentId: 'EQ-01', allocatedAt: T2 }),
        ev('MaintenanceOrderCompleted', { orderId: 'MO_1', completedAt: T3, completedBy: 'dana@plant1.example' }),
      ]);
      expect(orderRow(rows)).toEqual({
        OrderID: 'MO_1', MachineID: 'M-1', PlantID: 'P1', Status: 'Completed', Reason: 'Machine fault', CreatedAt: T0, UpdatedAt: T3,
        DecidedBy: 'alice@plant1.example', DecidedAt: T1, TechnicianID: 'T-01', EquipmentID: 'EQ-01',
      });
    });
  });

  it('changes nothing for an order whose opening it never saw', () => {
    expect(apply([ev('MaintenanceOrderCompleted', { orderId: 'MO_x', completedAt: T3, completedBy: 'api' })]).MaintenanceOrders).toEqual({});
  });
});

describe('Approvals', () => {
  const requested = (approvalId: string, approver: typeof alice, level: number, at: string) =>
    ev('ApprovalRequested', { approvalId, orderId: 'MO_1', plantId: 'P1', machineId: 'M-1', approver, level, requestedAt: at, decideBy: T3, signatureMethod: 'link' });
  const decided = (decision: 'approved' | 'rejected', extra: { comment?: string; method?: 'link' | 'link+pin' } = {}) =>
    parseDomainEvent('ApprovalDecided', 2, {
      approvalId: 'AP_1',
      orderId: 'MO_1',
      decision,
      approver: alice,
      decidedAt: T1,
      ...(extra.comment === undefined ? {} : { comment: extra.comment }),
      clientAddress: '127.0.0.1',
      userAgent: 'ua',
      signature: {
        printedName: alice.name,
        email: alice.email,
        signedAt: T1,
        meaning: `${decision === 'approved' ? 'Approved' : 'Rejected'} maintenance order MO_1 for machine M-1`,
        method: extra.method ?? 'link',
      },
    });

  it('has one Pending row per request, for the approver email and printed name, without a meaning', () => {
    expect(apply([requested('AP_1', alice, 0, T0)]).Approvals).toEqual({
      AP_1: {
        ApprovalID: 'AP_1', OrderID: 'MO_1', Approver: 'alice@plant1.example', ApproverName: 'Alice Novak', Status: 'Pending', RequestedAt: T0, DecidedAt: null, Comment: null, Meaning: null,
      },
    });
  });

  it('records the decision, its time, the comment and the signature\'s printed name and meaning', () => {
    const rows = apply([
      requested('AP_1', alice, 0, T0),
      ev('ApprovalEmailSent', { approvalId: 'AP_1', to: alice.email, sentAt: T0 }),
      decided('approved', { comment: 'Go ahead', method: 'link+pin' }),
    ]);
    expect(rows.Approvals?.AP_1).toMatchObject({
      Status: 'Approved', DecidedAt: T1, Comment: 'Go ahead', ApproverName: 'Alice Novak', Meaning: 'Approved maintenance order MO_1 for machine M-1',
    });
  });

  it('records a rejection without a comment as NULL, and what the rejection means', () => {
    const rows = apply([requested('AP_1', alice, 0, T0), decided('rejected')]);
    expect(rows.Approvals?.AP_1).toMatchObject({ Status: 'Rejected', DecidedAt: T1, Comment: null, Meaning: 'Rejected maintenance order MO_1 for machine M-1' });
  });

  it('fills the signature of a decision stored before decisions carried one from its upcaster: a meaning without the machine', () => {
    const stored = [
      parseDomainEvent('ApprovalRequested', 1, { approvalId: 'AP_1', orderId: 'MO_1', plantId: 'P1', machineId: 'M-1', approver: alice, level: 0, requestedAt: T0, expiresAt: T3 }),
      parseDomainEvent('ApprovalDecided', 1, { approvalId: 'AP_1', orderId: 'MO_1', decision: 'approved', approver: alice, decidedAt: T1, clientAddress: '127.0.0.1', userAgent: '' }),
    ];
    expect(apply(stored).Approvals?.AP_1).toMatchObject({ Status: 'Approved', ApproverName: 'Alice Novak', Meaning: 'Approved maintenance order MO_1' });
  });

  it('changes no row for a failed signature or a lock: the request still waits', () => {
    const rows = apply([
      requested('AP_1', alice, 0, T0),
      ev('ApprovalSignatureFailed', {
        approvalId: 'AP_1', orderId: 'MO_1', approver: alice, decision: 'approved', reason: 'wrong_pin', consecutiveWrongPins: 5, failedAt: T1, clientAddress: '127.0.0.1', userAgent: 'ua',
      }),
      ev('ApproverSigningLocked', { approvalId: 'AP_1', orderId: 'MO_1', approver: alice, wrongPins: 5, lockedAt: T1, lockedUntil: T2 }),
    ]);
    expect(rows.Approvals?.AP_1).toMatchObject({ Status: 'Pending', DecidedAt: null, Meaning: null });
  });

  it('marks an escalated request Superseded and adds the next one; the last one can expire', () => {
    const rows = apply([
      requested('AP_1', alice, 0, T0),
      ev('ApprovalEscalated', { approvalId: 'AP_1', orderId: 'MO_1', nextApprover: bob, level: 1, escalatedAt: T1 }),
      requested('AP_2', bob, 1, T1),
      ev('ApprovalExpired', { approvalId: 'AP_2', orderId: 'MO_1', expiredAt: T2 }),
    ]);
    expect(rows.Approvals?.AP_1).toMatchObject({ Status: 'Superseded', DecidedAt: null, Meaning: null });
    expect(rows.Approvals?.AP_2).toMatchObject({ Approver: 'bob@plant1.example', ApproverName: 'Bob Ito', Status: 'Expired', RequestedAt: T1, DecidedAt: null, Meaning: null });
  });
});

describe('Resources', () => {
  const registered = ev('ResourceRegistered', { resourceId: 'T-01', plantId: 'P1', resourceType: 'Technician', name: 'Dana Ruiz', registeredAt: T0 });
  const allocated = ev('ResourceAllocated', { resourceId: 'T-01', orderId: 'MO_1', at: T1 });
  const released = ev('ResourceReleased', { resourceId: 'T-01', orderId: 'MO_1', at: T2 });
  const unavailable = ev('ResourceMarkedUnavailable', { resourceId: 'T-01', reason: 'left the plant configuration', at: T2 });
  const available = ev('ResourceMarkedAvailable', { resourceId: 'T-01', at: T3 });
  const row = (rows: Rows) => rows.Resources?.['T-01'];

  it('registers a resource Available with its type, plant and name', () => {
    expect(row(apply([registered]))).toEqual({ ResourceID: 'T-01', ResourceType: 'Technician', PlantID: 'P1', Name: 'Dana Ruiz', Status: 'Available', OrderID: null, UnavailableReason: null, UpdatedAt: T0 });
  });

  it('is Allocated to an order, then Available again when released', () => {
    expect(row(apply([registered, allocated]))).toMatchObject({ Status: 'Allocated', OrderID: 'MO_1', UpdatedAt: T1 });
    expect(row(apply([registered, allocated, released]))).toMatchObject({ Status: 'Available', OrderID: null, UpdatedAt: T2 });
  });

  it('is Unavailable when marked so, and Available again when it returns', () => {
    expect(row(apply([registered, unavailable]))).toMatchObject({ Status: 'Unavailable', UnavailableReason: 'left the plant configuration' });
    expect(row(apply([registered, unavailable, available]))).toMatchObject({ Status: 'Available', UnavailableReason: null, UpdatedAt: T3 });
  });

  describe('when it is allocated', () => {
    it('stays Allocated when marked unavailable, and becomes Unavailable when released', () => {
      const marked = apply([registered, allocated, unavailable]);
      expect(row(marked)).toMatchObject({ Status: 'Allocated', OrderID: 'MO_1' });
      expect(row(apply([released], marked))).toMatchObject({ Status: 'Unavailable', OrderID: null });
    });

    it('stays Allocated when it returns to the configuration', () => {
      expect(row(apply([registered, allocated, unavailable, available]))).toMatchObject({ Status: 'Allocated', OrderID: 'MO_1', UnavailableReason: null });
    });

    it('keeps its holder when registered again under a new name', () => {
      const renamed = ev('ResourceRegistered', { resourceId: 'T-01', plantId: 'P1', resourceType: 'Technician', name: 'Dana Ruiz-Ito', registeredAt: T3 });
      expect(row(apply([registered, allocated, renamed]))).toMatchObject({ Name: 'Dana Ruiz-Ito', Status: 'Allocated', OrderID: 'MO_1', UpdatedAt: T3 });
    });
  });
});

describe('events no table shows', () => {
  it('change no row', () => {
    const none: DomainEvent[] = [
      ev('ApprovalEmailSent', { approvalId: 'AP_1', to: alice.email, sentAt: T0 }),
      ev('WorkflowStarted', { workflowId: 'WF_1', plantId: 'P1', machineId: 'M-1', ruleIndex: 0, reason: 'Machine fault', triggeredBy: trigger, startedAt: T0, configVersion: 1, policy: null }),
      ev('WorkflowStepRecorded', { workflowId: 'WF_1', step: 'orderOpened', at: T0 }),
      ev('WorkflowTimeoutScheduled', { workflowId: 'WF_1', timeoutId: 'TO_1', dueAt: T1, purpose: 'approvalTimeout' }),
      ev('WorkflowCompleted', { workflowId: 'WF_1', outcome: 'Completed', at: T3 }),
      ev('OrderQueuedForResources', { orderId: 'MO_1', plantId: 'P1', machineId: 'M-1', approvedAt: T1, correlationId: 'WF_1' }),
      ev('OrderResourcesReserved', { orderId: 'MO_1', technicianId: 'T-01', equipmentId: 'EQ-01', reservedAt: T1 }),
      ev('OrderResourcesConfirmed', { orderId: 'MO_1', technicianId: 'T-01', equipmentId: 'EQ-01', confirmedAt: T1 }),
      ev('OrderLeftResourceQueue', { orderId: 'MO_1', technicianId: null, equipmentId: null, leftAt: T2 }),
      ev('ResourceWithdrawnFromAllocation', { resourceId: 'T-01', at: T2 }),
      ev('ResourceReturnedToAllocation', { resourceId: 'T-01', at: T3 }),
      ev('PlantConfigVersionRecorded', { plantId: 'P1', version: 1, config: { approvers: [alice], approvalTimeout: 'PT30M', resources: [], rules: [{ when: { machineStatus: 'Fault' }, action: 'maintenance', reason: 'Machine fault' }] }, changes: [], source: 'plants.yaml', via: 'mes config reload', recordedAt: T0 }),
    ];
    expect(none.flatMap(eventRowChanges)).toEqual([]);
  });
});
