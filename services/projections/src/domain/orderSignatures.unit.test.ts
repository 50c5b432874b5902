import { describe, expect, it } from 'vitest';
import type { AuditEntry } from './auditTrail.js';
import { orderSignatures } from './orderSignatures.js';

const entry = (eventType: string, data: unknown, position: string): AuditEntry => ({
  time: '2026-11-25T10:12:00.000Z',
  timeZone: 'UTC',
  eventType,
  eventVersion: 1,
  actor: { kind: 'person', id: 'alice@plant1.example' },
  who: 'alice@plant1.example',
  change: null,
  why: null,
  hash: null,
  previousHash: null,
  summary: '',
  data,
  stream: 'P1.approval.MO_1',
  eventId: `e${position}`,
  position,
  correlationId: 'WF_1',
  causationId: null,
});

const decided = (decision: string, extra: Record<string, unknown> = {}) => ({
  approvalId: 'AP_1',
  orderId: 'MO_1',
  decision,
  approver: { email: 'alice@plant1.example', name: 'Alice Novak' },
  decidedAt: '2026-11-25T11:12:00.000+01:00',
  clientAddress: '10.0.0.1',
  userAgent: 'x',
  ...extra,
});

describe('order signatures', () => {
  it('state the printed name, email, UTC time and meaning of each decision, oldest first', () => {
    const signatures = orderSignatures(
      [entry('ApprovalRequested', {}, '1'), entry('ApprovalDecided', decided('rejected', { comment: 'not now' }), '2'), entry('ApprovalDecided', decided('approved', { approvalId: 'AP_2', comment: '' }), '3')],
      { orderId: 'MO_1', machineId: 'M-1' },
    );
    expect(signatures).toEqual([
      { approvalId: 'AP_1', decision: 'rejected', name: 'Alice Novak', email: 'alice@plant1.example', signedAt: '2026-11-25T10:12:00.000Z', meaning: 'Rejected maintenance order MO_1 for machine M-1', comment: 'not now' },
      { approvalId: 'AP_2', decision: 'approved', name: 'Alice Novak', email: 'alice@plant1.example', signedAt: '2026-11-25T10:12:00.000Z', meaning: 'Approved maintenance order MO_1 for machine M-1', comment: null },
    ]);
  });

  it('keep a meaning recorded with the signature, and leave out what cannot be read', () => {
    const signatures = orderSignatures(
      [entry('ApprovalDecided', decided('approved', { meaning: 'Approved as plant manager' }), '1'), entry('ApprovalDecided', { decision: 'approved' }, '2'), entry('ApprovalDecided', decided('maybe'), '3')],
      { orderId: 'MO_1', machineId: 'M-1' },
    );
    expect(signatures.map((s) => s.meaning)).toEqual(['Approved as plant manager']);
  });
});
