import { createLogger } from '@mes/platform';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DevelopmentMailbox } from './developmentMailbox.js';
import { isPermanentRecipientRefusal, smtpMailSender } from './mailSender.js';

const logger = createLogger({ service: 'test', level: 'silent' });

const mail = (subject: string) => ({
  from: 'mes@localhost',
  to: { email: 'alice@plant1.example', name: 'Alice Novak' },
  subject,
  text: 'plain part http://127.0.0.1:3000/approvals/AP_1/approve?token=abc',
  html: '<p>html <b>part</b></p>',
  messageId: `<${subject.replaceAll(' ', '_')}@mes>`,
});

describe('development mailbox', () => {
  let directory: string;
  let mailbox: DevelopmentMailbox | undefined;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mes-mailbox-'));
  });
  afterEach(async () => {
    await mailbox?.stop();
    await rm(directory, { recursive: true, force: true });
  });

  it('shows one copy of a message sent again with the same Message-ID (a resend after a crash)', async () => {
    mailbox = await DevelopmentMailbox.start({ directory, logger });
    const sender = smtpMailSender({ host: mailbox.host, port: mailbox.port });
    await sender.send(mail('resent message'));
    await sender.send(mail('resent message'));
    await sender.send(mail('another message'));
    sender.close();
    expect(mailbox.list().map((m) => m.subject)).toEqual(['another message', 'resent message']);
    expect((await readdir(directory)).filter((name) => name.endsWith('.eml'))).toHaveLength(2);

    // Also across a restart: the kept copy is known again.
    await mailbox.stop();
    mailbox = await DevelopmentMailbox.start({ directory, logger });
    const again = smtpMailSender({ host: mailbox.host, port: mailbox.port });
    await again.send(mail('resent message'));
    again.close();
    expect(mailbox.list()).toHaveLength(2);
  });

  it('keeps its messages readable by this user only: the folder 0700, each file 0600', async () => {
    mailbox = await DevelopmentMailbox.start({ directory, logger });
    const sender = smtpMailSender({ host: mailbox.host, port: mailbox.port });
    await sender.send(mail('private message'));
    sender.close();
    expect((await stat(directory)).mode & 0o777).toBe(0o700);
    const [file] = (await readdir(directory)).filter((name) => name.endsWith('.eml'));
    expect((await stat(join(directory, file!))).mode & 0o777).toBe(0o600);
  });

  it('accepts mail over SMTP on loopback and keeps it parsed, newest first, and as .eml files', async () => {
    mailbox = await DevelopmentMailbox.start({ directory, logger });
    expect(mailbox.host).toBe('127.0.0.1');
    const sender = smtpMailSender({ host: mailbox.host, port: mailbox.port });
    await sender.verify();
    const first = await sender.send(mail('first message'));
    await sender.send(mail('second message'));
    sender.close();

    expect(first.messageId).toBe('<first_message@mes>');
    const listed = mailbox.list();
    expect(listed.map((m) => m.subject)).toEqual(['second message', 'first message']);
    expect(listed[1]).toMatchObject({
      from: 'mes@localhost',
      to: 'Alice Novak <alice@plant1.example>',
      messageId: '<first_message@mes>',
      html: '<p>html <b>part</b></p>',
    });
    expect(listed[1]?.text).toContain('plain part');
    expect(mailbox.get(listed[0]!.id)?.subject).toBe('second message');
    const files = (await readdir(directory)).sort();
    expect(files).toEqual(listed.map((m) => `${m.id}.eml`).reverse());
    expect(await readFile(join(directory, files[0]!), 'utf8')).toContain('Subject: first message');
  });

  it('loads the kept messages again after a restart', async () => {
    mailbox = await DevelopmentMailbox.start({ directory, logger });
    const sender = smtpMailSender({ host: mailbox.host, port: mailbox.port });
    await sender.send(mail('kept across restarts'));
    sender.close();
    const before = mailbox.list();
    await mailbox.stop();

    mailbox = await DevelopmentMailbox.start({ directory, logger });
    expect(mailbox.list()).toEqual(before);
  });

  it('refuses a message over the size limit, keeping nothing', async () => {
    mailbox = await DevelopmentMailbox.start({ directory, logger, maxMessageBytes: 1024 });
    const sender = smtpMailSender({ host: mailbox.host, port: mailbox.port });
    const error = await sender.send({ ...mail('too big'), text: 'x'.repeat(10_000) }).catch((err: unknown) => err);
    sender.close();
    expect(error).toMatchObject({ responseCode: 552 });
    expect(isPermanentRecipientRefusal(error)).toBe(false);
    expect(mailbox.list()).toEqual([]);
    expect(await readdir(directory)).toEqual([]);
  });
});
