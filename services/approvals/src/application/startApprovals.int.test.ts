// The approvals service end to end on real components: an isolated nats-server, the JetStream
// event store, the development mailbox (a real SMTP server on loopback) and HTTP over sockets.
import { EVENTS_STREAM } from '@mes/contracts';
import { jetstreamManager } from '@nats-io/jetstream';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MailboxMessage } from '../adapters/mail/developmentMailbox.js';
import { signApprovalLink } from '../domain/approvalLinks.js';
import {
  APPROVAL_SECRET,
  OUTBOX_CONSUMERS,
  alice,
  bob,
  eventsOf,
  eventually,
  expireApproval,
  linksOfText,
  newOrderId,
  openOrder,
  postDecision,
  recordReading,
  requestApproval,
  send,
  startApprovalsFixture,
  tokenOf,
  type ApprovalsFixture,
  type EmailLinks,
} from '../testing/approvalsFixture.js';

let fixture: ApprovalsFixture;

beforeAll(async () => {
  // A limit no test here reaches; the rate limit has its own test with a low one.
  fixture = await startApprovalsFixture({ linkRateLimit: { max: 100_000, timeWindowMs: 60_000 } });
});
afterAll(async () => {
  await fixture?.dispose();
});

async function mailbox(): Promise<MailboxMessage[]> {
  const response = await fetch(`${fixture.baseUrl}/dev/mailbox.json`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { messages: MailboxMessage[] }).messages;
}

async function emailsFor(orderId: string): Promise<MailboxMessage[]> {
  return (await mailbox()).filter((m) => m.subject.includes(`${orderId} `));
}

async function emailFor(orderId: string, to = alice.email): Promise<MailboxMessage> {
  return eventually(`the approval email of ${orderId} to ${to}`, async () => (await emailsFor(orderId)).find((m) => m.to.includes(to)));
}

async function emailSentRecorded(orderId: string, approvalId: string): Promise<void> {
  await eventually(`ApprovalEmailSent for ${approvalId}`, async () =>
    (await eventsOf(fixture, orderId)).some((e) => e.type === 'ApprovalEmailSent' && (e.data as { approvalId: string }).approvalId === approvalId) ? true : undefined,
  );
}

/** An order awaiting approval by Alice, its email delivered and recorded. */
async function pendingApproval(options: { reason?: string; machineId?: string; withOrder?: boolean } = {}): Promise<{ orderId: string; approvalId: string; links: EmailLinks; email: MailboxMessage }> {
  const orderId = newOrderId();
  const machineId = options.machineId ?? 'M-1';
  if (options.withOrder ?? true) await openOrder(fixture, orderId, machineId, options.reason ?? 'Machine fault');
  await send(fixture, requestApproval({ orderId, machineId }));
  const email = await emailFor(orderId);
  const approvalId = `AP_${orderId}_0`;
  await emailSentRecorded(orderId, approvalId);
  return { orderId, approvalId, links: linksOfText(email.text ?? ''), email };
}

