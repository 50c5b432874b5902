import { describe, expect, it } from 'vitest';
import type { ApprovalLinkOutcome, ApprovalRequestView, RecordedDecisionView } from '../../application/approvalLinkDecisions.js';
import { approvalLinkPage, tooManyRequestsPage } from './approvalPages.js';

const request: ApprovalRequestView = {
  approvalId: 'AP_1',
  decision: 'approve',
  approver: { email: 'alice@plant1.example', name: 'Alice <i>Novak</i>' },
  level: 0,
  requestedAt: '2026-11-25T10:00:00.000Z',
  decideBy: '2026-11-25T10:30:00.000Z',
  signatureMethod: 'link',
  meaning: 'Approved maintenance order MO_1 for machine M-1',
  order: { orderId: 'MO_1', plantId: 'P1', machineId: 'M-1', reason: '<img src=x onerror=alert(1)>', status: 'PendingApproval', openedAt: '2026-11-25T09:59:00.000Z' },
};
const decided: RecordedDecisionView = {
  approvalId: 'AP_1',
  decision: 'approved',
  approver: request.approver,
  decidedAt: '2026-11-25T10:12:00.000Z',
  comment: '</dd><script>x()</script>',
  signature: {
    printedName: 'Alice <i>Novak</i>',
    email: 'alice@plant1.example',
    signedAt: '2026-11-25T10:12:00.000Z',
    meaning: 'Approved maintenance order MO_1 for machine M-1',
    method: 'link+pin',
  },
};
const withPin: ApprovalRequestView = { ...request, signatureMethod: 'link+pin' };

const outcomes: [ApprovalLinkOutcome, number, string][] = [
  [{ kind: 'confirm', request, lastReading: { kind: 'none' } }, 200, 'Approve maintenance order MO_1?'],
  [{ kind: 'recorded', request, decided }, 200, 'Decision recorded: approved'],
  [{ kind: 'already_decided', request, decided }, 409, 'This approval was already decided'],
  [{ kind: 'superseded', request, currentApprover: { email: 'bob@plant1.example', name: 'Bob Ito' } }, 410, 'This approval request was passed on'],
  [{ kind: 'approval_expired', request }, 410, 'This approval request has expired'],
  [{ kind: 'too_late', request }, 410, 'The time to decide has passed'],
  [{ kind: 'not_needed', request: { ...request, order: { ...request.order, status: 'Cancelled' } } }, 410, 'No decision is needed'],
  [{ kind: 'comment_not_valid', request, maxLength: 2000 }, 400, 'The comment cannot be recorded'],
  [{ kind: 'link_expired' }, 410, 'This link has expired'],
  [{ kind: 'not_valid' }, 400, 'This link is not valid'],
  [{ kind: 'foreign', approvalId: 'AP_1' }, 403, 'This link is not for this approval'],
  [{ kind: 'not_found', approvalId: 'AP_<1>' }, 404, 'Approval request not found'],
  [{ kind: 'pin_refused', request: withPin, reason: 'wrong', remaining: 3, comment: '<b>go</b>' }, 403, 'The PIN is not correct'],
  [{ kind: 'pin_refused', request: withPin, reason: 'missing', remaining: undefined, comment: '' }, 400, 'Enter your PIN'],
  [{ kind: 'pin_not_enrolled', request: withPin }, 403, 'Your PIN is not set up'],
  [{ kind: 'signing_locked', request: withPin, until: '2026-11-25T10:27:00.000Z', lockedNow: true }, 423, 'Signing is locked'],
];

const FORMS = new Set(['confirm', 'pin_refused']);

