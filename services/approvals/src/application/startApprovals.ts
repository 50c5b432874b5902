// The approvals service: handles the approval commands, emails each new request to its approver
// (through SMTP_URL, or the development mailbox when it is unset), serves the link pages, and
// enrols approvers of link+pin plants (the enrolment email on request, the page that sets a PIN).
import { plantSignatureMethod } from '@mes/contracts';
import { AggregateCache, isLoopbackAddress, startCommandHandlers, startEventConsumer, type RunningService, type ServiceDeps } from '@mes/platform';
import { join } from 'node:path';
import { registerApprovalLinkRoutes } from '../adapters/http/approvalLinkRoutes.js';
import { registerDevelopmentMailboxRoutes } from '../adapters/http/developmentMailboxRoutes.js';
import { registerEnrolmentRoutes } from '../adapters/http/enrolmentRoutes.js';
import { DevelopmentMailbox } from '../adapters/mail/developmentMailbox.js';
import { smtpMailSender, type MailSender } from '../adapters/mail/mailSender.js';
import { ApproverPinStore } from '../adapters/nats/approverPinStore.js';
import { serveEnrolmentRequests } from '../adapters/nats/enrolmentRequests.js';
import { lastMachineReadingFrom } from '../adapters/nats/lastMachineReading.js';
import { handleApprovalCommand } from './approvalCommands.js';
import { approvalEmailOutbox } from './approvalEmailOutbox.js';
import { ApprovalLinkDecisions } from './approvalLinkDecisions.js';
import { ApproverEnrolment, DEFAULT_ENROLMENT_LINK_TTL_MS } from './approverEnrolment.js';
import { ApproverSigning } from './approverSigning.js';
import type { ApprovalState } from '../domain/approvalRequest.js';

export interface ApprovalsOptions {
  /** How long the links of an email work, from sending. Default 24 hours (CONTRACT §4). */
  linkTtlMs?: number;
  /** Requests per client address on the link pages (GET and POST together). Default 30 per minute. */
  linkRateLimit?: { max: number; timeWindowMs: number };
  /** The clock of decisions, email times, link expiry and signing locks. Default: the system clock. */
  now?: () => Date;
  /** How long an enrolment link (`mes approvers enrol`) works, from sending. Default 24 hours. */
  enrolmentLinkTtlMs?: number;
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

    // The approvers' PINs (link+pin plants), shared by every copy through KV.
    const pins = await ApproverPinStore.open(deps.nc);
    const signing = new ApproverSigning({ pins, now });
    const linkRateLimit = options.linkRateLimit ?? DEFAULT_LINK_RATE_LIMIT;
    const enrolment = new ApproverEnrolment({
      pins,
      mail,
      plants: deps.plants,
      now,
      logger,
      mailFrom: config.mailFrom,
      publicUrl: config.publicUrl,
      approvalSecret: deps.secrets.approvalSecret,
      linkTtlMs: options.enrolmentLinkTtlMs ?? DEFAULT_ENROLMENT_LINK_TTL_MS,
    });
    await registerEnrolmentRoutes(deps.http, { enrolment, approvalSecret: deps.secrets.approvalSecret, now, rateLimit: linkRateLimit, logger });
    const enrolmentRequests = serveEnrolmentRequests(deps.nc, enrolment, logger);
    stops.push(() => enrolmentRequests.stop());

    // The approval processes this process decided last, shared by everything that decides on them.
    const approvals = new AggregateCache<ApprovalState>();
    const decisions = new ApprovalLinkDecisions({ store: deps.eventStore, approvals, now, approvalSecret: deps.secrets.approvalSecret, lastReading: lastMachineReadingFrom(deps.nc), signing, logger });
    await registerApprovalLinkRoutes(deps.http, { decisions, rateLimit: linkRateLimit, logger, metrics: deps.metrics });

    const signatureMethodOf = (plantId: string) => {
      const plant = deps.plants.plants[plantId];
      return plant === undefined ? 'link' : plantSignatureMethod(plant);
    };
    const commands = await startCommandHandlers({
      nc: deps.nc,
      service: 'approvals',
      plants,
      logger,
      handle: (command) => handleApprovalCommand({ store: deps.eventStore, approvals, now, logger, signatureMethodOf }, command),
    });
    stops.push(() => commands.stop());

    const outbox = await startEventConsumer({
      nc: deps.nc,
      name: 'approvals-mail',
      plants,
      // Only approval streams hold what the outbox sends (a consumer made before this filter is narrowed to it).
      category: 'approval',
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
