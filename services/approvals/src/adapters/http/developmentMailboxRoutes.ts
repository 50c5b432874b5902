// GET /dev/mailbox (list), /dev/mailbox/:id (one message) and /dev/mailbox.json (for tests and
// scripts): what the development mailbox received. Registered only when SMTP_URL is unset.
import type { FastifyInstance } from 'fastify';
import type { DevelopmentMailbox } from '../mail/developmentMailbox.js';
import { MAILBOX_MESSAGE_CONTENT_SECURITY_POLICY, mailboxListPage, mailboxMessageNotFoundPage, mailboxMessagePage } from './developmentMailboxPages.js';
import { sendHtml } from './htmlReply.js';

export function registerDevelopmentMailboxRoutes(http: FastifyInstance, mailbox: DevelopmentMailbox): void {
  http.get('/dev/mailbox', async (_request, reply) => sendHtml(reply, 200, mailboxListPage(mailbox.list())));

  http.get('/dev/mailbox.json', async (_request, reply) => reply.header('cache-control', 'no-store').send({ messages: mailbox.list() }));

  http.get<{ Params: { id: string } }>('/dev/mailbox/:id', async (request, reply) => {
    const message = mailbox.get(request.params.id);
    if (message === undefined) return sendHtml(reply, 404, mailboxMessageNotFoundPage(request.params.id));
    return sendHtml(reply, 200, mailboxMessagePage(message), MAILBOX_MESSAGE_CONTENT_SECURITY_POLICY);
  });
}
