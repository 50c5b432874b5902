// The pages behind the approval links: a status code and a plain HTML page for every outcome. A
// decision's page shows its signature (21 CFR 11.50): printed name, email, date and time in UTC
// and what it means. A PIN typed into a form is never written back into a page.
import type { ApprovalLinkOutcome, ApprovalRequestView, LastReadingView, RecordedDecisionView } from '../../application/approvalLinkDecisions.js';
import { MAX_WRONG_PINS, PIN_MAX_DIGITS, SIGNING_LOCK_MS } from '../../domain/approverPins.js';
import { escapeHtml, htmlDocument, utcTime } from '../html/htmlDocument.js';

export interface HtmlPage {
  status: number;
  html: string;
}

export const NOTHING_CHANGED = '<p class="notice">Nothing was changed.</p>';

/** A page with `title` as its heading; `body` must already be escaped HTML. */
export function page(status: number, title: string, body: string): HtmlPage {
  return { status, html: htmlDocument(title, `<h1>${escapeHtml(title)}</h1>\n${body}`) };
}

function person(p: { name: string; email: string }): string {
  return `${escapeHtml(p.name)} (${escapeHtml(p.email)})`;
}

function facts(rows: [string, string][]): string {
  return `<dl>\n${rows.map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${value}</dd>`).join('\n')}\n</dl>`;
}

function orderFacts(request: ApprovalRequestView): string {
  const { order } = request;
  return `<h2>Maintenance order</h2>\n${facts([
    ['Order', escapeHtml(order.orderId)],
    ['Machine', escapeHtml(order.machineId)],
    ['Plant', escapeHtml(order.plantId)],
    ['Reason', order.reason === null ? '<span class="muted">not recorded</span>' : escapeHtml(order.reason)],
    ['Status', order.status === null ? '<span class="muted">not recorded</span>' : escapeHtml(order.status)],
    ...(order.openedAt === null ? [] : [['Opened', escapeHtml(order.openedAt)] as [string, string]]),
  ])}`;
}

function lastReadingFacts(machineId: string, lastReading: LastReadingView): string {
  const heading = `<h2>Last reading of machine ${escapeHtml(machineId)}</h2>`;
  if (lastReading.kind === 'none') return `${heading}\n<p class="muted">no reading recorded</p>`;
  if (lastReading.kind === 'unavailable') return `${heading}\n<p class="muted">cannot be read right now</p>`;
  const { reading } = lastReading;
  return `${heading}\n${facts([
    ['Status', escapeHtml(reading.machineStatus)],
    ['Quality trend', escapeHtml(reading.qualityTrend)],
    ['Output', escapeHtml(`${reading.productionActual} of target ${reading.productionTarget}`)],
    ['Time', escapeHtml(reading.timestamp)],
  ])}`;
}

const SIGNED_WITH = { link: 'the approval link', 'link+pin': 'the approval link and the approver\'s PIN (two components)' } as const;

function decisionFacts(decided: RecordedDecisionView): string {
  const { signature } = decided;
  const decision = facts([
    ['Decision', escapeHtml(decided.decision)],
    ...(decided.comment === null ? [] : [['Comment', escapeHtml(decided.comment)] as [string, string]]),
  ]);
  if (signature === null) return `${decision}\n${facts([['By', person(decided.approver)], ['At', escapeHtml(utcTime(decided.decidedAt))]])}`;
  return `${decision}
<h2>Signature</h2>
${facts([
  ['Signed by', escapeHtml(signature.printedName)],
  ['Email', escapeHtml(signature.email)],
  ['Date and time', escapeHtml(utcTime(signature.signedAt))],
  ['Meaning', escapeHtml(signature.meaning)],
  ['Signed with', escapeHtml(SIGNED_WITH[signature.method])],
])}`;
}

const VERB = { approve: 'Approve', reject: 'Reject' } as const;

/** The confirmation form; with link+pin it asks for the PIN. `comment` fills the comment field again after a refusal. */
function confirmForm(request: ApprovalRequestView, token: string, comment = ''): string {
  const verb = VERB[request.decision];
  const pin = request.signatureMethod === 'link+pin';
  return `<h2>Confirm</h2>
