// The development mailbox used when SMTP_URL is unset: an SMTP server on loopback (no auth, no TLS)
// that keeps every message it accepts, newest first, in memory and as an .eml file under
// DATA_DIR/mailbox, so the messages survive a restart. A development tool, not a mail server.
import type { Logger } from '@mes/platform';
import { simpleParser, type AddressObject } from 'mailparser';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

export interface MailboxMessage {
  /** Also the file name, without `.eml`; sorts by arrival. */
  id: string;
  receivedAt: string;
  from: string;
  to: string;
  subject: string;
  messageId: string | null;
  text: string | null;
  html: string | null;
}

export interface DevelopmentMailboxOptions {
  /** Where the .eml files are kept (DATA_DIR/mailbox). */
  directory: string;
  logger: Logger;
  /** Messages kept in memory (the newest); older ones stay on disk. Default 500. */
  keep?: number;
  /** Largest message accepted, in bytes. Default 10 MiB. */
  maxMessageBytes?: number;
}

const MESSAGE_ID_PATTERN = /^(\d{8}T\d{9}Z)-[0-9a-f]{8}$/;

function newMessageId(at: Date): string {
  const stamp = at.toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

function receivedAtOf(id: string): string {
  const stamp = MESSAGE_ID_PATTERN.exec(id)?.[1] ?? '';
  const iso = stamp.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/, '$1-$2-$3T$4:$5:$6.$7Z');
  return Number.isNaN(Date.parse(iso)) ? new Date(0).toISOString() : iso;
}

function addressText(addresses: AddressObject | AddressObject[] | undefined): string {
  if (addresses === undefined) return '';
  return (Array.isArray(addresses) ? addresses : [addresses])
    .flatMap((header) => header.value)
    .map((a) => (a.name ? `${a.name} <${a.address ?? ''}>` : (a.address ?? '')))
    .join(', ');
}

async function parseMessage(id: string, raw: Buffer): Promise<MailboxMessage> {
  const mail = await simpleParser(raw);
  return {
    id,
    receivedAt: receivedAtOf(id),
    from: addressText(mail.from),
    to: addressText(mail.to),
    subject: mail.subject ?? '',
    messageId: mail.messageId ?? null,
    text: mail.text ?? null,
    html: typeof mail.html === 'string' ? mail.html : null,
  };
}

export class DevelopmentMailbox {
  private messages: MailboxMessage[] = [];
  /** Message-IDs kept or being kept, so a resend is recognised even while the first copy is written. */
  private readonly messageIds = new Set<string>();
  private server: SMTPServer | undefined;
  readonly host = '127.0.0.1';
  private boundPort = 0;

  private constructor(
    private readonly directory: string,
    private readonly keep: number,
    private readonly logger: Logger,
  ) {}

  /** Loads the messages kept under `directory`, then listens on 127.0.0.1 on a free port. */
  static async start(options: DevelopmentMailboxOptions): Promise<DevelopmentMailbox> {
    const mailbox = new DevelopmentMailbox(options.directory, options.keep ?? 500, options.logger);
    await mailbox.load();
    await mailbox.listen(options.maxMessageBytes ?? 10 * 1024 * 1024);
    return mailbox;
  }

  get port(): number {
    return this.boundPort;
  }

  private async load(): Promise<void> {
    // Approval links are in these messages: readable by this user only.
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    await chmod(this.directory, 0o700);
    const kept = (await readdir(this.directory))
      .filter((name) => name.endsWith('.eml') && MESSAGE_ID_PATTERN.test(name.slice(0, -4)))
      .sort()
      .slice(-this.keep);
    const loaded: MailboxMessage[] = [];
    for (const name of kept) {
      const file = join(this.directory, name);
      try {
        loaded.push(await parseMessage(name.slice(0, -4), await readFile(file)));
      } catch (err) {
        this.logger.warn({ err, file }, 'development mailbox: a kept message could not be read; skipped');
      }
    }
    this.messages = loaded.reverse();
    for (const message of this.messages) if (message.messageId !== null) this.messageIds.add(message.messageId);
  }

  private async listen(maxMessageBytes: number): Promise<void> {
    const server = new SMTPServer({
      secure: false,
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      banner: 'MES development mailbox',
      size: maxMessageBytes,
      logger: false,
      onData: (stream, _session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', (err: Error) => callback(err));
        stream.on('end', () => {
          if (stream.sizeExceeded) {
            callback(Object.assign(new Error('message too large for the development mailbox'), { responseCode: 552 }));
            return;
          }
          this.store(Buffer.concat(chunks)).then(
            () => callback(),
            (err: unknown) => {
              this.logger.error({ err }, 'development mailbox: could not keep a message');
              callback(Object.assign(new Error('the development mailbox could not keep the message'), { responseCode: 451 }));
            },
          );
        });
      },
    });
    server.on('error', (err) => this.logger.warn({ err }, 'development mailbox: SMTP connection error'));
    this.boundPort = await new Promise<number>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(0, this.host, () => {
        server.server.off('error', reject);
        const address = server.server.address();
        if (address === null || typeof address === 'string') reject(new Error('development mailbox: no TCP address after listen'));
        else resolve(address.port);
      });
    });
    this.server = server;
  }

  /** Writes the message to disk before it is acknowledged to the sender, then keeps it in memory. */
  private async store(raw: Buffer): Promise<void> {
    const id = newMessageId(new Date());
    let message: MailboxMessage;
    try {
      message = await parseMessage(id, raw);
    } catch {
      message = { id, receivedAt: receivedAtOf(id), from: '', to: '', subject: '(message could not be parsed)', messageId: null, text: raw.toString('utf8'), html: null };
    }
    // A resend (after a crash or a redelivery) carries the Message-ID of the first send: like a
    // mail client, the mailbox shows one copy.
    if (message.messageId !== null) {
      if (this.messageIds.has(message.messageId)) return;
      this.messageIds.add(message.messageId);
    }
    const file = join(this.directory, `${id}.eml`);
    // Written under a temporary name first, so a crash never leaves half a message behind.
    await writeFile(`${file}.partial`, raw, { mode: 0o600 });
    await rename(`${file}.partial`, file);
    this.messages = [message, ...this.messages].slice(0, this.keep);
  }

  /** Newest first. */
  list(): readonly MailboxMessage[] {
    return this.messages;
  }

  get(id: string): MailboxMessage | undefined {
    return this.messages.find((message) => message.id === id);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
