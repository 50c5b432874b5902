// Approval emails through SMTP_URL to a real SMTP server on loopback (smtp-server, parsed with
// mailparser): delivery, a mail server outage, a refused address; and the link options (expiry,
// rate limit) lowered so they can be shown.
import { freePort } from '@mes/platform/testing';
import { simpleParser, type ParsedMail } from 'mailparser';
import { setTimeout as sleep } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alice,
  eventsOf,
  eventually,
  linksOfText,
  newOrderId,
  requestApproval,
  send,
  startApprovalsFixture,
  tokenOf,
  type ApprovalsFixture,
} from '../testing/approvalsFixture.js';

const REFUSED = 'nobody@plant1.example';
const RATE_LIMIT = 5;
const LINK_TTL_MS = 1_500;

/** A mail server that refuses REFUSED for good and can be stopped and started on its port. */
class TestMailServer {
  readonly received: ParsedMail[] = [];
  private server: SMTPServer | undefined;

  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      logger: false,
      onRcptTo: (address, _session, callback) => {
        if (address.address === REFUSED) callback(Object.assign(new Error('no such mailbox'), { responseCode: 550 }));
        else callback();
      },
      onData: (stream, _session, callback) => {
        simpleParser(stream).then(
          (mail) => {
            this.received.push(mail);
            callback();
          },
          (err: Error) => callback(err),
        );
      },
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  for(orderId: string): ParsedMail[] {
    return this.received.filter((mail) => mail.subject?.includes(`${orderId} `));
  }
}

let mailServer: TestMailServer;
let fixture: ApprovalsFixture;

beforeAll(async () => {
  mailServer = new TestMailServer(await freePort());
  await mailServer.start();
  fixture = await startApprovalsFixture(
    { linkTtlMs: LINK_TTL_MS, linkRateLimit: { max: RATE_LIMIT, timeWindowMs: 60_000 } },
    // As behind a reverse proxy on this host, so each test can present its own client address.
    { SMTP_URL: `smtp://127.0.0.1:${mailServer.port}`, MAIL_FROM: 'maintenance@plant1.example', TRUST_PROXY: '127.0.0.1' },
  );
});
afterAll(async () => {
  await fixture?.dispose();
  await mailServer?.stop();
});

async function emailSentRecorded(orderId: string): Promise<void> {
  await eventually(`ApprovalEmailSent of ${orderId}`, async () => ((await eventsOf(fixture, orderId)).some((e) => e.type === 'ApprovalEmailSent') ? true : undefined));
}

