// GET and POST /approvals/enrol, the target of the link `mes approvers enrol` emails. Like the
// approval links, failed attempts (tampered or expired tokens) are rate-limited per client address
// and a correctly signed link never is. Logs name the outcome, never the token or the PIN.
import rateLimit from '@fastify/rate-limit';
import type { Logger } from '@mes/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApproverEnrolment, EnrolmentOutcome } from '../../application/approverEnrolment.js';
import { verifyEnrolmentLink } from '../../domain/enrolmentLinks.js';
import { enrolmentPage } from './enrolmentPages.js';
import { serverErrorPage, tooManyRequestsPage } from './approvalPages.js';
import { sendHtml } from './htmlReply.js';

export interface EnrolmentRoutesOptions {
  enrolment: ApproverEnrolment;
  approvalSecret: string;
  now: () => Date;
  rateLimit: { max: number; timeWindowMs: number };
  logger: Logger;
}

function formOf(request: FastifyRequest): Record<string, unknown> {
  return (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
}

export async function registerEnrolmentRoutes(http: FastifyInstance, options: EnrolmentRoutesOptions): Promise<void> {
  const { enrolment, logger } = options;
  await http.register(async (scope) => {
    await scope.register(rateLimit, { global: false });
    const limit = scope.rateLimit({
      max: options.rateLimit.max,
      timeWindow: options.rateLimit.timeWindowMs,
      allowList: (request) => {
        const token = request.method === 'POST' ? formOf(request).token : (request.query as { token?: unknown } | undefined)?.token;
        return verifyEnrolmentLink(token, options.approvalSecret, options.now().getTime()).ok;
      },
    });

    scope.setErrorHandler(async (error: Error & { statusCode?: number }, request: FastifyRequest, reply: FastifyReply) => {
      const status = error.statusCode ?? 500;
      if (status === 429) {
        logger.warn({ method: request.method }, 'enrolment link rate limit reached');
        const retryAfter = Number(reply.getHeader('retry-after'));
        return sendHtml(reply, 429, tooManyRequestsPage(Number.isFinite(retryAfter) ? retryAfter : undefined).html);
      }
      if (status >= 400 && status < 500) {
        logger.info({ method: request.method, status }, 'enrolment link request refused');
        return sendHtml(reply, 400, enrolmentPage({ kind: 'not_valid' }, '').html);
      }
      // Neither the URL (it holds the token) nor the body (it holds the PIN) goes into the log.
      logger.error({ err: error, method: request.method }, 'enrolment link request failed');
      return sendHtml(reply, 503, serverErrorPage(503).html);
    });

    const respond = (request: FastifyRequest, reply: FastifyReply, outcome: EnrolmentOutcome, token: unknown) => {
      logger.info({ method: request.method, outcome: outcome.kind }, 'enrolment link');
      const page = enrolmentPage(outcome, typeof token === 'string' ? token : '');
      return sendHtml(reply, page.status, page.html);
    };

    // The path of ENROLMENT_LINK_PATH, written out: deploy/'s route table is checked against the literal paths registered here.
    scope.get<{ Querystring: { token?: unknown } }>('/approvals/enrol', { preHandler: limit }, async (request, reply) => {
      const { token } = request.query;
      return respond(request, reply, await enrolment.open(token), token);
    });

    scope.post<{ Body: unknown }>('/approvals/enrol', { preHandler: limit }, async (request, reply) => {
      const form = formOf(request);
      return respond(request, reply, await enrolment.setPin(form.token, form.pin, form.pinAgain), form.token);
    });
  });
}
