import { describe, expect, it } from 'vitest';
import { approvalEmailSubject, describeReading, renderApprovalEmail, type ApprovalEmailInput } from './approvalEmail.js';

const input: ApprovalEmailInput = {
  approvalId: 'AP_MO_1_0',
  orderId: 'MO_1',
  plantId: 'P1',
  machineId: 'M-07',
  approver: { email: 'alice@plant1.example', name: 'Alice <Novak>' },
  level: 0,
  decideBy: '2026-11-25T10:30:00.000Z',
  reason: 'Machine fault & "smoke" <b>',
  trigger: { machineStatus: 'Fault', qualityTrend: 'Stable', productionTarget: 100, productionActual: 40, timestamp: '2026-11-25T09:59:00.000Z' },
  approveUrl: 'https://mes.plant1.example/approvals/AP_MO_1_0/approve?token=abc.def',
  rejectUrl: 'https://mes.plant1.example/approvals/AP_MO_1_0/reject?token=ghi.jkl',
  linksExpireAt: '2026-11-26T10:00:00.000Z',
};

describe('the approval email', () => {
  const email = renderApprovalEmail(input);

  it('names the order, the machine and the plant in the subject', () => {
    expect(email.subject).toBe('Approval needed: maintenance order MO_1 for machine M-07 (plant P1)');
    expect(approvalEmailSubject(input)).toBe(email.subject);
  });

  it('carries both links in the text part, each on a line of its own', () => {
    expect(email.text).toContain(`\nApprove: ${input.approveUrl}\n`);
    expect(email.text).toContain(`\nReject: ${input.rejectUrl}\n`);
  });

  it('carries both links in the HTML part, as buttons and as text', () => {
    expect(email.html.split(`href="${input.approveUrl}"`)).toHaveLength(3);
    expect(email.html.split(`href="${input.rejectUrl}"`)).toHaveLength(3);
  });

  it('gives the reason, the trigger reading and the deadlines', () => {
    expect(email.text).toContain('Reason: Machine fault & "smoke" <b>');
    expect(email.text).toContain('Trigger reading: Fault, quality Stable, output 40 of target 100 (40%), at 2026-11-25T09:59:00.000Z');
    expect(email.text).toContain('work until 2026-11-26T10:00:00.000Z.');
    expect(email.text).toContain('Decide by: 2026-11-25T10:30:00.000Z');
  });

  it('escapes everything it puts into the HTML part', () => {
    expect(email.html).toContain('Machine fault &amp; &quot;smoke&quot; &lt;b&gt;');
    expect(email.html).toContain('Hello Alice &lt;Novak&gt;,');
    expect(email.html).not.toContain('<Novak>');
    expect(email.html).not.toContain('<b>');
  });

  it('says "not recorded" without a reason, and leaves out the trigger without one', () => {
    const { reason: _reason, trigger: _trigger, ...bare } = input;
    const plain = renderApprovalEmail(bare);
    expect(plain.text).toContain('Reason: not recorded');
    expect(plain.text).not.toContain('Trigger reading');
  });

  it('says the page asks for a PIN where the plant signs with link and PIN, and how to get one', () => {
    const withPin = renderApprovalEmail({ ...input, signatureMethod: 'link+pin' });
    expect(withPin.text).toContain('the page asks for your PIN too. No PIN yet? Ask your MES administrator to run: mes approvers enrol alice@plant1.example');
    expect(withPin.html).toContain('the page asks for your PIN too.');
    const withoutPin = renderApprovalEmail(input);
    expect(withoutPin.text).not.toContain('PIN');
    expect(withoutPin.html).not.toContain('PIN');
  });

  it('tells an escalated approver why the request came to them', () => {
    expect(renderApprovalEmail({ ...input, level: 1 }).text).toContain('escalated to you (level 1)');
    expect(email.text).not.toContain('escalated to you');
  });
});

describe('describeReading', () => {
  it('leaves out the ratio when the target is 0', () => {
    expect(describeReading({ machineStatus: 'Idle', qualityTrend: 'Stable', productionTarget: 0, productionActual: 0, timestamp: 'T' })).toBe('Idle, quality Stable, output 0 of target 0, at T');
  });
});