describe('a RequestApproval command', () => {
  it('emails the approver once, with both links in the HTML and the text part, and records ApprovalEmailSent', async () => {
    const orderId = newOrderId();
    await openOrder(fixture, orderId, 'M-7', 'Machine fault');
    const command = requestApproval({ orderId, machineId: 'M-7' });
    await send(fixture, command);

    const email = await emailFor(orderId);
    expect(email.subject).toBe(`Approval needed: maintenance order ${orderId} for machine M-7 (plant P1)`);
    expect(email.to).toBe('Alice Novak <alice@plant1.example>');
    expect(email.from).toBe('mes@localhost');
    const approvalId = `AP_${orderId}_0`;
    expect(email.messageId).toBe(`<${approvalId}@mes>`);
    const links = linksOfText(email.text ?? '');
    expect(links.approve.startsWith(`${fixture.baseUrl}/approvals/${approvalId}/approve?token=`)).toBe(true);
    expect(links.reject.startsWith(`${fixture.baseUrl}/approvals/${approvalId}/reject?token=`)).toBe(true);
    expect(email.html).toContain(`href="${links.approve}"`);
    expect(email.html).toContain(`href="${links.reject}"`);
    expect(email.text).toContain('Reason: Machine fault');
    expect(email.html).toContain('Machine fault');

    await emailSentRecorded(orderId, approvalId);
    const events = await eventsOf(fixture, orderId);
    expect(events.map((e) => e.type)).toEqual(['ApprovalRequested', 'ApprovalEmailSent']);
    const [requested, sent] = events;
    // The workflow's id travels on, so the saga can route the events back to its instance.
    expect(requested).toMatchObject({ correlationId: `wf-${orderId}`, causationId: command.commandId, actor: { kind: 'service', id: 'workflow' } });
    expect(sent).toMatchObject({
      correlationId: `wf-${orderId}`,
      causationId: requested?.eventId,
      data: { approvalId, to: alice.email, messageId: `<${approvalId}@mes>` },
    });
  });

  it('sends no second email for the same command again, or the same request under a new command id', async () => {
    const orderId = newOrderId();
    const command = requestApproval({ orderId });
    await send(fixture, command);
    await emailFor(orderId);
    await emailSentRecorded(orderId, `AP_${orderId}_0`);

    await send(fixture, command);
    await send(fixture, { ...command, commandId: `${command.commandId}-again` });
    await sleep(1_500);
    expect(await emailsFor(orderId)).toHaveLength(1);
    expect((await eventsOf(fixture, orderId)).map((e) => e.type)).toEqual(['ApprovalRequested', 'ApprovalEmailSent']);
  });

  it('emails without a reason when the order stream has none yet', async () => {
    const { email } = await pendingApproval({ withOrder: false });
    expect(email.text).toContain('Reason: not recorded');
  });
});

