// `mes approvers enrol <email>` reaches the approvals service by NATS request and reply: any running
// copy answers (one queue group), sends the enrolment email through its own mail path (SMTP_URL or
// the development mailbox) and replies with what it sent, or why not. Nothing is queued: with no
// copy running the command says so at once instead of sending the link some time later.
import type { Person } from '@mes/contracts';
import type { Logger } from '@mes/platform';
import { RequestError, TimeoutError, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { EnrolmentRefusedError, type ApproverEnrolment, type EnrolmentSent } from '../../application/approverEnrolment.js';

/** Outside every JetStream stream's subjects, so a request is never stored. */
export const APPROVER_ENROLMENT_SUBJECT = 'mes.approvers.enrol';
const QUEUE = 'approvals';

type EnrolmentReply = ({ ok: true } & EnrolmentSent) | { ok: false; code: string; message: string };

export function serveEnrolmentRequests(nc: NatsConnection, enrolment: ApproverEnrolment, logger: Logger): { stop(): Promise<void> } {
  const respond = async (msg: Msg) => {
    let reply: EnrolmentReply;
    try {
      const { email } = (msg.json<{ email?: unknown }>() ?? {}) as { email?: unknown };
      reply = { ok: true, ...(await enrolment.send(typeof email === 'string' ? email : '')) };
    } catch (err) {
      if (err instanceof EnrolmentRefusedError) reply = { ok: false, code: err.code, message: err.message };
      else {
        logger.error({ err }, 'approver enrolment failed');
        reply = { ok: false, code: 'ENROLMENT_FAILED', message: `the enrolment link could not be sent: ${(err as Error).message}` };
      }
    }
    msg.respond(JSON.stringify(reply));
  };
  const subscription = nc.subscribe(APPROVER_ENROLMENT_SUBJECT, {
    queue: QUEUE,
    callback: (err, msg) => {
      if (err !== null) logger.warn({ err }, 'approver enrolment subscription error');
      else void respond(msg);
    },
  });
  return { stop: () => subscription.drain() };
}

export class ApproverEnrolmentError extends Error {
  override readonly name = 'ApproverEnrolmentError';
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** Asks a running approvals service to email `email` an enrolment link; throws ApproverEnrolmentError saying why not. */
export async function requestApproverEnrolment(nc: NatsConnection, email: string, timeoutMs = 30_000): Promise<EnrolmentSent & { approver: Person }> {
  let reply: EnrolmentReply;
  try {
    reply = (await nc.request(APPROVER_ENROLMENT_SUBJECT, JSON.stringify({ email }), { timeout: timeoutMs })).json<EnrolmentReply>();
  } catch (err) {
    if (err instanceof RequestError && err.isNoResponders()) {
      throw new ApproverEnrolmentError('NO_APPROVALS_SERVICE', 'no approvals service is running on this NATS server to send the enrolment email; start one (npm start, or node services/approvals/dist/main.js) and try again');
    }
    if (err instanceof TimeoutError || (err instanceof RequestError && err.cause instanceof TimeoutError)) {
      throw new ApproverEnrolmentError('NO_ANSWER', `the approvals service did not answer within ${Math.round(timeoutMs / 1000)} s; the mail server may be slow or down (see its log), try again`);
    }
    throw err;
  }
  if (!reply.ok) throw new ApproverEnrolmentError(reply.code, reply.message);
  const { ok: _ok, ...sent } = reply;
  return sent;
}
