// Outgoing mail through nodemailer's SMTP transport: to SMTP_URL, or to the development mailbox.
import type { Person } from '@mes/contracts';
import { createTransport } from 'nodemailer';

export interface OutgoingMail {
  from: string;
  to: Person;
  subject: string;
  text: string;
  html: string;
  /** Message-ID header, angle brackets included. */
  messageId: string;
}

export interface MailSender {
  /** Resolves once the mail server accepted the message. */
  send(mail: OutgoingMail): Promise<{ messageId: string | undefined }>;
  /** Connects and greets the server: the `smtp` health check. */
  verify(): Promise<void>;
  close(): void;
}

/**
 * Bounds on each wait, so an unresponsive server fails a send (to be retried) instead of holding
 * it; kept well inside the 30 s a JetStream consumer waits for an ack before redelivering.
 */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 5_000, socketTimeout: 15_000 };

/**
 * A few SMTP connections kept open and reused: a new connection per mail (greeting, EHLO, TLS)
 * cost about 100 ms here, more than the rest of an incident's way from the reading to the email.
 */
const POOL = { pool: true, maxConnections: 4, maxMessages: 1000 } as const;

/** `target`: an smtp:// or smtps:// URL (credentials allowed), or a plain-text server on loopback. */
export function smtpMailSender(target: string | { host: string; port: number }): MailSender {
  const transport =
    typeof target === 'string'
      ? createTransport({ url: target, ...POOL, ...TIMEOUTS })
      : createTransport({ host: target.host, port: target.port, secure: false, ignoreTLS: true, ...POOL, ...TIMEOUTS });
  return {
    async send(mail) {
      const info = await transport.sendMail({
        from: mail.from,
        to: { name: mail.to.name, address: mail.to.email },
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
      });
      return { messageId: info.messageId };
    },
    async verify() {
      await transport.verify();
    },
    close() {
      transport.close();
    },
  };
}

/**
 * The server refused the recipient for good (a 5xx reply to RCPT TO): sending the same message
 * again cannot succeed, unlike a connection failure or a 4xx reply.
 */
export function isPermanentRecipientRefusal(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, permanent, command } = err as { code?: unknown; permanent?: unknown; command?: unknown };
  return code === 'EENVELOPE' && permanent === true && typeof command === 'string' && /^RCPT\b/i.test(command);
}
