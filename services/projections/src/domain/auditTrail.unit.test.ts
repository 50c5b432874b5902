import { describe, expect, it } from 'vitest';
import { auditTrail, describeActor, formatAuditLine, toAuditEntry, type AuditableEvent } from './auditTrail.js';

const event = (eventId: string, position: bigint, type: string, data: unknown, actor: AuditableEvent['actor'] = { kind: 'service', id: 'workflow' }): AuditableEvent => ({
  eventId, position, type, version: 1, stream: 'P1.order.MO_1', occurredAt: '2026-11-25T10:00:00.000Z', correlationId: 'WF_1', causationId: null, actor, data,
});
const alice = { email: 'alice@plant1.example', name: 'Alice Novak' };

describe('the audit trail', () => {
  it('is in log order, each event once, with its position as text', () => {
    const opened = event('e1', 5n, 'MaintenanceOrderOpened', { orderId: 'MO_1', plantId: 'P1', machineId: 'M-1', workflowId: 'WF_1', reason: 'Machine fault', trigger: { machineStatus: 'Fault', qualityTrend: 'Stable', productionTarget: 1, productionActual: 0, timestamp: '2026-11-25T10:00:00.000Z' }, openedAt: '2026-11-25T10:00:00.000Z' });
    const completed = event('e2', 1n << 70n, 'MaintenanceOrderCompleted', { orderId: 'MO_1', completedAt: '2026-11-25T11:00:00.000Z', completedBy: 'dana@plant1.example' });
    const entries = auditTrail([completed, opened, opened]);
    expect(entries.map((e) => [e.eventId, e.position])).toEqual([['e1', '5'], ['e2', (1n << 70n).toString()]]);
    expect(entries[0]!.summary).toBe('order MO_1 opened for machine M-1 (plant P1): Machine fault');
    expect(entries[1]!.summary).toBe('order completed by dana@plant1.example');
  });

  it('says who decided, how, when and with what comment', () => {
    const decided = event('e3', 9n, 'ApprovalDecided', { approvalId: 'AP_1', orderId: 'MO_1', decision: 'rejected', approver: alice, decidedAt: '2026-11-25T10:30:00.000Z', comment: 'not now', clientAddress: '10.0.0.7', userAgent: 'Firefox' }, { kind: 'person', id: alice.email, name: alice.name });
    const entry = toAuditEntry(decided);
    expect(entry).toMatchObject({ eventType: 'ApprovalDecided', actor: { kind: 'person', id: alice.email, name: alice.name }, time: '2026-11-25T10:00:00.000Z', data: decided.data });
    expect(entry.summary).toBe('rejected by Alice Novak <alice@plant1.example> at 2026-11-25T10:30:00.000Z: "not now" (from 10.0.0.7, Firefox)');
    expect(formatAuditLine(entry)).toMatch(/^2026-11-25T10:00:00\.000Z {2}ApprovalDecided +Alice Novak <alice@plant1\.example> +rejected by/);
  });

  it('keeps an event this build cannot read, as it was stored', () => {
    const entry = toAuditEntry(event('e4', 1n, 'SomethingNew', { x: 1 }));
    expect(entry).toMatchObject({ eventType: 'SomethingNew', data: { x: 1 } });
    expect(entry.summary).toMatch(/^SomethingNew v1 \(unknown event type/);
  });

  it('names people, services and machines', () => {
    expect(describeActor({ kind: 'person', id: 'a@b.example' })).toBe('a@b.example');
    expect(describeActor({ kind: 'service', id: 'approvals' })).toBe('service approvals');
    expect(describeActor({ kind: 'device', id: 'M-1' })).toBe('machine M-1');
  });
});
