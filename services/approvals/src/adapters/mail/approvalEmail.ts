// The approval email of CONTRACT §4: the subject names the order and the machine; the HTML and
// the plain-text part both carry the Approve and the Reject link.
import type { Person, ReadingSummary, SignatureMethod } from '@mes/contracts';
import { escapeHtml } from '../html/htmlDocument.js';

export interface ApprovalEmailInput {
  approvalId: string;
  orderId: string;
  plantId: string;
  machineId: string;
  approver: Person;
  level: number;
  /** When the approver should decide by: then the workflow escalates or expires the request. */
  decideBy: string;
  /** From the order's MaintenanceOrderOpened, when the order stream has one. */
  reason?: string;
  trigger?: ReadingSummary;
  approveUrl: string;
  rejectUrl: string;
  /** When the links stop working. */
  linksExpireAt: string;
  /** How the decision is signed; `link+pin` adds a line saying the page asks for the PIN. Default `link`. */
  signatureMethod?: SignatureMethod;
}

export interface ApprovalEmail {
  subject: string;
  text: string;
  html: string;
}

export function approvalEmailSubject(input: Pick<ApprovalEmailInput, 'orderId' | 'machineId' | 'plantId'>): string {
  return `Approval needed: maintenance order ${input.orderId} for machine ${input.machineId} (plant ${input.plantId})`;
}

/** One line on a reading, e.g. `Fault, quality Stable, output 40 of target 100 (40%), at 2026-11-25T10:00:00.000Z`. */
export function describeReading(reading: Pick<ReadingSummary, 'machineStatus' | 'qualityTrend' | 'productionActual' | 'productionTarget' | 'timestamp'>): string {
  const ratio = reading.productionTarget > 0 ? ` (${Math.round((reading.productionActual / reading.productionTarget) * 100)}%)` : '';
  return `${reading.machineStatus}, quality ${reading.qualityTrend}, output ${reading.productionActual} of target ${reading.productionTarget}${ratio}, at ${reading.timestamp}`;
}

function pinSentence(input: Pick<ApprovalEmailInput, 'signatureMethod' | 'approver'>): string | undefined {
  if (input.signatureMethod !== 'link+pin') return undefined;
  return `Deciding is an electronic signature of two components: the page asks for your PIN too. No PIN yet? Ask your MES administrator to run: mes approvers enrol ${input.approver.email}`;
}

function deadlineSentence(input: Pick<ApprovalEmailInput, 'decideBy' | 'level'>): string {
  return `If no decision is recorded by ${input.decideBy}, the request is passed on to the next approver or expires; a decision after that time is refused.`;
}

export function renderApprovalEmail(input: ApprovalEmailInput): ApprovalEmail {
  const subject = approvalEmailSubject(input);
  const escalated = input.level > 0 ? `This request was escalated to you (level ${input.level}) because no earlier approver decided in time.` : undefined;
  const facts: [string, string][] = [
    ['Order', input.orderId],
    ['Machine', input.machineId],
    ['Plant', input.plantId],
    ['Reason', input.reason ?? 'not recorded'],
  ];
  if (input.trigger !== undefined) facts.push(['Trigger reading', describeReading(input.trigger)]);
  facts.push(['Decide by', input.decideBy]);
  const pin = pinSentence(input);

  const text = [
    `Hello ${input.approver.name},`,
    '',
    `maintenance order ${input.orderId} for machine ${input.machineId} in plant ${input.plantId} needs your approval.`,
    ...(escalated === undefined ? [] : [escalated]),
    '',
    ...facts.map(([label, value]) => `${label}: ${value}`),
    '',
    `Approve: ${input.approveUrl}`,
    '',
    `Reject: ${input.rejectUrl}`,
    '',
    'Each link opens a page where you confirm your decision; opening a link alone decides nothing.',
    ...(pin === undefined ? [] : [pin]),
    `The links are for ${input.approver.email} only and work until ${input.linksExpireAt}.`,
    deadlineSentence(input),
    '',
    `Approval request ${input.approvalId}`,
    '',
  ].join('\n');

  const button = (href: string, label: string, colour: string) =>
    `<a href="${escapeHtml(href)}" style="display:inline-block;padding:10px 24px;margin-right:12px;border-radius:6px;background:${colour};color:#ffffff;text-decoration:none;font-weight:600">${escapeHtml(label)}</a>`;
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body style="font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:15px;line-height:1.5;color:#1b1f24">
<p>Hello ${escapeHtml(input.approver.name)},</p>
<p>maintenance order <strong>${escapeHtml(input.orderId)}</strong> for machine <strong>${escapeHtml(input.machineId)}</strong> in plant <strong>${escapeHtml(input.plantId)}</strong> needs your approval.</p>
${escalated === undefined ? '' : `<p>${escapeHtml(escalated)}</p>\n`}<table style="border-collapse:collapse">
${facts.map(([label, value]) => `<tr><th style="text-align:left;padding:2px 16px 2px 0;color:#57606a;font-weight:normal">${escapeHtml(label)}</th><td style="padding:2px 0">${escapeHtml(value)}</td></tr>`).join('\n')}
</table>
<p style="margin:24px 0">${button(input.approveUrl, 'Approve', '#1a7f37')}${button(input.rejectUrl, 'Reject', '#cf222e')}</p>
<p style="color:#57606a;font-size:13px">Each link opens a page where you confirm your decision; opening a link alone decides nothing.
${pin === undefined ? '' : `${escapeHtml(pin)}\n`}The links are for ${escapeHtml(input.approver.email)} only and work until ${escapeHtml(input.linksExpireAt)}.
${escapeHtml(deadlineSentence(input))}</p>
<p style="color:#57606a;font-size:13px">If the buttons do not work, copy a link into your browser:<br>
Approve: <a href="${escapeHtml(input.approveUrl)}">${escapeHtml(input.approveUrl)}</a><br>
Reject: <a href="${escapeHtml(input.rejectUrl)}">${escapeHtml(input.rejectUrl)}</a></p>
<p style="color:#57606a;font-size:13px">Approval request ${escapeHtml(input.approvalId)}</p>
</body>
</html>
`;
  return { subject, text, html };
}
