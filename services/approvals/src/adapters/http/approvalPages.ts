// The pages behind the approval links: a status code and a plain HTML page for every outcome.
import type { ApprovalLinkOutcome, ApprovalRequestView, LastReadingView, RecordedDecisionView } from '../../application/approvalLinkDecisions.js';
import { escapeHtml, htmlDocument } from '../html/htmlDocument.js';

export interface HtmlPage {
  status: number;
  html: string;
}

const NOTHING_CHANGED = '<p class="notice">Nothing was changed.</p>';

function page(status: number, title: string, body: string): HtmlPage {
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

function decisionFacts(decided: RecordedDecisionView): string {
  return facts([
    ['Decision', escapeHtml(decided.decision)],
    ['By', person(decided.approver)],
    ['At', escapeHtml(decided.decidedAt)],
    ...(decided.comment === null ? [] : [['Comment', escapeHtml(decided.comment)] as [string, string]]),
  ]);
}

const VERB = { approve: 'Approve', reject: 'Reject' } as const;

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
<h2>Confirm</h2>
<form method="post" action="${escapeHtml(request.decision)}">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<p><label for="comment">Comment (optional)</label><br>
<textarea id="comment" name="comment" rows="4" maxlength="2000"></textarea></p>
<p><button type="submit" class="${escapeHtml(request.decision)}">${verb}</button></p>
</form>
<p class="muted">Nothing is recorded until you press ${verb}.</p>`,
      );
    }
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
