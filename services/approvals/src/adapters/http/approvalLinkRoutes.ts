// GET and POST /approvals/:approvalId/:decision, the targets of the links in approval emails.
// Failed attempts (tampered, foreign-signed, expired tokens) are rate-limited per client address;
// a correctly signed link never is, since a plant's approvers may all sit behind one proxy
// (CONTRACT §4). Logs name the approval, decision and outcome, never the token.
import rateLimit from '@fastify/rate-limit';
import { secondsBetween, type Logger, type MesMetrics } from '@mes/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApprovalLinkDecisions, ApprovalLinkOutcome } from '../../application/approvalLinkDecisions.js';
import { APPROVAL_LINK_DECISIONS, type ApprovalLinkDecision } from '../../domain/approvalLinks.js';
import { approvalLinkPage, notFoundPage, serverErrorPage, tooManyRequestsPage } from './approvalPages.js';
import { sendHtml } from './htmlReply.js';

export interface ApprovalLinkRoutesOptions {
  decisions: ApprovalLinkDecisions;
  /** Failed attempts per client address and window, over GET and POST of every link together. */
  rateLimit: { max: number; timeWindowMs: number };
  logger: Logger;
  /** Where the time from request to decision is observed, for each decision recorded here. */
  metrics?: MesMetrics;
}

interface LinkParams {
  approvalId: string;
  decision: string;
}

function formOf(request: FastifyRequest): Record<string, unknown> {
  return (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
}

function isDecision(value: string): value is ApprovalLinkDecision {
  return (APPROVAL_LINK_DECISIONS as readonly string[]).includes(value);
}

export async function registerApprovalLinkRoutes(http: FastifyInstance, options: ApprovalLinkRoutesOptions): Promise<void> {
  const { decisions, logger } = options;

  // An encapsulated scope: the rate limiter and the HTML error pages apply to these routes only.
  await http.register(async (scope) => {
    await scope.register(rateLimit, { global: false });
    const limit = scope.rateLimit({
      max: options.rateLimit.max,
      timeWindow: options.rateLimit.timeWindowMs,
      // Checking the signature costs one HMAC: cheaper than anything behind it.
      allowList: (request) => {
        const { approvalId = '', decision = '' } = (request.params ?? {}) as Partial<LinkParams>;
        const token = request.method === 'POST' ? formOf(request).token : (request.query as { token?: unknown } | undefined)?.token;
        return isDecision(decision) && decisions.carriesValidLink({ approvalId, decision, token });
      },
    });

    scope.setErrorHandler(async (error: Error & { statusCode?: number }, request: FastifyRequest, reply: FastifyReply) => {
      const { approvalId } = (request.params ?? {}) as Partial<LinkParams>;
      const status = error.statusCode ?? 500;
      if (status === 429) {
        logger.warn({ approvalId, method: request.method }, 'approval link rate limit reached');
        const retryAfter = Number(reply.getHeader('retry-after'));
        return sendHtml(reply, 429, tooManyRequestsPage(Number.isFinite(retryAfter) ? retryAfter : undefined).html);
      }
      if (status >= 400 && status < 500) {
        logger.info({ approvalId, method: request.method, status }, 'approval link request refused');
        return sendHtml(reply, status === 404 ? 404 : 400, approvalLinkPage({ kind: 'not_valid' }, '').html);
      }
      // No URL in the log: it holds the token.
      logger.error({ err: error, approvalId, method: request.method }, 'approval link request failed');
      return sendHtml(reply, 503, serverErrorPage(503).html);
    });

    const respond = (request: FastifyRequest<{ Params: LinkParams }>, reply: FastifyReply, outcome: ApprovalLinkOutcome, token: unknown) => {
      const { approvalId, decision } = request.params;
      logger.info({ approvalId, decision, method: request.method, outcome: outcome.kind }, 'approval link');
      if (outcome.kind === 'recorded') {
        const seconds = secondsBetween(outcome.request.requestedAt, outcome.decided.decidedAt);
        if (seconds !== undefined) options.metrics?.approvalDecisionSeconds.observe({ plant: outcome.request.order.plantId, decision: outcome.decided.decision }, seconds);
      }
      const page = approvalLinkPage(outcome, typeof token === 'string' ? token : '');
      return sendHtml(reply, page.status, page.html);
    };

    // preHandler: the form body (with the token of a POST) is parsed by then.
    scope.get<{ Params: LinkParams; Querystring: { token?: unknown } }>('/approvals/:approvalId/:decision', { preHandler: limit }, async (request, reply) => {
      const { approvalId, decision } = request.params;
      if (!isDecision(decision)) return sendHtml(reply, 404, notFoundPage().html);
      const token = request.query.token;
      return respond(request, reply, await decisions.open({ approvalId, decision, token }), token);
    });

    scope.post<{ Params: LinkParams; Body: unknown }>('/approvals/:approvalId/:decision', { preHandler: limit }, async (request, reply) => {
      const { approvalId, decision } = request.params;
      if (!isDecision(decision)) return sendHtml(reply, 404, notFoundPage().html);
      const form = formOf(request);
      const userAgent = request.headers['user-agent'];
      const outcome = await decisions.submit(
        { approvalId, decision, token: form.token },
        { comment: form.comment, clientAddress: request.ip, userAgent: typeof userAgent === 'string' ? userAgent : '' },
      );
      return respond(request, reply, outcome, form.token);
    });
  });
}