describe('opening a link (GET)', () => {
  it('shows the order, the machine\'s last reading, who the link is for and a form, and changes nothing', async () => {
    await recordReading(fixture, 'M-21', { machineStatus: 'Idle', productionActual: 99 });
    await recordReading(fixture, 'M-21', { machineStatus: 'Fault', productionActual: 61 });
    const { orderId, approvalId, links } = await pendingApproval({ machineId: 'M-21', reason: 'Machine fault <script>alert(1)</script>' });
    const before = await fixture.runtime.deps.eventStore.readStream(`P1.approval.${orderId}`);

    const response = await fetch(links.approve);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const page = await response.text();
    expect(page).toContain(`Approve maintenance order ${orderId}?`);
    for (const text of ['M-21', 'P1', 'PendingApproval', 'Alice Novak (alice@plant1.example)', 'Fault', 'Declining', '61 of target 120']) expect(page).toContain(text);
    expect(page).toContain('Machine fault &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).not.toContain('<script>');
    expect(page).toContain(`<input type="hidden" name="token" value="${tokenOf(links.approve)}">`);
    expect(page).toContain('<form method="post" action="approve">');
    expect(page).toContain('<textarea id="comment" name="comment"');
    expect(page).toMatch(/<button type="submit" class="approve">Approve<\/button>/);

    const reject = await fetch(links.reject);
    expect(reject.status).toBe(200);
    expect(await reject.text()).toMatch(/<button type="submit" class="reject">Reject<\/button>/);
    // HEAD, as some link checkers send, changes nothing either.
    expect((await fetch(links.approve, { method: 'HEAD' })).status).toBe(200);

    const after = await fixture.runtime.deps.eventStore.readStream(`P1.approval.${orderId}`);
    expect(after).toEqual(before);
    expect(approvalId).toBe(`AP_${orderId}_0`);
  });

  it('says when the machine has no reading recorded', async () => {
    const { links } = await pendingApproval({ machineId: 'M-never-read' });
    const page = await (await fetch(links.approve)).text();
    expect(page).toContain('no reading recorded');
  });
});

describe('submitting the form (POST)', () => {
  it('records the decision with the approver, time, decision, comment, client address and user agent', async () => {
    const { orderId, approvalId, links } = await pendingApproval();
    const before = Date.now();
    const response = await postDecision(links.approve, { token: tokenOf(links.approve), comment: '  Go ahead <b>now</b>  ' });
    expect(response.status).toBe(200);
    const page = await response.text();
    expect(page).toContain('Decision recorded: approved');
    expect(page).toContain('Go ahead &lt;b&gt;now&lt;/b&gt;');

    const events = await eventsOf(fixture, orderId);
    expect(events.map((e) => e.type)).toEqual(['ApprovalRequested', 'ApprovalEmailSent', 'ApprovalDecided']);
    const decided = events[2]!;
    expect(decided).toMatchObject({
      correlationId: `wf-${orderId}`,
      causationId: events[0]?.eventId,
      actor: { kind: 'person', id: alice.email, name: alice.name },
      data: {
        approvalId,
        orderId,
        decision: 'approved',
        approver: alice,
        comment: 'Go ahead <b>now</b>',
        clientAddress: '127.0.0.1',
        userAgent: 'approvals-test-agent/1.0',
      },
    });
    const decidedAt = Date.parse((decided.data as { decidedAt: string }).decidedAt);
    expect(decidedAt).toBeGreaterThanOrEqual(before - 1);
    expect(decidedAt).toBeLessThanOrEqual(Date.now());
  });

  it('shows the decision already recorded on a second submission, and changes nothing', async () => {
    const { orderId, links } = await pendingApproval();
    expect((await postDecision(links.reject, { token: tokenOf(links.reject) }, '')).status).toBe(200);
    const decided = await fixture.runtime.deps.eventStore.readStream(`P1.approval.${orderId}`);
    const data = decided.events.at(-1)?.data as { decision: string; comment?: string; userAgent: string; decidedAt: string };
    expect(data).toMatchObject({ decision: 'rejected', userAgent: '' });
    expect(data).not.toHaveProperty('comment');

    for (const [link, comment] of [[links.reject, 'again'], [links.approve, 'changed my mind']] as const) {
      const again = await postDecision(link, { token: tokenOf(link), comment });
      expect(again.status).toBe(409);
      const page = await again.text();
      expect(page).toContain('This approval was already decided');
      expect(page).toContain('rejected');
      expect(page).toContain('Alice Novak (alice@plant1.example)');
      expect(page).toContain(data.decidedAt);
      expect(page).toContain('Nothing was changed.');
    }
    const opened = await fetch(links.approve);
    expect(opened.status).toBe(409);
    expect(await fixture.runtime.deps.eventStore.readStream(`P1.approval.${orderId}`)).toEqual(decided);
  });

  it('refuses a comment longer than 2000 characters, recording nothing', async () => {
    const { orderId, links } = await pendingApproval();
    const before = await eventsOf(fixture, orderId);
    const response = await postDecision(links.approve, { token: tokenOf(links.approve), comment: 'x'.repeat(2001) });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('at most 2000 characters');
    expect(await eventsOf(fixture, orderId)).toEqual(before);
  });
});

describe('a link that is not good', () => {
  function withSignature(link: string, change: (signature: string) => string): string {
    const url = new URL(link);
    const [payload, signature = ''] = tokenOf(link).split('.');
    url.searchParams.set('token', `${payload}.${change(signature)}`);
    return url.toString();
  }

  it.each<[string, (links: EmailLinks, other: EmailLinks, orderId: string, approvalId: string) => string, number, string]>([
    ['a tampered signature', (links) => withSignature(links.approve, (s) => (s.startsWith('A') ? `B${s.slice(1)}` : `A${s.slice(1)}`)), 400, 'This link is not valid'],
    ['a truncated token', (links) => links.approve.slice(0, -5), 400, 'This link is not valid'],
    ['no token', (links) => links.approve.split('?')[0]!, 400, 'This link is not valid'],
    ['the approve token on the reject URL', (links) => `${links.reject.split('?')[0]!}?token=${tokenOf(links.approve)}`, 400, 'This link is not valid'],
    ['the token of another approval', (links, other) => `${links.approve.split('?')[0]!}?token=${tokenOf(other.approve)}`, 400, 'This link is not valid'],
    [
      'a token signed for someone other than the approver',
      (links, _other, orderId, approvalId) =>
        `${links.approve.split('?')[0]!}?token=${signApprovalLink({ approvalId, plantId: 'P1', orderId, approver: 'mallory@elsewhere.example', decision: 'approve', expiresAt: Date.now() + 60_000 }, APPROVAL_SECRET)}`,
      403,
      'This link is not for this approval',
    ],
    [
      'a token signed with another secret',
      (links, _other, orderId, approvalId) =>
        `${links.approve.split('?')[0]!}?token=${signApprovalLink({ approvalId, plantId: 'P1', orderId, approver: alice.email, decision: 'approve', expiresAt: Date.now() + 60_000 }, 'another-secret-of-at-least-32-characters')}`,
      400,
      'This link is not valid',
    ],
    [
      'a token whose time is up',
      (links, _other, orderId, approvalId) =>
        `${links.approve.split('?')[0]!}?token=${signApprovalLink({ approvalId, plantId: 'P1', orderId, approver: alice.email, decision: 'approve', expiresAt: Date.now() - 1 }, APPROVAL_SECRET)}`,
      410,
      'This link has expired',
    ],
  ])('is refused with a clear page and changes nothing: %s', async (_what, spoil, status, title) => {
    const { orderId, approvalId, links } = await pendingApproval();
    const other = await pendingApproval();
    const before = await fixture.runtime.deps.eventStore.readStream(`P1.approval.${orderId}`);
    const link = spoil(links, other.links, orderId, approvalId);

    const opened = await fetch(link);
    expect(opened.status).toBe(status);
    const page = await opened.text();
    expect(page).toContain(title);
    expect(page).toContain('Nothing was changed.');
    expect(page).not.toContain('<form');

    const token = new URL(link).searchParams.get('token') ?? '';
    const submitted = await postDecision(link, { token, comment: 'should not be recorded' });
    expect(submitted.status).toBe(status);
    expect(await submitted.text()).toContain(title);

    expect(await fixture.runtime.deps.eventStore.readStream(`P1.approval.${orderId}`)).toEqual(before);
  });

  it('answers 404 for a decision other than approve or reject', async () => {
    const { links } = await pendingApproval();
    const response = await fetch(links.approve.replace('/approve?', '/maybe?'));
    expect(response.status).toBe(404);
    expect(await response.text()).toContain('Approval links end in /approve or /reject');
  });
});

describe('escalation and expiry', () => {
  it('emails the next approver, supersedes the first request, and refuses its links with 410', async () => {
    const { orderId, approvalId, links } = await pendingApproval();
    await send(fixture, requestApproval({ orderId, approver: bob, level: 1, supersedesApprovalId: approvalId }));
    const bobsEmail = await emailFor(orderId, bob.email);
    expect(bobsEmail.text).toContain('escalated to you (level 1)');
    await emailSentRecorded(orderId, `AP_${orderId}_1`);
    const events = await eventsOf(fixture, orderId);
    expect(events.map((e) => e.type)).toEqual(['ApprovalRequested', 'ApprovalEmailSent', 'ApprovalEscalated', 'ApprovalRequested', 'ApprovalEmailSent']);
    expect(events.every((e) => e.correlationId === `wf-${orderId}`)).toBe(true);

    const before = await fixture.runtime.deps.eventStore.readStream(`P1.approval.${orderId}`);
    const opened = await fetch(links.approve);
    expect(opened.status).toBe(410);
    const page = await opened.text();
    expect(page).toContain('This approval request was passed on');
    expect(page).toContain('Bob Ito (bob@plant1.example)');
    const submitted = await postDecision(links.approve, { token: tokenOf(links.approve) });
    expect(submitted.status).toBe(410);
    expect(await fixture.runtime.deps.eventStore.readStream(`P1.approval.${orderId}`)).toEqual(before);

    const bobsLinks = linksOfText(bobsEmail.text ?? '');
    expect((await fetch(bobsLinks.approve)).status).toBe(200);
    // Alice's token on Bob's request's URL is a token of another link.
    expect((await fetch(`${bobsLinks.approve.split('?')[0]!}?token=${tokenOf(links.approve)}`)).status).toBe(400);
  });

  it('records ApprovalExpired on ExpireApproval, after which the links say the approval expired', async () => {
    const { orderId, approvalId, links } = await pendingApproval();
    await send(fixture, expireApproval(orderId, approvalId));
    const expired = await eventually('ApprovalExpired', async () => (await eventsOf(fixture, orderId)).find((e) => e.type === 'ApprovalExpired'));
    expect(expired).toMatchObject({ correlationId: `wf-${orderId}`, data: { approvalId, orderId } });

    const before = await fixture.runtime.deps.eventStore.readStream(`P1.approval.${orderId}`);
    const opened = await fetch(links.reject);
    expect(opened.status).toBe(410);
    expect(await opened.text()).toContain('This approval request has expired');
    expect((await postDecision(links.reject, { token: tokenOf(links.reject) })).status).toBe(410);
    expect(await fixture.runtime.deps.eventStore.readStream(`P1.approval.${orderId}`)).toEqual(before);
  });
});

describe('the development mailbox', () => {
  it('lists the messages over HTTP, shows each with its links, and keeps them as .eml files under DATA_DIR', async () => {
    const { orderId, email } = await pendingApproval();

    const list = await fetch(`${fixture.baseUrl}/dev/mailbox`);
    expect(list.status).toBe(200);
    const listPage = await list.text();
    expect(listPage).toContain(`Approval needed: maintenance order ${orderId} for machine M-1 (plant P1)`);
    expect(listPage).toContain('Alice Novak &lt;alice@plant1.example&gt;');
    expect(listPage).toContain(`href="mailbox/${email.id}"`);

    const shown = await fetch(`${fixture.baseUrl}/dev/mailbox/${email.id}`);
    expect(shown.status).toBe(200);
    const shownPage = await shown.text();
    expect(shownPage).toContain('<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" title="HTML part" srcdoc="&lt;base target=&quot;_blank&quot;&gt;');
    const links = linksOfText(email.text ?? '');
    expect(shownPage).toContain(`<a href="${links.approve}" target="_blank" rel="noopener noreferrer">`);
    expect(shownPage).toContain(`<a href="${links.reject}" target="_blank" rel="noopener noreferrer">`);
    expect((await fetch(`${fixture.baseUrl}/dev/mailbox/nope`)).status).toBe(404);

    const file = join(fixture.dataDir, 'mailbox', `${email.id}.eml`);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain(`Message-ID: <AP_${orderId}_0@mes>`);
    expect(readdirSync(join(fixture.dataDir, 'mailbox')).every((name) => name.endsWith('.eml'))).toBe(true);
  });

  it('is announced at start, and its SMTP server is a health check', async () => {
    expect(fixture.runtime.banner).toContain(`Development mailbox: ${fixture.baseUrl}/dev/mailbox`);
    const health = await fetch(`${fixture.baseUrl}/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', checks: { smtp: { ok: true } } });
  });
});

// Last: it replaces the running process.
describe('after a restart that reads the whole event log again', () => {
  it('sends no email twice, and the development mailbox still has every message', async () => {
    const { orderId } = await pendingApproval();
    const before = await mailbox();
    const emailsSent = before.length;
    expect(emailsSent).toBeGreaterThan(5);

    await fixture.restart({ replayEvents: true });
    const jsm = await jetstreamManager(fixture.runtime.deps.nc);
    await eventually('the outbox to have read the whole log', async () => {
      const info = await jsm.consumers.info(EVENTS_STREAM, OUTBOX_CONSUMERS[0]!);
      return info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq > 0 ? true : undefined;
    });
    await sleep(300);
    expect(await mailbox()).toEqual(before);
    expect((await eventsOf(fixture, orderId)).filter((e) => e.type === 'ApprovalEmailSent')).toHaveLength(1);

    // And the restarted service goes on working.
    const next = await pendingApproval();
    expect(next.email.subject).toContain(next.orderId);
  });
});
