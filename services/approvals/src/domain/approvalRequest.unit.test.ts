import { DomainEventSchema, type ElectronicSignature, type Person } from '@mes/contracts';
import { foldEvents } from '@mes/platform';
import { deciderSpecification } from '@mes/platform/testing';
import { describe, expect, it } from 'vitest';
import {
  approvalRequestDecider,
  approvalStatus,
  currentApprovalRequest,
  findApprovalRequest,
  type ApprovalCommand,
  type ApprovalEvent,
  type ApprovalState,
} from './approvalRequest.js';

const spec = deciderSpecification(approvalRequestDecider);

const T0 = '2026-11-25T10:00:00.000Z';
const T0_EXPIRES = '2026-11-25T10:30:00.000Z';
const T1 = '2026-11-25T10:30:00.000Z';
const T1_EXPIRES = '2026-11-25T11:00:00.000Z';
const T2 = '2026-11-25T11:00:00.000Z';
const DECIDED = '2026-11-25T10:12:00.000Z';

const alice: Person = { email: 'alice@plant1.example', name: 'Alice Novak' };
const bob: Person = { email: 'bob@plant1.example', name: 'Bob Ito' };
const carol: Person = { email: 'carol@plant1.example', name: 'Carol Diaz' };
const mallory: Person = { email: 'mallory@elsewhere.example', name: 'Mallory' };

const command = {
  request: (overrides: Partial<Extract<ApprovalCommand, { type: 'RequestApproval' }>> = {}): ApprovalCommand => ({
    type: 'RequestApproval',
    approvalId: 'AP_0',
    orderId: 'MO_1',
    plantId: 'P1',
    machineId: 'M-07',
    approver: alice,
    level: 0,
    expiresAt: T0_EXPIRES,
    issuedAt: T0,
    ...overrides,
  }),
  escalate: (approvalId: string, supersedesApprovalId: string, approver: Person, level: number): ApprovalCommand => ({
    type: 'RequestApproval',
    approvalId,
    orderId: 'MO_1',
    plantId: 'P1',
    machineId: 'M-07',
    approver,
    level,
    expiresAt: level === 1 ? T1_EXPIRES : '2026-11-25T11:30:00.000Z',
    supersedesApprovalId,
    issuedAt: level === 1 ? T1 : T2,
  }),
  emailSent: (approvalId = 'AP_0', to = alice.email): ApprovalCommand => ({
    type: 'RecordApprovalEmailSent',
    approvalId,
    to,
    messageId: `<${approvalId}@mail.example>`,
    issuedAt: T0,
  }),
  decide: (
    approvalId: string,
    decision: 'approved' | 'rejected',
    approver: Person,
    comment: string | undefined = 'ok from the floor',
  ): ApprovalCommand => ({
    type: 'RecordApprovalDecision',
    approvalId,
    decision,
    approver,
    comment,
    clientAddress: '192.0.2.7',
    userAgent: 'Mozilla/5.0 (test)',
    issuedAt: DECIDED,
  }),
  expire: (approvalId: string): ApprovalCommand => ({ type: 'ExpireApproval', approvalId, issuedAt: T2 }),
  /** A decision submitted at `at` (the confirmation form's POST). */
  decideAt: (approvalId: string, approver: Person, at: string): ApprovalCommand => ({
    type: 'RecordApprovalDecision',
    approvalId,
    decision: 'approved',
    approver,
    clientAddress: '192.0.2.7',
    userAgent: 'Mozilla/5.0 (test)',
    issuedAt: at,
  }),
  withdraw: (): ApprovalCommand => ({ type: 'WithdrawApprovals', reason: 'order cancelled', issuedAt: T1 }),
  /** A decision whose PIN the application verified. */
  decideWithPin: (approvalId: string, decision: 'approved' | 'rejected', approver: Person): ApprovalCommand => ({
    ...(command.decide(approvalId, decision, approver) as Extract<ApprovalCommand, { type: 'RecordApprovalDecision' }>),
    signatureMethod: 'link+pin',
  }),
  wrongPin: (consecutiveWrongPins: number, lockedUntil?: string): ApprovalCommand => ({
    type: 'RecordSignatureFailure',
    approvalId: 'AP_0',
    decision: 'approved',
    consecutiveWrongPins,
    ...(lockedUntil === undefined ? {} : { lockedUntil }),
    clientAddress: '192.0.2.7',
    userAgent: 'Mozilla/5.0 (test)',
    issuedAt: DECIDED,
  }),
};

