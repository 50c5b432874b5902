// Sends the approval email of each new request, following the event log (an outbox over the
// approval streams). The email counts as sent once ApprovalEmailSent is recorded: a crash before
// sending sends on redelivery, and a redelivery after recording sends nothing.
import { parseStreamName, streamName } from '@mes/contracts';
import { handleCommand, inSpan, secondsBetween, stateFrom, type AggregateCache, type EventStore, type Logger, type MesMetrics, type RecordedDomainEvent } from '@mes/platform';
import { derivedEventId } from '@mes/platform/decider';
import { isPermanentRecipientRefusal, type MailSender } from '../adapters/mail/mailSender.js';
import { renderApprovalEmail } from '../adapters/mail/approvalEmail.js';
import { approvalLinkUrls } from '../domain/approvalLinks.js';
import { approvalRequestDecider, findApprovalRequest, type ApprovalState } from '../domain/approvalRequest.js';
import { orderSummaryOf } from '../domain/orderSummary.js';

export interface ApprovalEmailOutboxDeps {
  store: EventStore;
  mail: MailSender;
  now: () => Date;
  logger: Logger;
  mailFrom: string;
  publicUrl: string;
  approvalSecret: string;
  /** How long the links of an email work, from sending. */
  linkTtlMs: number;
  /** The approval processes this process decided last (shared with the command handler). */
  approvals?: AggregateCache<ApprovalState>;
  /** Where the time from the triggering reading to the first approver's email is observed. */
  metrics?: MesMetrics;
}

/**
 * The Message-ID of a request's email. A crash between the server accepting the message and the
 * append of ApprovalEmailSent sends it again on redelivery; the same Message-ID lets mail clients
 * show the two as one.
 */
export function approvalEmailMessageId(approvalId: string): string {
  return `<${approvalId}@mes>`;
}

function isApprovalStream(stream: string): boolean {
  try {
    return parseStreamName(stream).category === 'approval';
  } catch {
    return false;
  }
}

export function approvalEmailOutbox(deps: ApprovalEmailOutboxDeps): (event: RecordedDomainEvent) => Promise<void> {
  const { store, logger } = deps;
  return async (event) => {
    if (event.type !== 'ApprovalRequested' || !isApprovalStream(event.stream)) return;
    const requested = event.data;
    const { approvalId } = requested;
    // A state this process holds can only be older than the stream, never ahead of it: one that
    // knows the request is good enough to start from (recording the email checks the revision).
    const cachedRequest = findApprovalRequest(deps.approvals?.get(event.stream)?.state ?? null, approvalId);
    const request = cachedRequest ?? findApprovalRequest(stateFrom(approvalRequestDecider, (await store.readStream(event.stream)).events), approvalId);
    if (request === undefined) {
      // The log delivered this request, so its stream holds it: a read that does not show it came
      // from a node whose copy of the log is behind the one that delivered it (a NATS cluster under
      // load or mid-failover). Acknowledging now would lose the email; read again on redelivery.
      throw new Error(`the read of ${event.stream} does not show approval request ${approvalId} (event ${event.eventId}) yet: a replica behind; will read again`);
    }
    if (request.emailSentAt !== null) return;
    if (request.status !== 'Pending') {
      // Escalated, decided or expired before its email went out (the mail server was down for a
      // while): its links would only lead to a page saying so.
      logger.info({ approvalId, status: request.status }, 'approval request no longer pending; its email is not sent');
      return;
    }

    const order = orderSummaryOf((await store.readStream(streamName(requested.plantId, 'order', requested.orderId))).events);
    const sentAt = deps.now();
    // A decision after the decide-by time is refused anyway: the links stop working then, so the
    // email, the pages and the audit all state one deadline (unless the links' own lifetime is shorter).
    const linksExpireAt = Math.min(sentAt.getTime() + deps.linkTtlMs, Date.parse(request.decideBy));
    const links = approvalLinkUrls(
      deps.publicUrl,
      { approvalId, plantId: requested.plantId, orderId: requested.orderId, approver: request.approver.email, expiresAt: linksExpireAt },
      deps.approvalSecret,
    );
    const email = renderApprovalEmail({
      approvalId,
      orderId: requested.orderId,
      plantId: requested.plantId,
      machineId: requested.machineId,
      approver: request.approver,
      level: request.level,
      decideBy: request.decideBy,
      ...(order === undefined ? {} : { reason: order.reason, trigger: order.trigger }),
      approveUrl: links.approveUrl,
      rejectUrl: links.rejectUrl,
      linksExpireAt: new Date(linksExpireAt).toISOString(),
      signatureMethod: request.signatureMethod,
    });

    let messageId: string | undefined;
    try {
      ({ messageId } = await inSpan(
        'send approval email',
        { kind: 'client', attributes: () => ({ 'mes.approval_id': approvalId, 'mes.order_id': requested.orderId, 'mes.correlation_id': event.correlationId, 'mes.approval_level': request.level }) },
        () => deps.mail.send({ from: deps.mailFrom, to: request.approver, subject: email.subject, text: email.text, html: email.html, messageId: approvalEmailMessageId(approvalId) }),
      ));
    } catch (err) {
      if (!isPermanentRecipientRefusal(err)) throw err;
      // Retrying cannot help, and would hold up every later email of the plant; the workflow's
      // timeout escalates the request to the next approver.
      logger.error({ err, approvalId, orderId: requested.orderId }, 'the mail server refused the approver\'s address for good; approval email not sent');
      return;
    }
    await handleCommand(
      { store, now: deps.now, eventId: (index) => derivedEventId(`email-sent/${event.eventId}`, index) },
      approvalRequestDecider,
      event.stream,
      { type: 'RecordApprovalEmailSent', approvalId, to: request.approver.email, ...(messageId === undefined ? {} : { messageId }), issuedAt: sentAt.toISOString() },
      { correlationId: event.correlationId, causationId: event.eventId, actor: { kind: 'service', id: 'approvals' } },
      { ...(deps.approvals === undefined ? {} : { cache: deps.approvals }) },
    );
    logger.info({ approvalId, orderId: requested.orderId, level: request.level }, 'approval email sent');
    // The first approver's email ends the path from the fault; escalations wait by design.
    const faultToEmail = request.level === 0 && order !== undefined ? secondsBetween(order.trigger.timestamp, sentAt.toISOString()) : undefined;
    if (faultToEmail !== undefined) deps.metrics?.faultToEmailSeconds.observe({ plant: requested.plantId }, faultToEmail);
  };
}
