// The pages behind an enrolment link: the form where an approver sets their PIN, and every reason
// it cannot be used. A PIN typed into the form is never written back into a page.
import type { EnrolmentOutcome } from '../../application/approverEnrolment.js';
import { MAX_WRONG_PINS, PIN_MAX_DIGITS, PIN_MIN_DIGITS, PIN_RULES, SIGNING_LOCK_MS } from '../../domain/approverPins.js';
import { escapeHtml, utcTime } from '../html/htmlDocument.js';
import { NOTHING_CHANGED, page, type HtmlPage } from './approvalPages.js';

type FormOutcome = Extract<EnrolmentOutcome, { kind: 'form' | 'pin_not_valid' }>;

const pinInput = (name: string, id: string) =>
  `<input type="password" id="${id}" name="${name}" inputmode="numeric" autocomplete="new-password" minlength="${PIN_MIN_DIGITS}" maxlength="${PIN_MAX_DIGITS}" pattern="[0-9]*" required>`;

function where(signingPlants: readonly string[]): string {
  if (signingPlants.length === 0) return 'No plant asks for it yet; once one does, its approval pages will.';
  return `The approval pages of plant${signingPlants.length === 1 ? '' : 's'} ${escapeHtml(signingPlants.join(', '))} ask for it.`;
}

function form(outcome: FormOutcome, token: string): string {
  const { approver } = outcome;
  return `<p>This link is for ${escapeHtml(approver.approver.name)} (${escapeHtml(approver.approver.email)}). Your PIN and the approval link emailed to you are the two components of your electronic signature on maintenance approvals. ${where(approver.signingPlants)}</p>
${outcome.kind === 'pin_not_valid' ? `<p class="notice">${escapeHtml(outcome.problem)} Nothing was saved.</p>\n` : ''}<form method="post" action="enrol">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<p><label for="pin">PIN</label><br>${pinInput('pin', 'pin')}</p>
<p><label for="pinAgain">The same PIN again</label><br>${pinInput('pinAgain', 'pinAgain')}</p>
<p><button type="submit" class="approve">Set PIN</button></p>
</form>
<p class="muted">A PIN is ${escapeHtml(PIN_RULES)}. After ${MAX_WRONG_PINS} wrong PINs in a row your signing is locked for ${SIGNING_LOCK_MS / 60_000} minutes. Only a scrypt hash of it is kept. This link works once, until ${escapeHtml(utcTime(outcome.expiresAt))}.</p>`;
}

export function enrolmentPage(outcome: EnrolmentOutcome, token: string): HtmlPage {
  switch (outcome.kind) {
    case 'form':
      return page(200, 'Set your PIN', form(outcome, token));
    case 'pin_not_valid':
      return page(400, 'Set your PIN', form(outcome, token));
    case 'pin_set':
      return page(
        200,
        'Your PIN is set',
        `<p>${escapeHtml(outcome.approver.approver.name)} (${escapeHtml(outcome.approver.approver.email)}), from now on approval pages that sign with link and PIN ask for it. ${where(outcome.approver.signingPlants)} You can close this page.</p>${
          outcome.lockedUntil === undefined ? '' : `\n<p class="notice">Your signing is still locked until ${escapeHtml(utcTime(outcome.lockedUntil))} after wrong PINs; a new PIN does not lift the lock.</p>`
        }`,
      );
    case 'used':
      return page(
        410,
        'This enrolment link was used already',
        `<p>A PIN was set with this link, or a newer enrolment link replaced it; it works once. If you did not set a PIN with it, tell your MES administrator and ask for a new link (<code>mes approvers enrol ${escapeHtml(outcome.approver.email)}</code>).</p>\n${NOTHING_CHANGED}`,
      );
    case 'link_expired':
      return page(410, 'This enrolment link has expired', `<p>Ask your MES administrator for a new one (<code>mes approvers enrol</code> with your email).</p>\n${NOTHING_CHANGED}`);
    case 'not_an_approver':
      return page(403, 'You are no longer an approver', `<p>${escapeHtml(outcome.email)} is not an approver of any plant any more, so no PIN is set for it.</p>\n${NOTHING_CHANGED}`);
    case 'not_valid':
      return page(400, 'This link is not valid', `<p>The link is incomplete or was changed after it was sent. Open it again from the email, making sure the whole link is used.</p>\n${NOTHING_CHANGED}`);
    default: {
      const _exhaustive: never = outcome;
      return _exhaustive;
    }
  }
}