/** The manifestation the decider records: the request's approver, the time, what it means. */
function signed(approver: Person, decision: 'approved' | 'rejected', at: string, method: 'link' | 'link+pin'): ElectronicSignature {
  return {
    printedName: approver.name,
    email: approver.email,
    signedAt: at,
    meaning: `${decision === 'approved' ? 'Approved' : 'Rejected'} maintenance order MO_1 for machine M-07`,
    method,
  };
}

const event = {
  requested0: {
    type: 'ApprovalRequested',
    version: 3,
    data: { approvalId: 'AP_0', orderId: 'MO_1', plantId: 'P1', machineId: 'M-07', approver: alice, level: 0, requestedAt: T0, decideBy: T0_EXPIRES, signatureMethod: 'link' },
  },
  requested1: {
    type: 'ApprovalRequested',
    version: 3,
    data: { approvalId: 'AP_1', orderId: 'MO_1', plantId: 'P1', machineId: 'M-07', approver: bob, level: 1, requestedAt: T1, decideBy: T1_EXPIRES, signatureMethod: 'link' },
  },
  /** A request where the plant signs with link+pin. */
  requestedWithPin: {
    type: 'ApprovalRequested',
    version: 3,
    data: { approvalId: 'AP_0', orderId: 'MO_1', plantId: 'P1', machineId: 'M-07', approver: alice, level: 0, requestedAt: T0, decideBy: T0_EXPIRES, signatureMethod: 'link+pin' },
  },
  emailSent: (approvalId = 'AP_0', to = alice.email): ApprovalEvent => ({
    type: 'ApprovalEmailSent',
    version: 1,
    data: { approvalId, to, messageId: `<${approvalId}@mail.example>`, sentAt: T0 },
  }),
  escalated0to1: {
    type: 'ApprovalEscalated',
    version: 1,
    data: { approvalId: 'AP_0', orderId: 'MO_1', nextApprover: bob, level: 1, escalatedAt: T1 },
  },
  decided: (approvalId: string, decision: 'approved' | 'rejected', approver: Person, method: 'link' | 'link+pin' = 'link'): ApprovalEvent => ({
    type: 'ApprovalDecided',
    version: 2,
    data: {
      approvalId,
      orderId: 'MO_1',
      decision,
      approver,
      decidedAt: DECIDED,
      comment: 'ok from the floor',
      clientAddress: '192.0.2.7',
      userAgent: 'Mozilla/5.0 (test)',
      signature: signed(approver, decision, DECIDED, method),
    },
  }),
  expired1: { type: 'ApprovalExpired', version: 1, data: { approvalId: 'AP_1', orderId: 'MO_1', expiredAt: T2 } },
  withdrawn: (approvalId: string): ApprovalEvent => ({ type: 'ApprovalWithdrawn', version: 1, data: { approvalId, orderId: 'MO_1', reason: 'order cancelled', withdrawnAt: T1 } }),
  decidedAt: (approvalId: string, approver: Person, at: string): ApprovalEvent => ({
    type: 'ApprovalDecided',
    version: 2,
    data: {
      approvalId,
      orderId: 'MO_1',
      decision: 'approved',
      approver,
      decidedAt: at,
      clientAddress: '192.0.2.7',
      userAgent: 'Mozilla/5.0 (test)',
      signature: signed(approver, 'approved', at, 'link'),
    },
  }),
  signatureFailed: (consecutiveWrongPins: number): ApprovalEvent => ({
    type: 'ApprovalSignatureFailed',
    version: 1,
    data: {
      approvalId: 'AP_0',
      orderId: 'MO_1',
      approver: alice,
      decision: 'approved',
      reason: 'wrong_pin',
      consecutiveWrongPins,
      failedAt: DECIDED,
      clientAddress: '192.0.2.7',
      userAgent: 'Mozilla/5.0 (test)',
    },
  }),
  signingLocked: {
    type: 'ApproverSigningLocked',
    version: 1,
    data: { approvalId: 'AP_0', orderId: 'MO_1', approver: alice, wrongPins: 5, lockedAt: DECIDED, lockedUntil: '2026-11-25T10:27:00.000Z' },
  },
} satisfies Record<string, ApprovalEvent | ((...args: never[]) => ApprovalEvent)>;