describe('approval link pages', () => {
  it('state the request\'s decide-by time where it matters', () => {
    expect(approvalLinkPage({ kind: 'confirm', request, lastReading: { kind: 'none' } }, 't').html).toContain('Please decide by 2026-11-25T10:30:00.000Z');
    expect(approvalLinkPage({ kind: 'too_late', request }, 't').html).toContain('had to be decided by 2026-11-25T10:30:00.000Z');
  });

  it('say why no decision is needed once the order ended', () => {
    const { html } = approvalLinkPage({ kind: 'not_needed', request: { ...request, order: { ...request.order, status: 'Cancelled' } } }, 't');
    expect(html).toContain('is Cancelled, so this request was withdrawn');
    expect(html).toContain('Nothing was changed.');
  });

  it.each(outcomes)('answer %j with its status and title', (outcome, status, title) => {
    const page = approvalLinkPage(outcome, 'tok.en');
    expect(page.status).toBe(status);
    expect(page.html).toContain(`<h1>${title.replace('&', '&amp;')}</h1>`);
  });

  it.each(outcomes)('escape what they show and run no script: %j', (outcome) => {
    const { html } = approvalLinkPage(outcome, 'tok.en');
    expect(html).not.toMatch(/<script|<img|<i>|<b>/);
  });

  it('show a form only to confirm, with the token in a hidden field', () => {
    for (const [outcome] of outcomes) {
      const { html } = approvalLinkPage(outcome, 'tok.en');
      expect(html.includes('<form'), outcome.kind).toBe(FORMS.has(outcome.kind));
    }
    const { html } = approvalLinkPage({ kind: 'confirm', request: { ...request, decision: 'reject' }, lastReading: { kind: 'unavailable' } }, 'tok"en');
    expect(html).toContain('<input type="hidden" name="token" value="tok&quot;en">');
    expect(html).toContain('<form method="post" action="reject">');
    expect(html).toContain('<button type="submit" class="reject">Reject</button>');
    expect(html).toContain('cannot be read right now');
  });

  it('show the last reading', () => {
    const reading = {
      plantId: 'P1',
      machineId: 'M-1',
      machineStatus: 'Fault',
      qualityTrend: 'Declining',
      productionTarget: 120,
      productionActual: 61,
      timestamp: '2026-11-25T09:58:00.000Z',
      timestampSource: 'device',
      receivedAt: '2026-11-25T09:58:00.100Z',
    } as const;
    const { html } = approvalLinkPage({ kind: 'confirm', request, lastReading: { kind: 'reading', reading } }, 't');
    for (const text of ['Fault', 'Declining', '61 of target 120', '2026-11-25T09:58:00.000Z']) expect(html).toContain(text);
  });

  it('show who signed, what and when on an already decided approval', () => {
    const { html } = approvalLinkPage({ kind: 'already_decided', request, decided }, 't');
    expect(html).toContain('<dt>Signed by</dt><dd>Alice &lt;i&gt;Novak&lt;/i&gt;</dd>');
    expect(html).toContain('<dt>Date and time</dt><dd>2026-11-25 10:12:00 UTC</dd>');
    expect(html).toContain('&lt;/dd&gt;&lt;script&gt;x()&lt;/script&gt;');
    expect(html).toContain('Nothing was changed.');
  });

  describe('after a decision', () => {
    it('show the signature: printed name, email, date and time in UTC with the zone, meaning and components', () => {
      const { html } = approvalLinkPage({ kind: 'recorded', request, decided }, 't');
      expect(html).toContain('<h2>Signature</h2>');
      expect(html).toContain('<dt>Signed by</dt><dd>Alice &lt;i&gt;Novak&lt;/i&gt;</dd>');
      expect(html).toContain('<dt>Email</dt><dd>alice@plant1.example</dd>');
      expect(html).toContain('<dt>Date and time</dt><dd>2026-11-25 10:12:00 UTC</dd>');
      expect(html).toContain('<dt>Meaning</dt><dd>Approved maintenance order MO_1 for machine M-1</dd>');
      expect(html).toContain('<dt>Signed with</dt><dd>the approval link and the approver&#39;s PIN (two components)</dd>');
    });

    it('say a signature was made with the link alone where the plant signs so', () => {
      const { html } = approvalLinkPage({ kind: 'recorded', request, decided: { ...decided, signature: { ...decided.signature!, method: 'link' } } }, 't');
      expect(html).toContain('<dt>Signed with</dt><dd>the approval link</dd>');
    });
  });

  describe('when the plant signs with link and PIN', () => {
    it('ask for the PIN on the confirmation form, and say what pressing the button signs', () => {
      const { html } = approvalLinkPage({ kind: 'confirm', request: withPin, lastReading: { kind: 'none' } }, 't');
      expect(html).toContain('<input type="password" id="pin" name="pin" inputmode="numeric" autocomplete="current-password" maxlength="12" required>');
      expect(html).toContain('signs, as Alice &lt;i&gt;Novak&lt;/i&gt; (alice@plant1.example): <strong>Approved maintenance order MO_1 for machine M-1</strong>');
      expect(html).toContain('two components, this link and your PIN');
    });

    it('ask for no PIN where the link alone signs', () => {
      expect(approvalLinkPage({ kind: 'confirm', request, lastReading: { kind: 'none' } }, 't').html).not.toContain('name="pin"');
    });

    it('say a wrong PIN recorded nothing and how many attempts are left, with the form and comment again but no PIN', () => {
      const { html } = approvalLinkPage({ kind: 'pin_refused', request: withPin, reason: 'wrong', remaining: 1, comment: 'go <now>' }, 'tok.en');
      expect(html).toContain('That is not your PIN. Nothing was recorded. 1 attempt left before signing as alice@plant1.example is locked for 15 minutes.');
      expect(html).toContain('<textarea id="comment" name="comment" rows="4" maxlength="2000">go &lt;now&gt;</textarea>');
      expect(html).toContain('<input type="hidden" name="token" value="tok.en">');
      expect(html).not.toMatch(/name="pin"[^>]*value=/);
    });

    it('tell an approver without a PIN how to get one', () => {
      const { html } = approvalLinkPage({ kind: 'pin_not_enrolled', request: withPin }, 't');
      expect(html).toContain('No PIN is set up for alice@plant1.example yet');
      expect(html).toContain('<code>mes approvers enrol alice@plant1.example</code>');
      expect(html).toContain('Nothing was changed.');
    });

    it('say until when signing is locked, in UTC', () => {
      const { html } = approvalLinkPage({ kind: 'signing_locked', request: withPin, until: '2026-11-25T10:27:00.000Z', lockedNow: false }, 't');
      expect(html).toContain('After 5 wrong PINs in a row, signing as alice@plant1.example is locked until 2026-11-25 10:27:00 UTC.');
      expect(html).toContain('Nothing was recorded.');
    });
  });

  it('ask to wait when rate limited', () => {
    const page = tooManyRequestsPage(42);
    expect(page.status).toBe(429);
    expect(page.html).toContain('Wait 42 seconds');
  });
});
