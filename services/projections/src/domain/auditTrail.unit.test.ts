import { describe, expect, it } from 'vitest';
import { auditTrail, describeActor, formatAuditLine, toAuditEntry, type AuditableEvent, type AuditEntry } from './auditTrail.js';

let nextPosition = 100n;
const event = (eventId: string, position: bigint, type: string, data: unknown, actor: AuditableEvent['actor'] = { kind: 'service', id: 'workflow' }, stream = 'P1.order.MO_1', version = 1): AuditableEvent => ({
  eventId, position, type, version, stream, occurredAt: '2026-11-25T10:00:00.000Z', correlationId: 'WF_1', causationId: null, actor, data,
});
/** The next event of a story, in log order. */
const next = (type: string, data: unknown, options: { actor?: AuditableEvent['actor']; stream?: string; version?: number } = {}): AuditableEvent =>
  event(`e${(nextPosition += 1n).toString()}`, nextPosition, type, data, options.actor, options.stream ?? 'P1.order.MO_1', options.version ?? 1);
const alice = { email: 'alice@plant1.example', name: 'Alice Novak' };
const bob = { email: 'bob@plant1.example', name: 'Bob Ito' };
const T0 = '2026-11-25T10:00:00.000Z';
const T1 = '2026-11-25T10:30:00.000Z';
const T2 = '2026-11-25T11:00:00.000Z';
const trigger = { machineStatus: 'Fault', qualityTrend: 'Stable', productionTarget: 100, productionActual: 40, timestamp: T0, messageId: 'm-1' };
const reading = { ...trigger, plantId: 'P1', machineId: 'M-1', timestampSource: 'device', receivedAt: T0 };
const changes = (entries: AuditEntry[]) => entries.map((e) => [e.eventType, e.change ? `${e.change.subject}: ${e.change.from ?? '(new)'} -> ${e.change.to}` : null, e.why]);