const history = (() => {
  const requested: ApprovalEvent[] = [event.requested0];
  const emailed = [...requested, event.emailSent()];
  const escalated = [...emailed, event.escalated0to1, event.requested1];
  return {
    requested,
    emailed,
    escalated,
    approved: [...emailed, event.decided('AP_0', 'approved', alice)],
    rejected: [...emailed, event.decided('AP_0', 'rejected', alice)],
    approvedAfterEscalation: [...escalated, event.decided('AP_1', 'approved', bob)],
    expired: [...escalated, event.expired1],
  };
})();

describe('ApprovalRequest', () => {
  describe('when no approval exists', () => {
    it('requests the first approver, level 0', () => {
      spec.given([]).when(command.request()).then([event.requested0]);
    });

    it('refuses a first request above level 0', () => {
      spec.given([]).when(command.request({ level: 1 })).thenThrows('APPROVAL_INVALID_LEVEL');
    });

    it('refuses to escalate a request that does not exist', () => {
      spec.given([]).when(command.escalate('AP_1', 'AP_0', bob, 1)).thenThrows('APPROVAL_NOT_FOUND');
    });

    it.each([
      ['an email report', command.emailSent()],
      ['a decision', command.decide('AP_0', 'approved', alice)],
      ['an expiry', command.expire('AP_0')],
    ])('refuses %s with APPROVAL_NOT_FOUND', (_name, unknown) => {
      spec.given([]).when(unknown).thenThrows('APPROVAL_NOT_FOUND');
    });
  });

  describe('when the request awaits its email', () => {
    it('records the email sent to the approver', () => {
      spec.given(history.requested).when(command.emailSent()).then([event.emailSent()]);
    });

    it('records an email without a Message-ID', () => {
      spec
        .given(history.requested)
        .when({ type: 'RecordApprovalEmailSent', approvalId: 'AP_0', to: alice.email, issuedAt: T0 })
        .then([{ type: 'ApprovalEmailSent', version: 1, data: { approvalId: 'AP_0', to: alice.email, sentAt: T0 } }]);
    });

    it('refuses an email to someone else than the approver', () => {
      spec.given(history.requested).when(command.emailSent('AP_0', mallory.email)).thenThrows('APPROVAL_WRONG_APPROVER');
    });

    it('decides nothing for the same request again', () => {
      spec.given(history.requested).when(command.request()).then([]);
    });

    it('refuses the same approval id for another approver', () => {
      spec.given(history.requested).when(command.request({ approver: bob })).thenThrows('APPROVAL_ALREADY_EXISTS');
    });

    it('refuses a second first request under another id', () => {
      spec.given(history.requested).when(command.request({ approvalId: 'AP_X' })).thenThrows('APPROVAL_ALREADY_EXISTS');
    });

    it('records a decision even though the email was not recorded yet', () => {
      spec.given(history.requested).when(command.decide('AP_0', 'approved', alice)).then([event.decided('AP_0', 'approved', alice)]);
    });
  });

  describe('when the current approver has the email', () => {
    it('decides nothing for a second email report', () => {
      spec.given(history.emailed).when(command.emailSent()).then([]);
    });

    it('records approval with the approver, time, comment, client address and user agent', () => {
      spec.given(history.emailed).when(command.decide('AP_0', 'approved', alice)).then([event.decided('AP_0', 'approved', alice)]);
    });

    it('records rejection', () => {
      spec.given(history.emailed).when(command.decide('AP_0', 'rejected', alice)).then([event.decided('AP_0', 'rejected', alice)]);
    });

    it('records no comment for an empty comment field', () => {
      const [decided] = approvalRequestDecider.decide(command.decide('AP_0', 'approved', alice, '  '), foldEvents(approvalRequestDecider, history.emailed));
      expect(decided?.data).not.toHaveProperty('comment');
    });

    it('takes the approver email in any letter case, recording the requested approver', () => {
      spec
        .given(history.emailed)
        .when(command.decide('AP_0', 'approved', { email: 'Alice@Plant1.example', name: 'alice' }))
        .then([event.decided('AP_0', 'approved', alice)]);
    });

    it('refuses a decision by someone else', () => {
      spec.given(history.emailed).when(command.decide('AP_0', 'approved', mallory)).thenThrows('APPROVAL_WRONG_APPROVER');
    });

    it('refuses a decision on a request it does not have', () => {
      spec.given(history.emailed).when(command.decide('AP_9', 'approved', alice)).thenThrows('APPROVAL_NOT_FOUND');
    });

    it('escalates to the next approver on timeout', () => {
      spec.given(history.emailed).when(command.escalate('AP_1', 'AP_0', bob, 1)).then([event.escalated0to1, event.requested1]);
    });

    it('refuses an escalation that skips a level', () => {
      spec.given(history.emailed).when(command.escalate('AP_2', 'AP_0', carol, 2)).thenThrows('APPROVAL_INVALID_LEVEL');
    });

    it('refuses to escalate a request it does not have', () => {
      spec.given(history.emailed).when(command.escalate('AP_1', 'AP_9', bob, 1)).thenThrows('APPROVAL_NOT_FOUND');
    });

    it('expires after the last approver timed out', () => {
      spec
        .given(history.emailed)
        .when(command.expire('AP_0'))
        .then([{ type: 'ApprovalExpired', version: 1, data: { approvalId: 'AP_0', orderId: 'MO_1', expiredAt: T2 } }]);
    });
  });

  describe('when the request was escalated', () => {
    it('refuses a decision on the superseded request, naming the current approver', () => {
      spec.given(history.escalated).when(command.decide('AP_0', 'approved', alice)).thenThrows('APPROVAL_SUPERSEDED');
      spec
        .given(history.escalated)
        .when(command.decide('AP_0', 'approved', alice))
        .thenThrows(/^approval AP_0 \(level 0\) was escalated to bob@plant1\.example \(level 1\); it cannot be approved any more$/);
    });

    it('records the decision of the new approver', () => {
      spec.given(history.escalated).when(command.decide('AP_1', 'rejected', bob)).then([event.decided('AP_1', 'rejected', bob)]);
    });

    it('refuses the previous approver deciding the new request', () => {
      spec.given(history.escalated).when(command.decide('AP_1', 'approved', alice)).thenThrows('APPROVAL_WRONG_APPROVER');
    });

    it('decides nothing for a retried escalation', () => {
      spec.given(history.escalated).when(command.escalate('AP_1', 'AP_0', bob, 1)).then([]);
    });

    it('decides nothing for a stale timer of the superseded level', () => {
      spec.given(history.escalated).when(command.escalate('AP_1b', 'AP_0', bob, 1)).then([]);
      spec.given(history.escalated).when(command.expire('AP_0')).then([]);
    });

    it('escalates again to the level after', () => {
      const escalated: ApprovalEvent[] = [
        { type: 'ApprovalEscalated', version: 1, data: { approvalId: 'AP_1', orderId: 'MO_1', nextApprover: carol, level: 2, escalatedAt: T2 } },
        {
          type: 'ApprovalRequested',
          version: 3,
          data: { approvalId: 'AP_2', orderId: 'MO_1', plantId: 'P1', machineId: 'M-07', approver: carol, level: 2, requestedAt: T2, decideBy: '2026-11-25T11:30:00.000Z', signatureMethod: 'link' },
        },
      ];
      spec.given(history.escalated).when(command.escalate('AP_2', 'AP_1', carol, 2)).then(escalated);
    });

    it('expires the current request after the last approver timed out', () => {
      spec.given(history.escalated).when(command.expire('AP_1')).then([event.expired1]);
    });

    it('records the new approver’s email', () => {
      spec.given(history.escalated).when(command.emailSent('AP_1', bob.email)).then([event.emailSent('AP_1', bob.email)]);
    });

    it('still records a late email report of the superseded request', () => {
      const withoutEmail = [event.requested0, event.escalated0to1, event.requested1];
      spec.given(withoutEmail).when(command.emailSent()).then([event.emailSent()]);
    });
  });

  describe('when the approval is approved', () => {
    it('decides nothing for the same decision by the same approver again', () => {
      spec.given(history.approved).when(command.decide('AP_0', 'approved', alice, 'a second comment')).then([]);
    });

    it('refuses a second, different decision, naming the one recorded', () => {
      spec.given(history.approved).when(command.decide('AP_0', 'rejected', alice)).thenThrows('APPROVAL_ALREADY_DECIDED');
      spec
        .given(history.approved)
        .when(command.decide('AP_0', 'rejected', alice))
        .thenThrows(/^the approval of order MO_1 was already approved by alice@plant1\.example at 2026-11-25T10:12:00\.000Z; approval AP_0 cannot be rejected again$/);
    });

    it('refuses the same decision submitted by someone else', () => {
      spec.given(history.approved).when(command.decide('AP_0', 'approved', mallory)).thenThrows('APPROVAL_ALREADY_DECIDED');
    });

    it('decides nothing for a stale escalation or expiry timer', () => {
      spec.given(history.approved).when(command.escalate('AP_1', 'AP_0', bob, 1)).then([]);
      spec.given(history.approved).when(command.expire('AP_0')).then([]);
    });
  });

  describe('when the approval is rejected', () => {
    it('refuses an approval afterwards', () => {
      spec.given(history.rejected).when(command.decide('AP_0', 'approved', alice)).thenThrows('APPROVAL_ALREADY_DECIDED');
    });

    it('decides nothing for the same rejection again', () => {
      spec.given(history.rejected).when(command.decide('AP_0', 'rejected', alice)).then([]);
    });
  });

  describe('when the approval was decided after an escalation', () => {
    it('refuses a decision on the superseded request as already decided', () => {
      spec.given(history.approvedAfterEscalation).when(command.decide('AP_0', 'rejected', alice)).thenThrows('APPROVAL_ALREADY_DECIDED');
    });

    it('decides nothing for a stale timer of the decided level', () => {
      spec.given(history.approvedAfterEscalation).when(command.escalate('AP_2', 'AP_1', carol, 2)).then([]);
      spec.given(history.approvedAfterEscalation).when(command.expire('AP_1')).then([]);
    });
  });

  describe('when the approval expired', () => {
    it('refuses a decision by the last approver', () => {
      spec.given(history.expired).when(command.decide('AP_1', 'approved', bob)).thenThrows('APPROVAL_EXPIRED');
    });

    it('refuses a decision on an earlier, superseded request', () => {
      spec.given(history.expired).when(command.decide('AP_0', 'approved', alice)).thenThrows('APPROVAL_EXPIRED');
    });

    it('decides nothing for a repeated expiry or a late escalation', () => {
      spec.given(history.expired).when(command.expire('AP_1')).then([]);
      spec.given(history.expired).when(command.escalate('AP_2', 'AP_1', carol, 2)).then([]);
    });
  });

  describe('when a decision races the decide-by time and the escalation timer', () => {
    const JUST_BEFORE = '2026-11-25T10:29:59.999Z';

    it('records a decision submitted just before the decide-by time', () => {
      spec.given(history.emailed).when(command.decideAt('AP_0', alice, JUST_BEFORE)).then([event.decidedAt('AP_0', alice, JUST_BEFORE)]);
    });

    it('refuses a decision submitted at the decide-by time, even while the timer has not fired', () => {
      spec.given(history.emailed).when(command.decideAt('AP_0', alice, T0_EXPIRES)).thenThrows('APPROVAL_TOO_LATE');
    });

    it('refuses a decision submitted after the decide-by time', () => {
      spec.given(history.emailed).when(command.decideAt('AP_0', alice, '2026-11-25T10:45:00.000Z')).thenThrows('APPROVAL_TOO_LATE');
    });

    it('lets a decision recorded first stand: the escalation that follows changes nothing', () => {
      const decidedFirst = [...history.emailed, event.decidedAt('AP_0', alice, JUST_BEFORE)];
      spec.given(decidedFirst).when(command.escalate('AP_1', 'AP_0', bob, 1)).then([]);
      expect(approvalStatus(foldEvents(approvalRequestDecider, decidedFirst))).toBe('Approved');
    });

    it('lets a decision recorded first stand: the expiry that follows changes nothing', () => {
      const decidedFirst = [...history.escalated, event.decidedAt('AP_1', bob, '2026-11-25T10:59:59.000Z')];
      spec.given(decidedFirst).when(command.expire('AP_1')).then([]);
      expect(approvalStatus(foldEvents(approvalRequestDecider, decidedFirst))).toBe('Approved');
    });

    it('refuses a decision submitted before the decide-by time but appended after the escalation', () => {
      spec.given(history.escalated).when(command.decideAt('AP_0', alice, JUST_BEFORE)).thenThrows('APPROVAL_SUPERSEDED');
    });

    it('refuses a decision submitted before the decide-by time but appended after the expiry', () => {
      spec.given(history.expired).when(command.decideAt('AP_1', bob, '2026-11-25T10:59:59.000Z')).thenThrows('APPROVAL_EXPIRED');
    });
  });

  describe('when the order ended while its approval was pending', () => {
    const withdrawn = [...history.emailed, event.withdrawn('AP_0')];

    it('withdraws the pending request', () => {
      spec.given(history.emailed).when(command.withdraw()).then([event.withdrawn('AP_0')]);
    });

    it('withdraws only what is pending after an escalation', () => {
      spec.given(history.escalated).when(command.withdraw()).then([event.withdrawn('AP_1')]);
    });

    it('refuses a decision afterwards', () => {
      spec.given(withdrawn).when(command.decide('AP_0', 'approved', alice)).thenThrows('APPROVAL_WITHDRAWN');
    });

    it('decides nothing for a second withdrawal, an escalation or an expiry', () => {
      spec.given(withdrawn).when(command.withdraw()).then([]);
      spec.given(withdrawn).when(command.escalate('AP_1', 'AP_0', bob, 1)).then([]);
      spec.given(withdrawn).when(command.expire('AP_0')).then([]);
    });

    it('withdraws nothing once decided or expired, or before any request', () => {
      spec.given(history.approved).when(command.withdraw()).then([]);
      spec.given(history.expired).when(command.withdraw()).then([]);
      spec.given([]).when(command.withdraw()).then([]);
    });

    it('marks the request Superseded and the process Withdrawn', () => {
      const state = foldEvents(approvalRequestDecider, withdrawn);
      expect(approvalStatus(state)).toBe('Withdrawn');
      expect(findApprovalRequest(state, 'AP_0')?.status).toBe('Superseded');
    });
  });

  describe('when the plant signs with link and PIN', () => {
    const requested: ApprovalEvent[] = [event.requestedWithPin, event.emailSent()];

    it('requests with the signature method of the plant', () => {
      spec.given([]).when({ ...(command.request() as Extract<ApprovalCommand, { type: 'RequestApproval' }>), signatureMethod: 'link+pin' }).then([event.requestedWithPin]);
    });

    it('refuses a decision signed with the link alone', () => {
      spec.given(requested).when(command.decide('AP_0', 'approved', alice)).thenThrows('APPROVAL_PIN_REQUIRED');
      spec
        .given(requested)
        .when(command.decide('AP_0', 'approved', alice))
        .thenThrows(/^approval AP_0 must be signed with the link and alice@plant1\.example's PIN \(the plant signs with link\+pin\)/);
    });

    it('records a decision whose PIN was verified, with a signature of two components', () => {
      spec.given(requested).when(command.decideWithPin('AP_0', 'rejected', alice)).then([event.decided('AP_0', 'rejected', alice, 'link+pin')]);
    });

    it('records a wrong PIN without deciding anything', () => {
      spec.given(requested).when(command.wrongPin(2)).then([event.signatureFailed(2)]);
      const state = foldEvents(approvalRequestDecider, [...requested, event.signatureFailed(2)]);
      expect(approvalStatus(state)).toBe('Pending');
      expect(state).toStrictEqual(foldEvents(approvalRequestDecider, requested));
    });

    it('records the lock with the failure that caused it', () => {
      spec.given(requested).when(command.wrongPin(5, '2026-11-25T10:27:00.000Z')).then([event.signatureFailed(5), event.signingLocked]);
    });

    it('still takes the right PIN after failures and a lock recorded earlier', () => {
      const locked = [...requested, event.signatureFailed(5), event.signingLocked];
      spec.given(locked).when(command.decideWithPin('AP_0', 'rejected', alice)).then([event.decided('AP_0', 'rejected', alice, 'link+pin')]);
    });

    it('refuses to record a failure for a request it does not have', () => {
      spec.given([]).when(command.wrongPin(1)).thenThrows('APPROVAL_NOT_FOUND');
    });
  });

  describe('when the plant signs with the link alone', () => {
    it('records the signature\'s printed name, email, time, meaning and method with the decision', () => {
      const [decided] = approvalRequestDecider.decide(command.decide('AP_0', 'approved', alice), foldEvents(approvalRequestDecider, history.emailed));
      expect(decided).toMatchObject({
        type: 'ApprovalDecided',
        version: 2,
        data: {
          signature: { printedName: 'Alice Novak', email: 'alice@plant1.example', signedAt: DECIDED, meaning: 'Approved maintenance order MO_1 for machine M-07', method: 'link' },
        },
      });
    });

    it('signs with the printed name of the request, not the name the submission gives', () => {
      const [decided] = approvalRequestDecider.decide(command.decide('AP_0', 'approved', { email: 'ALICE@plant1.example', name: 'someone else' }), foldEvents(approvalRequestDecider, history.emailed));
      expect(decided?.data).toMatchObject({ signature: { printedName: 'Alice Novak', email: 'alice@plant1.example' } });
    });

    it('reads a request stored before version 3 as one signed with the link alone', () => {
      const storedV2 = { type: 'ApprovalRequested', version: 2, data: { ...event.requested0.data, signatureMethod: undefined } };
      const state = foldEvents(approvalRequestDecider, [approvalRequestDecider.decode(storedV2)]);
      expect(findApprovalRequest(state, 'AP_0')?.signatureMethod).toBe('link');
    });
  });

  describe('its state', () => {
    it('keeps one Approvals row per request, with the decision details', () => {
      const state = foldEvents(approvalRequestDecider, history.approvedAfterEscalation);
      expect(approvalStatus(state)).toBe('Approved');
      expect(currentApprovalRequest(state)?.approvalId).toBe('AP_1');
      expect(state?.requests).toStrictEqual([
        {
          approvalId: 'AP_0',
          orderId: 'MO_1',
          approver: alice,
          level: 0,
          status: 'Superseded',
          requestedAt: T0,
          decideBy: T0_EXPIRES,
          signatureMethod: 'link',
          emailSentAt: T0,
          decidedAt: null,
          signature: null,
          comment: null,
          clientAddress: null,
          userAgent: null,
        },
        {
          approvalId: 'AP_1',
          orderId: 'MO_1',
          approver: bob,
          level: 1,
          status: 'Approved',
          requestedAt: T1,
          decideBy: T1_EXPIRES,
          signatureMethod: 'link',
          emailSentAt: null,
          decidedAt: DECIDED,
          signature: signed(bob, 'approved', DECIDED, 'link'),
          comment: 'ok from the floor',
          clientAddress: '192.0.2.7',
          userAgent: 'Mozilla/5.0 (test)',
        },
      ]);
    });

    it('marks the expired request and the process Expired', () => {
      const state = foldEvents(approvalRequestDecider, history.expired);
      expect(approvalStatus(state)).toBe('Expired');
      expect(findApprovalRequest(state, 'AP_1')?.status).toBe('Expired');
    });

    it('has no status before the first request', () => {
      expect(approvalStatus(approvalRequestDecider.initialState)).toBeNull();
      expect(currentApprovalRequest(approvalRequestDecider.initialState)).toBeUndefined();
    });

    it('is never mutated by evolve', () => {
      let state: ApprovalState = approvalRequestDecider.initialState;
      for (const next of history.approvedAfterEscalation) {
        const before = structuredClone(state);
        const after = approvalRequestDecider.evolve(deepFreeze(state), next);
        expect(state).toStrictEqual(before);
        state = after;
      }
    });
  });

  describe('its events', () => {
    it('fit the contract schemas', () => {
      const produced: ApprovalEvent[] = [];
      const run = (past: ApprovalEvent[], next: ApprovalCommand) => {
        produced.push(...approvalRequestDecider.decide(next, foldEvents(approvalRequestDecider, past)));
      };
      run([], command.request());
      run(history.requested, command.emailSent());
      run(history.emailed, command.escalate('AP_1', 'AP_0', bob, 1));
      run(history.escalated, command.decide('AP_1', 'approved', bob));
      run(history.escalated, command.expire('AP_1'));
      run(history.escalated, command.withdraw());
      run([event.requestedWithPin], command.wrongPin(5, '2026-11-25T10:27:00.000Z'));
      run([event.requestedWithPin], command.decideWithPin('AP_0', 'approved', alice));
      expect(new Set(produced.map((e) => e.type)).size).toBe(8);
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