<p>Pressing ${verb} signs, as ${person(request.approver)}: <strong>${escapeHtml(request.meaning)}</strong>.${
    pin ? ' This plant signs with two components, this link and your PIN.' : ''
  }</p>
<form method="post" action="${escapeHtml(request.decision)}">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<p><label for="comment">Comment (optional)</label><br>
<textarea id="comment" name="comment" rows="4" maxlength="2000">${escapeHtml(comment)}</textarea></p>
${
  pin
    ? `<p><label for="pin">Your PIN</label><br><input type="password" id="pin" name="pin" inputmode="numeric" autocomplete="current-password" maxlength="${PIN_MAX_DIGITS}" required></p>\n`
    : ''
}<p><button type="submit" class="${escapeHtml(request.decision)}">${verb}</button></p>
</form>
<p class="muted">Nothing is recorded until you press ${verb}.</p>`;
}

function enrolHint(request: ApprovalRequestView): string {
  return `Ask your MES administrator to enrol you: they run <code>mes approvers enrol ${escapeHtml(request.approver.email)}</code>, and you receive an email with a link where you set your PIN. Then open this approval link again (decide by ${escapeHtml(utcTime(request.decideBy))}).`;
}

/** The page for an outcome; `token` goes into the confirmation form (only there). */
export function approvalLinkPage(outcome: ApprovalLinkOutcome, token: string): HtmlPage {
  switch (outcome.kind) {
    case 'confirm': {
      const { request } = outcome;
      const verb = VERB[request.decision];
      return page(
        200,
        `${verb} maintenance order ${request.order.orderId}?`,
        `<p>This link is for ${person(request.approver)}${request.level > 0 ? `, to whom the request was escalated (level ${escapeHtml(request.level)})` : ''}. Please decide by ${escapeHtml(request.decideBy)}.</p>
${orderFacts(request)}
${lastReadingFacts(request.order.machineId, outcome.lastReading)}
${confirmForm(request, token)}`,
      );
    }
    case 'pin_refused': {
      const { request } = outcome;
      const missing = outcome.reason === 'missing';
      const left =
        outcome.remaining === undefined
          ? ''
          : ` ${outcome.remaining} attempt${outcome.remaining === 1 ? '' : 's'} left before signing as ${escapeHtml(request.approver.email)} is locked for ${SIGNING_LOCK_MS / 60_000} minutes.`;
      return page(
        missing ? 400 : 403,
        missing ? 'Enter your PIN' : 'The PIN is not correct',
        `<p class="notice">${missing ? 'This plant signs with the link and your PIN; the PIN was empty.' : 'That is not your PIN.'} Nothing was recorded.${left}</p>
${orderFacts(request)}
${confirmForm(request, token, outcome.comment)}`,
      );
    }
    case 'pin_not_enrolled':
      return page(
        403,
        'Your PIN is not set up',
        `<p>Plant ${escapeHtml(outcome.request.order.plantId)} signs approvals with two components: the link emailed to you and a PIN only you know (21 CFR 11.200). No PIN is set up for ${escapeHtml(outcome.request.approver.email)} yet, so maintenance order ${escapeHtml(outcome.request.order.orderId)} cannot be decided with this link for now.</p>
<p>${enrolHint(outcome.request)}</p>
${NOTHING_CHANGED}`,
      );
    case 'signing_locked':
      return page(
        423,
        'Signing is locked',
        `<p>${outcome.lockedNow ? 'That is not your PIN either. ' : ''}After ${MAX_WRONG_PINS} wrong PINs in a row, signing as ${escapeHtml(outcome.request.approver.email)} is locked until ${escapeHtml(utcTime(outcome.until))}. Open this link again after that time${
          Date.parse(outcome.until) < Date.parse(outcome.request.decideBy) ? '' : ', if the request still waits for you'
        }. If you did not enter these PINs, tell your MES administrator.</p>
<p class="notice">Nothing was recorded.</p>`,
      );
    case 'recorded':
      return page(
        200,
        `Decision recorded: ${outcome.decided.decision}`,
        `<p>Maintenance order ${escapeHtml(outcome.request.order.orderId)} for machine ${escapeHtml(outcome.request.order.machineId)} was ${escapeHtml(outcome.decided.decision)}. Thank you; you can close this page.</p>