describe('with SMTP_URL', () => {
  it('sends the approval email to that server, from MAIL_FROM, with both links in both parts', async () => {
    const orderId = newOrderId();
    await send(fixture, requestApproval({ orderId, machineId: 'M-3' }));
    const [mail] = await eventually('the email', async () => (mailServer.for(orderId).length > 0 ? mailServer.for(orderId) : undefined));
    await emailSentRecorded(orderId);

    expect(mail?.subject).toBe(`Approval needed: maintenance order ${orderId} for machine M-3 (plant P1)`);
    expect(mail?.from?.value).toEqual([{ address: 'maintenance@plant1.example', name: '' }]);
    expect(mail?.to).toMatchObject({ value: [{ address: alice.email, name: alice.name }] });
    expect(mail?.messageId).toBe(`<AP_${orderId}_0@mes>`);
    const links = linksOfText(mail?.text ?? '');
    expect(links.approve.startsWith(`${fixture.baseUrl}/approvals/AP_${orderId}_0/approve?token=`)).toBe(true);
    expect(mail?.html).toContain(`href="${links.approve}"`);
    expect(mail?.html).toContain(`href="${links.reject}"`);
  });

  it('has no development mailbox', async () => {
    expect((await fetch(`${fixture.baseUrl}/dev/mailbox`)).status).toBe(404);
    expect(fixture.runtime.banner.join('\n')).not.toContain('Development mailbox');
  });

  it('sends the email once the mail server is back after an outage, reporting it in /health meanwhile', async () => {
    await mailServer.stop();
    const orderId = newOrderId();
    try {
      await send(fixture, requestApproval({ orderId }));
      await sleep(1_000);
      expect((await eventsOf(fixture, orderId)).map((e) => e.type)).toEqual(['ApprovalRequested']);
      const health = await fetch(`${fixture.baseUrl}/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ checks: { smtp: { ok: false } } });
    } finally {
      await mailServer.start();
    }
    await emailSentRecorded(orderId);
    expect(mailServer.for(orderId)).toHaveLength(1);
    // The smtp check's answer is reused for a few seconds, so the recovery shows within them.
    await eventually('/health to pass again', async () => ((await fetch(`${fixture.baseUrl}/health`)).status === 200 ? true : undefined));
  });

  it('records nothing for an address the server refuses for good, and goes on with the next email', async () => {
    const refusedOrder = newOrderId();
    const nextOrder = newOrderId();
    await send(fixture, requestApproval({ orderId: refusedOrder, approver: { email: REFUSED, name: 'Nobody' } }));
    await send(fixture, requestApproval({ orderId: nextOrder }));
    await emailSentRecorded(nextOrder);
    expect(mailServer.for(refusedOrder)).toEqual([]);
    expect((await eventsOf(fixture, refusedOrder)).map((e) => e.type)).toEqual(['ApprovalRequested']);
  });
});

describe('link options', () => {
  it('refuses a link after its lifetime with 410, changing nothing', async () => {
    const orderId = newOrderId();
    await send(fixture, requestApproval({ orderId }));
    await emailSentRecorded(orderId);
    const text = mailServer.for(orderId)[0]?.text ?? '';
    const links = linksOfText(text);
    const until = Date.parse(/work until (\S+)\.$/m.exec(text)?.[1] ?? '');
    expect(until - Date.now()).toBeLessThanOrEqual(LINK_TTL_MS);
    await sleep(Math.max(0, until - Date.now()) + 50);

    const before = await eventsOf(fixture, orderId);
    const opened = await fetch(links.approve, { headers: { 'x-forwarded-for': '192.0.2.10' } });
    expect(opened.status).toBe(410);
    expect(await opened.text()).toContain('This link has expired');
    const submitted = await fetch(links.approve.split('?')[0]!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '192.0.2.10' },
      body: new URLSearchParams({ token: tokenOf(links.approve) }).toString(),
    });
    expect(submitted.status).toBe(410);
    expect(await eventsOf(fixture, orderId)).toEqual(before);
  });

  it('answers 429 with a page past the limit of failed attempts per client address, over GET and POST together', async () => {
    const orderId = newOrderId();
    await send(fixture, requestApproval({ orderId }));
    await emailSentRecorded(orderId);
    const links = linksOfText(mailServer.for(orderId)[0]?.text ?? '');
    const from = (address: string) => ({ 'x-forwarded-for': address });
    const post = (token: string, address: string) =>
      fetch(links.approve.split('?')[0]!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...from(address) },
        body: new URLSearchParams({ token }).toString(),
      });
    const tampered = `${tokenOf(links.approve).slice(0, -2)}xx`;

    for (let i = 0; i < RATE_LIMIT - 1; i++) expect((await fetch(`${links.approve.split('?')[0]!}?token=${tampered}`, { headers: from('192.0.2.20') })).status).toBe(400);
    expect((await post('not-a-token', '192.0.2.20')).status).toBe(400);

    const before = await eventsOf(fixture, orderId);
    const limited = await post('still-not-a-token', '192.0.2.20');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await limited.text()).toContain('Too many requests');
    expect(await eventsOf(fixture, orderId)).toEqual(before);
    // Another address has its own allowance.
    expect((await post('not-a-token', '192.0.2.21')).status).toBe(400);

    // The correctly signed link still works from the throttled address: valid links are never throttled.
    expect((await fetch(links.approve, { headers: from('192.0.2.20') })).status).toBe(200);
    const decided = await post(tokenOf(links.approve), '192.0.2.20');
    expect(decided.status).toBe(200);
    expect(await decided.text()).toContain('Decision recorded: approved');
  });

});

describe('valid links under the failed-attempt limit', () => {
  // Links that live long enough for every email of the burst to arrive.
  let burst: ApprovalsFixture;
  beforeAll(async () => {
    burst = await startApprovalsFixture(
      { linkRateLimit: { max: RATE_LIMIT, timeWindowMs: 60_000 } },
      { SMTP_URL: `smtp://127.0.0.1:${mailServer.port}`, TRUST_PROXY: '127.0.0.1' },
    );
  });
  afterAll(async () => {
    await burst?.dispose();
  });

  async function emailSentRecordedIn(orderId: string): Promise<void> {
    await eventually(`ApprovalEmailSent of ${orderId}`, async () => ((await eventsOf(burst, orderId)).some((e) => e.type === 'ApprovalEmailSent') ? true : undefined), 60_000);
  }

  it('never throttles valid links: many approvers behind one proxy decide in the same moment', async () => {
    // Eight times the failed-attempt limit, all from one address at once.
    const count = RATE_LIMIT * 8;
    const orderIds = Array.from({ length: count }, () => newOrderId());
    for (const orderId of orderIds) await send(burst, requestApproval({ orderId }));
    const approveLinks = await Promise.all(
      orderIds.map(async (orderId) => {
        await emailSentRecordedIn(orderId);
        return linksOfText(mailServer.for(orderId)[0]?.text ?? '').approve;
      }),
    );
    const responses = await Promise.all(
      approveLinks.map((link) =>
        fetch(link.split('?')[0]!, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '192.0.2.30' },
          body: new URLSearchParams({ token: tokenOf(link) }).toString(),
        }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(orderIds.map(() => 200));
    for (const orderId of orderIds) expect((await eventsOf(burst, orderId)).map((e) => e.type)).toContain('ApprovalDecided');
  });
});
