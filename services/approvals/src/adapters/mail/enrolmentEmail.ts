// The email `mes approvers enrol <email>` sends: the one-time link where the approver sets the PIN
// that signs their decisions together with the approval links (CONTRACT §4), in HTML and text.
import type { Person } from '@mes/contracts';
import { MAX_WRONG_PINS, PIN_RULES, SIGNING_LOCK_MS } from '../../domain/approverPins.js';
import { escapeHtml } from '../html/htmlDocument.js';

export interface EnrolmentEmailInput {
  approver: Person;
  /** The plants whose approvals the approver signs with link and PIN (may be none yet). */
  signingPlants: readonly string[];
  url: string;
  expiresAt: string;
}

export interface EnrolmentEmail {
  subject: string;
  text: string;
  html: string;
}

export const ENROLMENT_EMAIL_SUBJECT = 'Set your PIN for signing maintenance approvals';

export function renderEnrolmentEmail(input: EnrolmentEmailInput): EnrolmentEmail {
  const where =
    input.signingPlants.length === 0
      ? 'No plant asks for it yet; once one does, its approval pages ask for your PIN.'
      : `The approval pages of plant${input.signingPlants.length === 1 ? '' : 's'} ${input.signingPlants.join(', ')} ask for it.`;
  const lines = [
    'Approving or rejecting a maintenance order is an electronic signature of two components: the approval link emailed to you, and a PIN only you know.',
    where,
    `A PIN is ${PIN_RULES}.`,
    `After ${MAX_WRONG_PINS} wrong PINs in a row your signing is locked for ${SIGNING_LOCK_MS / 60_000} minutes.`,
  ];
  const text = [
    `Hello ${input.approver.name},`,
    '',
    ...lines,
    '',
    `Set your PIN: ${input.url}`,
    '',
    `The link is for ${input.approver.email} only, works once, and until ${input.expiresAt}. A newer enrolment link replaces it.`,
    'Never send your PIN to anyone: nobody at the plant will ask for it.',
    '',
  ].join('\n');
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(ENROLMENT_EMAIL_SUBJECT)}</title></head>
<body style="font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:15px;line-height:1.5;color:#1b1f24">
<p>Hello ${escapeHtml(input.approver.name)},</p>
${lines.map((line) => `<p>${escapeHtml(line)}</p>`).join('\n')}
<p style="margin:24px 0"><a href="${escapeHtml(input.url)}" style="display:inline-block;padding:10px 24px;border-radius:6px;background:#1a7f37;color:#ffffff;text-decoration:none;font-weight:600">Set your PIN</a></p>
<p style="color:#57606a;font-size:13px">The link is for ${escapeHtml(input.approver.email)} only, works once, and until ${escapeHtml(input.expiresAt)}. A newer enrolment link replaces it.
Never send your PIN to anyone: nobody at the plant will ask for it.</p>
<p style="color:#57606a;font-size:13px">If the button does not work, copy the link into your browser:<br>
Set your PIN: <a href="${escapeHtml(input.url)}">${escapeHtml(input.url)}</a></p>
</body>
</html>
`;
  return { subject: ENROLMENT_EMAIL_SUBJECT, text, html };
}
