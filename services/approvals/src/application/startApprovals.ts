// The approvals service: handles the approval commands, emails each new request to its approver
// (through SMTP_URL, or the development mailbox when it is unset), and serves the link pages.
import { AggregateCache, isLoopbackAddress, startCommandHandlers, startEventConsumer, type RunningService, type ServiceDeps } from '@mes/platform';
import { join } from 'node:path';
import { registerApprovalLinkRoutes } from '../adapters/http/approvalLinkRoutes.js';
import { registerDevelopmentMailboxRoutes } from '../adapters/http/developmentMailboxRoutes.js';
import { DevelopmentMailbox } from '../adapters/mail/developmentMailbox.js';
import { smtpMailSender, type MailSender } from '../adapters/mail/mailSender.js';
import { lastMachineReadingFrom } from '../adapters/nats/lastMachineReading.js';
import { handleApprovalCommand } from './approvalCommands.js';
import { approvalEmailOutbox } from './approvalEmailOutbox.js';
import { ApprovalLinkDecisions } from './approvalLinkDecisions.js';
import type { ApprovalState } from '../domain/approvalRequest.js';

export interface ApprovalsOptions {
  /** How long the links of an email work, from sending. Default 24 hours (CONTRACT §4). */
  linkTtlMs?: number;
  /** Requests per client address on the link pages (GET and POST together). Default 30 per minute. */
  linkRateLimit?: { max: number; timeWindowMs: number };
  /** The clock of decisions, email times and link expiry. Default: the system clock. */
  now?: () => Date;
}

export const DEFAULT_LINK_TTL_MS = 24 * 60 * 60 * 1000;
const SMTP_HEALTH_CACHE_MS = 3_000;
export const DEFAULT_LINK_RATE_LIMIT = { max: 30, timeWindowMs: 60_000 };

/** Starts the approvals service on shared dependencies; `npm start` runs every service in one process this way. */
export async function start(deps: ServiceDeps, options: ApprovalsOptions = {}): Promise<RunningService> {
  const { config, logger } = deps;
  const now = options.now ?? (() => new Date());
  const plants = deps.servedPlants;
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch((err: unknown) => logger.error({ err }, 'approvals: a part did not stop cleanly'));
  };

  try {
    let mail: MailSender;
    if (config.smtpUrl === undefined) {
      // The configuration refuses production without SMTP_URL; this is the last line of defence.
      if (config.mesEnv === 'production') throw new Error('MES_ENV=production needs SMTP_URL: the development mailbox is never served in production');
      const mailbox = await DevelopmentMailbox.start({ directory: join(config.dataDir, 'mailbox'), logger });
      stops.push(() => mailbox.stop());
      mail = smtpMailSender({ host: mailbox.host, port: mailbox.port });
      // Every approval link is in the mailbox: it answers clients on this machine only.
      await deps.http.register(async (scope) => {
        scope.addHook('onRequest', async (request, reply) => {
          if (isLoopbackAddress(request.socket.remoteAddress) && isLoopbackAddress(request.ip)) return;
          logger.warn({ client: request.ip }, 'development mailbox refused to a client on another machine');
          return reply.code(403).type('text/plain; charset=utf-8').send('The development mailbox answers on this machine only (http://127.0.0.1/dev/mailbox). Set SMTP_URL to send approval emails to a real mail server.');
        });
        registerDevelopmentMailboxRoutes(scope, mailbox);
      });
      deps.announce('Development mailbox: {httpUrl}/dev/mailbox');
      logger.info({ smtp: `${mailbox.host}:${mailbox.port}`, messages: mailbox.list().length }, 'approval emails go to the development mailbox (SMTP_URL unset)');
    } else {
      mail = smtpMailSender(config.smtpUrl);
    }
    stops.push(async () => mail.close());
    // A greeting (and login) at the mail server per check: reuse the answer for a few seconds.
    deps.health.register('smtp', () => mail.verify(), { cacheMs: SMTP_HEALTH_CACHE_MS });

    // The approval processes this process decided last, shared by everything that decides on them.
    const approvals = new AggregateCache<ApprovalState>();
    const decisions = new ApprovalLinkDecisions({ store: deps.eventStore, approvals, now, approvalSecret: deps.secrets.approvalSecret, lastReading: lastMachineReadingFrom(deps.nc), logger });
    await registerApprovalLinkRoutes(deps.http, { decisions, rateLimit: options.linkRateLimit ?? DEFAULT_LINK_RATE_LIMIT, logger, metrics: deps.metrics });

    const commands = await startCommandHandlers({
      nc: deps.nc,
      service: 'approvals',
      plants,
      logger,
      handle: (command) => handleApprovalCommand({ store: deps.eventStore, approvals, now, logger }, command),
    });
    stops.push(() => commands.stop());

    const outbox = await startEventConsumer({
      nc: deps.nc,
      name: 'approvals-mail',
      plants,
      logger,
      handle: approvalEmailOutbox({
        store: deps.eventStore,
        approvals,
        mail,
        now,
        logger,
        mailFrom: config.mailFrom,
        publicUrl: config.publicUrl,
        approvalSecret: deps.secrets.approvalSecret,
        linkTtlMs: options.linkTtlMs ?? DEFAULT_LINK_TTL_MS,
        metrics: deps.metrics,
      }),
    });
    stops.push(() => outbox.stop());
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}