${decisionFacts(outcome.decided)}`,
      );
    case 'already_decided':
      return page(
        409,
        'This approval was already decided',
        `<p>The approval of maintenance order ${escapeHtml(outcome.request.order.orderId)} was already ${escapeHtml(outcome.decided.decision)}; that decision stands.</p>
${decisionFacts(outcome.decided)}
${NOTHING_CHANGED}`,
      );
    case 'superseded':
      return page(
        410,
        'This approval request was passed on',
        `<p>No decision was recorded in time, so the approval of maintenance order ${escapeHtml(outcome.request.order.orderId)} was escalated${
          outcome.currentApprover === null ? '' : ` to ${person(outcome.currentApprover)}`
        }. This link no longer works.</p>
${NOTHING_CHANGED}`,
      );
    case 'approval_expired':
      return page(
        410,
        'This approval request has expired',
        `<p>No decision on maintenance order ${escapeHtml(outcome.request.order.orderId)} was recorded in time, so its approval expired. It can no longer be approved or rejected.</p>
${NOTHING_CHANGED}`,
      );
    case 'too_late':
      return page(
        410,
        'The time to decide has passed',
        `<p>The approval of maintenance order ${escapeHtml(outcome.request.order.orderId)} had to be decided by ${escapeHtml(outcome.request.decideBy)}. The request is now passed on to the next approver, or expires if there is none.</p>
${NOTHING_CHANGED}`,
      );
    case 'not_needed':
      return page(
        410,
        'No decision is needed',
        `<p>Maintenance order ${escapeHtml(outcome.request.order.orderId)} for machine ${escapeHtml(outcome.request.order.machineId)} ${
          outcome.request.order.status === null || outcome.request.order.status === 'PendingApproval' ? 'no longer waits for approval' : `is ${escapeHtml(outcome.request.order.status)}`
        }, so this request was withdrawn. There is nothing to approve or reject.</p>
${NOTHING_CHANGED}`,
      );
    case 'comment_not_valid':
      return page(
        400,
        'The comment cannot be recorded',
        `<p>A comment is text of at most ${escapeHtml(outcome.maxLength)} characters. Go back, shorten it and submit again.</p>
<p class="notice">Nothing was recorded.</p>`,
      );
    case 'link_expired':
      return page(
        410,
        'This link has expired',
        `<p>Approval links work for a limited time after the email is sent. If the order still needs a decision, contact the maintenance team.</p>
${NOTHING_CHANGED}`,
      );
    case 'not_valid':
      return page(
        400,
        'This link is not valid',
        `<p>The link is incomplete, was changed after it was sent, or belongs to another request. Open it again from the email, making sure the whole link is used.</p>
${NOTHING_CHANGED}`,
      );
    case 'foreign':
      return page(
        403,
        'This link is not for this approval',
        `<p>The link was issued to someone other than the approver of request ${escapeHtml(outcome.approvalId)}. Only the approver named in the request can decide it.</p>
${NOTHING_CHANGED}`,
      );
    case 'not_found':
      return page(
        404,
        'Approval request not found',
        `<p>There is no approval request ${escapeHtml(outcome.approvalId)}.</p>
${NOTHING_CHANGED}`,
      );
    default: {
      const _exhaustive: never = outcome;
      return _exhaustive;
    }
  }
}

export function notFoundPage(): HtmlPage {
  return page(404, 'Page not found', '<p>Approval links end in /approve or /reject. Open the link again from the email.</p>');
}

export function tooManyRequestsPage(retryAfterSeconds: number | undefined): HtmlPage {
  const wait = retryAfterSeconds === undefined ? 'a minute' : `${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}`;
  return page(429, 'Too many requests', `<p>Too many requests came from your address. Wait ${escapeHtml(wait)} and try again.</p>\n${NOTHING_CHANGED}`);
}

export function serverErrorPage(status: number): HtmlPage {
  return page(
    status,
    'Something went wrong on our side',
    '<p>The request could not be completed. Open the link again in a minute: the page then shows whether a decision was recorded.</p>',
  );
}