describe('the audit trail', () => {
  it('is in log order, each event once, with its position as text', () => {
    const opened = event('e1', 5n, 'MaintenanceOrderOpened', { orderId: 'MO_1', plantId: 'P1', machineId: 'M-1', workflowId: 'WF_1', reason: 'Machine fault', trigger, openedAt: T0 });
    const completed = event('e2', 1n << 70n, 'MaintenanceOrderCompleted', { orderId: 'MO_1', completedAt: T1, completedBy: 'dana@plant1.example' });
    const entries = auditTrail([completed, opened, opened]);
    expect(entries.map((e) => [e.eventId, e.position])).toEqual([['e1', '5'], ['e2', (1n << 70n).toString()]]);
    expect(entries[0]!.summary).toBe('order MO_1 opened for machine M-1 (plant P1): Machine fault');
    expect(entries[1]!.summary).toBe('order completed by dana@plant1.example');
  });

  it('says who decided, how, when and with what comment, at a UTC time with the zone named', () => {
    const decided = event('e3', 9n, 'ApprovalDecided', { approvalId: 'AP_1', orderId: 'MO_1', decision: 'rejected', approver: alice, decidedAt: T1, comment: 'not now', clientAddress: '10.0.0.7', userAgent: 'Firefox' }, { kind: 'person', id: alice.email, name: alice.name });
    const entry = toAuditEntry({ ...decided, occurredAt: '2026-11-25T11:00:00.000+01:00' });
    expect(entry).toMatchObject({ eventType: 'ApprovalDecided', eventVersion: 1, actor: { kind: 'person', id: alice.email, name: alice.name }, who: 'Alice Novak <alice@plant1.example>', time: T0, timeZone: 'UTC', data: decided.data, why: 'comment: "not now"' });
    expect(entry.summary).toBe('rejected by Alice Novak <alice@plant1.example> at 2026-11-25T10:30:00.000Z: "not now" (from 10.0.0.7, Firefox)');
    expect(formatAuditLine(entry).split('\n')).toEqual([
      expect.stringMatching(/^2026-11-25 10:00:00\.000 UTC {2}ApprovalDecided +Alice Novak <alice@plant1\.example> +rejected by/),
      '    changed: approval request AP_1: (new) -> Rejected',
      '    why: comment: "not now"',
      '    hash: none (stored without one)',
    ]);
  });

  it('keeps an event this build cannot read, as it was stored', () => {
    const entry = toAuditEntry(event('e4', 1n, 'SomethingNew', { x: 1 }));
    expect(entry).toMatchObject({ eventType: 'SomethingNew', data: { x: 1 }, change: null, why: null });
    expect(entry.summary).toMatch(/^SomethingNew v1 \(unknown event type/);
  });

  it('shows the hash chain link the store gave an event, and says when there is none', () => {
    const hash = 'a'.repeat(64);
    const previousHash = '0'.repeat(64);
    const chained = toAuditEntry({ ...event('e5', 2n, 'WorkflowCompleted', { workflowId: 'WF_1', outcome: 'Completed', at: T1 }), hash, previousHash });
    expect(chained).toMatchObject({ hash, previousHash });
    expect(formatAuditLine(chained)).toContain(`    hash: ${hash}  previous: ${previousHash}`);
    expect(toAuditEntry(event('e6', 3n, 'WorkflowCompleted', { workflowId: 'WF_1', outcome: 'Completed', at: T1 }))).toMatchObject({ hash: null, previousHash: null });
  });

  it('names people, services, machines and API clients', () => {
    expect(describeActor({ kind: 'person', id: 'a@b.example' })).toBe('a@b.example');
    expect(describeActor({ kind: 'service', id: 'approvals' })).toBe('service approvals');
    expect(describeActor({ kind: 'device', id: 'M-1' })).toBe('machine M-1');
    expect(describeActor({ kind: 'client', id: 'maria@plant1.example' })).toBe('API client maria@plant1.example');
  });
});

describe('what each entry changed and why (Annex 11 §9)', () => {
  it('folds an order\'s history: old and new status of the order, its requests, its machine and its workflow', () => {
    const workflow = { stream: 'P1.workflow.WF_1' };
    const approvals = { stream: 'P1.approval.MO_1' };
    const story = [
      next('MachineStatusChanged', { plantId: 'P1', machineId: 'M-1', previous: { machineStatus: 'Running', qualityTrend: 'Stable', productionBand: 'onTarget' }, current: { machineStatus: 'Fault', qualityTrend: 'Stable', productionBand: 'below50' }, reading }, { actor: { kind: 'device', id: 'M-1' }, stream: 'P1.machine.M-1' }),
      next('WorkflowStarted', { workflowId: 'WF_1', plantId: 'P1', machineId: 'M-1', ruleIndex: 0, reason: 'Machine fault', triggeredBy: trigger, startedAt: T0, configVersion: 3, policy: { approvers: [alice, bob], approvalTimeoutMs: 1_800_000 } }, { ...workflow, version: 2 }),
      next('MaintenanceOrderOpened', { orderId: 'MO_1', plantId: 'P1', machineId: 'M-1', workflowId: 'WF_1', reason: 'Machine fault', trigger, openedAt: T0 }, { actor: { kind: 'service', id: 'maintenance' } }),
      next('WorkflowStepRecorded', { workflowId: 'WF_1', step: 'approval-requested', at: T0, level: 0, approvalId: 'AP_1_0' }, workflow),
      next('WorkflowTimeoutScheduled', { workflowId: 'WF_1', timeoutId: 'TO_1_0', dueAt: T1, purpose: 'approvalTimeout' }, workflow),
      next('ApprovalRequested', { approvalId: 'AP_1_0', orderId: 'MO_1', plantId: 'P1', machineId: 'M-1', approver: alice, level: 0, requestedAt: T0, decideBy: T1 }, { ...approvals, version: 2 }),
      next('ApprovalEmailSent', { approvalId: 'AP_1_0', to: alice.email, sentAt: T0 }, approvals),
      next('WorkflowStepRecorded', { workflowId: 'WF_1', step: 'approval-escalated', at: T1, level: 1, approvalId: 'AP_1_1' }, workflow),
      next('ApprovalEscalated', { approvalId: 'AP_1_0', orderId: 'MO_1', nextApprover: bob, level: 1, escalatedAt: T1 }, approvals),
      next('ApprovalRequested', { approvalId: 'AP_1_1', orderId: 'MO_1', plantId: 'P1', machineId: 'M-1', approver: bob, level: 1, requestedAt: T1, decideBy: T2 }, { ...approvals, version: 2 }),
      next('ApprovalDecided', { approvalId: 'AP_1_1', orderId: 'MO_1', decision: 'approved', approver: bob, decidedAt: T1, comment: 'Go ahead', clientAddress: '10.0.0.7', userAgent: 'Firefox' }, { ...approvals, actor: { kind: 'person', id: bob.email, name: bob.name } }),
      next('MaintenanceOrderApproved', { orderId: 'MO_1', approvalId: 'AP_1_1', decidedBy: bob.email, decidedByName: bob.name, decidedAt: T1, comment: 'Go ahead' }),
      next('MaintenanceOrderCancelled', { orderId: 'MO_1', cancelledAt: T2, cancelledBy: 'erp', reason: 'Part on back order', statedBy: 'maria@plant1.example' }, { actor: { kind: 'client', id: 'erp' } }),
      next('WorkflowCompleted', { workflowId: 'WF_1', outcome: 'Cancelled', at: T2 }, workflow),
    ];
    expect(changes(auditTrail(story))).toEqual([
      ['MachineStatusChanged', 'machine M-1: Running, quality Stable, output onTarget -> Fault, quality Stable, output below50', 'reading at 2026-11-25T10:00:00.000Z: Fault, quality Stable, output 40 of 100'],
      ['WorkflowStarted', 'workflow WF_1: (new) -> OpeningOrder', 'rule 1 matched: Machine fault (configuration version 3 of plant P1)'],
      ['MaintenanceOrderOpened', 'order MO_1: (new) -> PendingApproval', 'Machine fault'],
      ['WorkflowStepRecorded', 'workflow WF_1: OpeningOrder -> AwaitingDecision (level 0)', 'the order is open'],
      ['WorkflowTimeoutScheduled', null, null],
      ['ApprovalRequested', 'approval request AP_1_0: (new) -> Pending', 'order MO_1 needs approval; asked Alice Novak <alice@plant1.example>, decide by 2026-11-25T10:30:00.000Z'],
      ['ApprovalEmailSent', null, null],
      ['WorkflowStepRecorded', 'workflow WF_1: AwaitingDecision (level 0) -> AwaitingDecision (level 1)', 'nobody decided by the decide-by time 2026-11-25T10:30:00.000Z'],
      ['ApprovalEscalated', 'approval request AP_1_0: Pending -> Superseded', 'nobody decided by the decide-by time 2026-11-25T10:30:00.000Z; escalated to Bob Ito <bob@plant1.example>'],
      ['ApprovalRequested', 'approval request AP_1_1: (new) -> Pending', 'escalated to level 1: asked Bob Ito <bob@plant1.example>, decide by 2026-11-25T11:00:00.000Z'],
      ['ApprovalDecided', 'approval request AP_1_1: Pending -> Approved', 'comment: "Go ahead"'],
      ['MaintenanceOrderApproved', 'order MO_1: PendingApproval -> Approved', 'decision of Bob Ito <bob@plant1.example>, comment: "Go ahead"'],
      ['MaintenanceOrderCancelled', 'order MO_1: Approved -> Cancelled', 'Part on back order (stated by maria@plant1.example)'],
      ['WorkflowCompleted', 'workflow WF_1: AwaitingDecision (level 1) -> Completed (Cancelled)', 'the order ended Cancelled'],
    ]);
    expect(auditTrail(story).find((e) => e.eventType === 'MaintenanceOrderCancelled')).toMatchObject({ actor: { kind: 'client', id: 'erp' }, who: 'API client erp' });
  });

  it('folds a resource\'s other events (read as context, not shown) to know its status before the order\'s', () => {
    const resource = { stream: 'P1.resource.T-01', actor: { kind: 'service' as const, id: 'resources' } };
    const registered = next('ResourceRegistered', { resourceId: 'T-01', plantId: 'P1', resourceType: 'Technician', name: 'Dana Ruiz', registeredAt: T0 }, resource);
    const heldBefore = next('ResourceAllocated', { resourceId: 'T-01', orderId: 'MO_0', at: T0 }, resource);
    const releasedBefore = next('ResourceReleased', { resourceId: 'T-01', orderId: 'MO_0', at: T0 }, resource);
    const allocated = next('ResourceAllocated', { resourceId: 'T-01', orderId: 'MO_1', at: T1 }, resource);
    const offShift = next('ResourceMarkedUnavailable', { resourceId: 'T-01', reason: 'no longer in the plant configuration', at: T1 }, resource);
    const completed = next('MaintenanceOrderCompleted', { orderId: 'MO_1', completedAt: T2, completedBy: 'api', reason: 'Replaced the spindle bearing', statedBy: 'dana@plant1.example' }, { actor: { kind: 'client', id: 'api' } });
    const released = next('ResourceReleased', { resourceId: 'T-01', orderId: 'MO_1', at: T2 }, resource);
    const entries = auditTrail([allocated, completed, released], [registered, heldBefore, releasedBefore, offShift]);
    expect(changes(entries)).toEqual([
      ['ResourceAllocated', 'resource T-01: Available -> Allocated (order MO_1)', 'order MO_1 approved and waiting for it'],
      ['MaintenanceOrderCompleted', 'order MO_1: (new) -> Completed', 'Replaced the spindle bearing (work reported done by api, stated by dana@plant1.example)'],
      // Marked unavailable while the order held it: it is Unavailable once released, not Available.
      ['ResourceReleased', 'resource T-01: Allocated (order MO_1) -> Unavailable', 'order MO_1 is Completed'],
    ]);
  });

  it('says when a request expired and when it was withdrawn', () => {
    const approvals = { stream: 'P1.approval.MO_2', version: 2 };
    const entries = auditTrail([
      next('ApprovalRequested', { approvalId: 'AP_2_0', orderId: 'MO_2', plantId: 'P1', machineId: 'M-1', approver: alice, level: 0, requestedAt: T0, decideBy: T1 }, approvals),
      next('ApprovalExpired', { approvalId: 'AP_2_0', orderId: 'MO_2', expiredAt: T1 }, { stream: approvals.stream }),
      next('ApprovalRequested', { approvalId: 'AP_3_0', orderId: 'MO_3', plantId: 'P1', machineId: 'M-1', approver: alice, level: 0, requestedAt: T0, decideBy: T1 }, approvals),
      next('ApprovalWithdrawn', { approvalId: 'AP_3_0', orderId: 'MO_3', reason: 'order cancelled', withdrawnAt: T1 }, { stream: approvals.stream }),
    ]);
    expect(changes(entries).filter(([type]) => type !== 'ApprovalRequested')).toEqual([
      ['ApprovalExpired', 'approval request AP_2_0: Pending -> Expired', 'nobody decided by the decide-by time 2026-11-25T10:30:00.000Z, and no approver is left'],
      ['ApprovalWithdrawn', 'approval request AP_3_0: Pending -> Superseded', 'no decision needed any more: order cancelled'],
    ]);
  });

  it('names the configuration version a workflow runs under, and what a new version changed', () => {
    const config = { approvers: [alice], approvalTimeout: 'PT30M', resources: [], rules: [{ when: { machineStatus: 'Fault' }, action: 'maintenance', reason: 'Machine fault' }] };
    const recorded = next('PlantConfigVersionRecorded', {
      plantId: 'P1', version: 2, config, changes: [{ path: 'approvers.1', before: bob }], source: '/etc/mes/plants.yaml', via: 'mes config reload', recordedAt: T0,
    }, { stream: 'P1.config.P1', actor: { kind: 'person', id: 'quality@plant1.example' } });
    const [entry] = auditTrail([recorded]);
    expect(entry).toMatchObject({
      who: 'quality@plant1.example',
      change: { subject: 'configuration of plant P1', from: 'version 1', to: 'version 2' },
      why: 'mes config reload from /etc/mes/plants.yaml: approvers.1: removed (was {"email":"bob@plant1.example","name":"Bob Ito"})',
    });
    const startedV1 = next('WorkflowStarted', { workflowId: 'WF_9', plantId: 'P1', machineId: 'M-1', ruleIndex: 0, reason: 'Machine fault', triggeredBy: trigger, startedAt: T0 }, { stream: 'P1.workflow.WF_9' });
    expect(toAuditEntry(startedV1)).toMatchObject({ why: 'rule 1 matched: Machine fault (configuration version unknown)' });
    expect(toAuditEntry(startedV1).summary).toContain('under configuration version unknown');
  });
});
