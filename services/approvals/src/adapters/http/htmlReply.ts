// Sends one of this service's HTML pages: never cached (they show the state of a decision), and
// under the pages' own Content-Security-Policy.
import type { FastifyReply } from 'fastify';
import { PAGE_CONTENT_SECURITY_POLICY } from '../html/htmlDocument.js';

export function sendHtml(reply: FastifyReply, status: number, html: string, contentSecurityPolicy = PAGE_CONTENT_SECURITY_POLICY): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', contentSecurityPolicy)
    .send(html);
}
