// Two-component signatures (`signature: link+pin`, CONTRACT §3, §4; 21 CFR 11.200) end to end on
// real components: an isolated nats-server (events in JetStream, PINs in KV), the development
// mailbox (a real SMTP server on loopback) and HTTP over sockets. Enrolment through the emailed
// link, decisions with the right and wrong PINs, the lock after five wrong PINs holding across a
// restart and across two copies, and the PIN found nowhere it must not be.
import { APPROVER_PINS_BUCKET, type Runtime } from '@mes/platform';
import { Kvm } from '@nats-io/kv';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MailboxMessage } from '../adapters/mail/developmentMailbox.js';
import { ENROLMENT_EMAIL_SUBJECT } from '../adapters/mail/enrolmentEmail.js';
import { approverPinKey } from '../adapters/nats/approverPinStore.js';
import { ApproverEnrolmentError, requestApproverEnrolment } from '../adapters/nats/enrolmentRequests.js';
import { SIGNING_LOCK_MS } from '../domain/approverPins.js';
import {
  alice,
  eventsOf,
  eventually,
  linksOfText,
  newOrderId,
  openOrder,
  requestApproval,
  send,
  startApprovalsFixture,
  tokenOf,
  type ApprovalsFixture,
  type EmailLinks,
} from '../testing/approvalsFixture.js';

const PLANTS_YAML = `plants:
  P1:
    signature: link+pin
    approvers:
      - { email: alice@plant1.example, name: Alice Novak }
      - { email: bob@plant1.example, name: Bob Ito }
      - { email: carol@plant1.example, name: Carol Diaz }
      - { email: dave@plant1.example, name: Dave Okafor }
      - { email: erin@plant1.example, name: Erin Lund }
    approvalTimeout: PT30M
    resources: []
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
  P2:
    approvers:
      - { email: alice@plant1.example, name: Alice Novak }
    approvalTimeout: PT30M
    resources: []
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
`;

const bob = { email: 'bob@plant1.example', name: 'Bob Ito' };
const carol = { email: 'carol@plant1.example', name: 'Carol Diaz' };
const dave = { email: 'dave@plant1.example', name: 'Dave Okafor' };
const erin = { email: 'erin@plant1.example', name: 'Erin Lund' };
/** Each approver's PIN, and wrong ones; none of them is a substring of another test value. */
const PINS: Record<string, string> = { [alice.email]: '480917', [carol.email]: '5529031', [dave.email]: '86420975', [erin.email]: '3141592' };
const WRONG_PINS = ['700135', '700136', '700137', '700138', '700139', '700140'];

let fixture: ApprovalsFixture;
let configDir: string;
/** Added to the system clock of the service: lets a test move past the 15 minutes of a lock. */
let clockOffsetMs = 0;
/** Every page the service answered in this file, to search for PINs. */
const pages: string[] = [];

async function collect(response: Response): Promise<{ status: number; page: string }> {
  const page = await response.text();
  pages.push(page);
  return { status: response.status, page };
}

async function get(link: string, base = fixture.baseUrl): Promise<{ status: number; page: string }> {
  const url = new URL(link);
  return collect(await fetch(`${base}${url.pathname}${url.search}`));
}

async function post(link: string, form: Record<string, string>, base = fixture.baseUrl): Promise<{ status: number; page: string }> {
  const url = new URL(link);
  return collect(
    await fetch(`${base}${url.pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'signature-test/1.0' },
      body: new URLSearchParams(form).toString(),
    }),
  );
}

/** Each copy without SMTP_URL has a development mailbox of its own; any copy may send an email. */
const otherMailboxes: string[] = [];

async function mailbox(): Promise<MailboxMessage[]> {
  const boxes = await Promise.all(
    [fixture.baseUrl, ...otherMailboxes].map(async (base) => ((await (await fetch(`${base}/dev/mailbox.json`)).json()) as { messages: MailboxMessage[] }).messages),
  );
  return boxes.flat();
}

/** `mes approvers enrol <email>` as the CLI asks for it, and the link of the email that arrives. */
async function enrolmentLink(email: string): Promise<string> {
  const before = new Set((await mailbox()).map((message) => message.id));
  await requestApproverEnrolment(fixture.runtime.deps.nc, email);
  const message = await eventually(`the enrolment email to ${email}`, async () =>
    (await mailbox()).find((m) => !before.has(m.id) && m.subject === ENROLMENT_EMAIL_SUBJECT && m.to.includes(email)),
  );
  const link = /^Set your PIN: (\S+)$/m.exec(message.text ?? '')?.[1];
  if (link === undefined) throw new Error(`no link in the enrolment email:\n${message.text ?? ''}`);
  return link;
}

async function enrol(email: string): Promise<void> {
  const link = await enrolmentLink(email);
  const pin = PINS[email]!;
  expect((await post(link, { token: tokenOf(link), pin, pinAgain: pin })).status).toBe(200);
}

async function pinRecord(email: string): Promise<Record<string, unknown> | undefined> {
  const entry = await (await new Kvm(fixture.runtime.deps.nc).open(APPROVER_PINS_BUCKET)).get(approverPinKey(email));
  return entry === null || entry.operation !== 'PUT' ? undefined : entry.json<Record<string, unknown>>();
}

/** An order of P1 awaiting `approver`'s decision, its email delivered. */
async function pendingApproval(approver = alice, plantId = 'P1'): Promise<{ orderId: string; links: EmailLinks }> {
  const orderId = newOrderId();
  if (plantId === 'P1') await openOrder(fixture, orderId, 'M-1', 'Machine fault');
  await send(fixture, requestApproval({ orderId, approver, plantId }));
  const email = await eventually(`the approval email of ${orderId}`, async () => (await mailbox()).find((m) => m.subject.includes(`${orderId} `)));
  await eventually(`ApprovalEmailSent of ${orderId}`, async () =>
    (await fixture.runtime.deps.eventStore.readStream(`${plantId}.approval.${orderId}`)).events.some((e) => e.type === 'ApprovalEmailSent') ? true : undefined,
  );
  return { orderId, links: linksOfText(email.text ?? '') };
}

const types = async (orderId: string) => (await eventsOf(fixture, orderId)).map((event) => event.type);

beforeAll(async () => {
  configDir = await mkdtemp(join(tmpdir(), 'mes-signatures-'));
  await writeFile(join(configDir, 'plants.yaml'), PLANTS_YAML);
  fixture = await startApprovalsFixture(
    { linkRateLimit: { max: 100_000, timeWindowMs: 60_000 }, now: () => new Date(Date.now() + clockOffsetMs) },
    { MES_CONFIG: join(configDir, 'plants.yaml') },
    { captureLogs: true },
  );
});
afterAll(async () => {
  await fixture?.dispose();
  await rm(configDir, { recursive: true, force: true });
});

describe('enrolling an approver (mes approvers enrol)', () => {
  it('emails a one-time link where the approver sets a PIN, kept only as a scrypt hash', async () => {
    const sent = await requestApproverEnrolment(fixture.runtime.deps.nc, 'Alice@Plant1.example');
    expect(sent).toMatchObject({ approver: alice, plants: ['P1', 'P2'], signingPlants: ['P1'] });
    expect(Date.parse(sent.expiresAt) - Date.now()).toBeGreaterThan(23 * 60 * 60 * 1000);
    const message = await eventually('the enrolment email', async () => (await mailbox()).find((m) => m.subject === ENROLMENT_EMAIL_SUBJECT && m.to.includes(alice.email)));
    expect(message.to).toBe('Alice Novak <alice@plant1.example>');
    expect(message.text).toContain('The approval pages of plant P1 ask for it.');
    const link = /^Set your PIN: (\S+)$/m.exec(message.text ?? '')?.[1] ?? '';
    expect(link.startsWith(`${fixture.baseUrl}/approvals/enrol?token=`)).toBe(true);
    expect(message.html).toContain(`href="${link.replaceAll('&', '&amp;')}"`);

    // Opening the link changes nothing: a mail scanner cannot use it up.
    const opened = await get(link);
    expect(opened.status).toBe(200);
    expect(opened.page).toContain('<h1>Set your PIN</h1>');
    expect(opened.page).toContain('name="pin"');
    expect(await pinRecord(alice.email)).toMatchObject({ pin: null, enrolment: { expiresAt: sent.expiresAt } });

    const differ = await post(link, { token: tokenOf(link), pin: PINS[alice.email]!, pinAgain: '480918' });
    expect(differ.status).toBe(400);
    expect(differ.page).toContain('The two PINs differ. Nothing was saved.');
    const run = await post(link, { token: tokenOf(link), pin: '345678', pinAgain: '345678' });
    expect(run.page).toContain('A PIN must not be a run of consecutive digits.');
    expect(await pinRecord(alice.email)).toMatchObject({ pin: null });

    const set = await post(link, { token: tokenOf(link), pin: PINS[alice.email]!, pinAgain: PINS[alice.email]! });
    expect(set.status).toBe(200);
    expect(set.page).toContain('<h1>Your PIN is set</h1>');
    const record = await pinRecord(alice.email);
    expect(record).toMatchObject({ email: alice.email, enrolment: null, wrongPins: 0, lockedUntil: null, pin: { algorithm: 'scrypt', N: 32768, r: 8, p: 1 } });
    expect(JSON.stringify(record)).not.toContain(PINS[alice.email]);

    // It works once.
    const again = await post(link, { token: tokenOf(link), pin: '864213', pinAgain: '864213' });
    expect(again.status).toBe(410);
    expect(again.page).toContain('This enrolment link was used already');
    expect((await get(link)).status).toBe(410);
    expect((await pinRecord(alice.email))?.pin).toEqual(record?.pin);
  });

  it('refuses a link that was tampered with, and someone who is not an approver', async () => {
    const link = await enrolmentLink(carol.email);
    const token = tokenOf(link);
    const tampered = await post(link, { token: `${token.slice(0, -2)}AA`, pin: '246810', pinAgain: '246810' });
    expect(tampered.status).toBe(400);
    expect(tampered.page).toContain('This link is not valid');
    expect((await pinRecord(carol.email))?.pin).toBeNull();

    await expect(requestApproverEnrolment(fixture.runtime.deps.nc, 'mallory@elsewhere.example')).rejects.toThrow(ApproverEnrolmentError);
    await expect(requestApproverEnrolment(fixture.runtime.deps.nc, 'mallory@elsewhere.example')).rejects.toThrow(/mallory@elsewhere\.example is not an approver of any plant/);
    await expect(requestApproverEnrolment(fixture.runtime.deps.nc, 'not an email')).rejects.toThrow(/is not an email address/);
  });

  it('replaces an unused link with a newer one', async () => {
    const older = await enrolmentLink(dave.email);
    await enrol(dave.email);
    const replaced = await post(older, { token: tokenOf(older), pin: '246810', pinAgain: '246810' });
    expect(replaced.status).toBe(410);
    expect(replaced.page).toContain('This enrolment link was used already');
  });
});

describe('deciding where the plant signs with link and PIN', () => {
  it('tells an approver without a PIN how to get one, and decides nothing', async () => {
    const { orderId, links } = await pendingApproval(bob);
    const opened = await get(links.approve);
    expect(opened.status).toBe(403);
    expect(opened.page).toContain('No PIN is set up for bob@plant1.example yet');
    expect(opened.page).toContain('<code>mes approvers enrol bob@plant1.example</code>');
    const submitted = await post(links.approve, { token: tokenOf(links.approve), pin: '246810' });
    expect(submitted.status).toBe(403);
    expect(submitted.page).toContain('Your PIN is not set up');
    expect(await types(orderId)).toEqual(['ApprovalRequested', 'ApprovalEmailSent']);
  });

  it('asks for the PIN, and records a decision signed with the right one, with both components', async () => {
    const { orderId, links } = await pendingApproval(alice);
    const requested = (await eventsOf(fixture, orderId))[0];
    expect(requested).toMatchObject({ type: 'ApprovalRequested', version: 3, data: { signatureMethod: 'link+pin' } });
    const opened = await get(links.reject);
    expect(opened.status).toBe(200);
    expect(opened.page).toContain('name="pin"');
    expect(opened.page).toContain(`<strong>Rejected maintenance order ${orderId} for machine M-1</strong>`);

    const empty = await post(links.reject, { token: tokenOf(links.reject), comment: 'not now' });
    expect(empty.status).toBe(400);
    expect(empty.page).toContain('<h1>Enter your PIN</h1>');
    expect(await types(orderId)).toEqual(['ApprovalRequested', 'ApprovalEmailSent']);

    const signed = await post(links.reject, { token: tokenOf(links.reject), comment: 'not now', pin: PINS[alice.email]! });
    expect(signed.status).toBe(200);
    expect(signed.page).toContain('Decision recorded: rejected');
    expect(signed.page).toContain('<dt>Signed with</dt><dd>the approval link and the approver&#39;s PIN (two components)</dd>');
    expect(signed.page).toContain(`<dt>Meaning</dt><dd>Rejected maintenance order ${orderId} for machine M-1</dd>`);
    const decided = (await eventsOf(fixture, orderId)).at(-1);
    expect(decided).toMatchObject({
      type: 'ApprovalDecided',
      version: 2,
      actor: { kind: 'person', id: alice.email },
      data: { decision: 'rejected', comment: 'not now', signature: { printedName: 'Alice Novak', email: alice.email, meaning: `Rejected maintenance order ${orderId} for machine M-1`, method: 'link+pin' } },
    });
  });

  it('records a wrong PIN as a failure and changes nothing else; the right PIN then decides', async () => {
    const { orderId, links } = await pendingApproval(alice);
    const wrong = await post(links.approve, { token: tokenOf(links.approve), comment: 'go', pin: WRONG_PINS[0]! });
    expect(wrong.status).toBe(403);
    expect(wrong.page).toContain('That is not your PIN. Nothing was recorded. 4 attempts left before signing as alice@plant1.example is locked for 15 minutes.');
    const events = await eventsOf(fixture, orderId);
    expect(events.map((e) => e.type)).toEqual(['ApprovalRequested', 'ApprovalEmailSent', 'ApprovalSignatureFailed']);
    expect(events[2]).toMatchObject({
      correlationId: `wf-${orderId}`,
      actor: { kind: 'service', id: 'approvals' },
      data: { approver: alice, decision: 'approved', reason: 'wrong_pin', consecutiveWrongPins: 1, clientAddress: '127.0.0.1', userAgent: 'signature-test/1.0' },
    });
    expect((await get(links.approve)).status).toBe(200);

    const signed = await post(links.approve, { token: tokenOf(links.approve), pin: PINS[alice.email]! });
    expect(signed.status).toBe(200);
    expect(await types(orderId)).toEqual(['ApprovalRequested', 'ApprovalEmailSent', 'ApprovalSignatureFailed', 'ApprovalDecided']);
    expect(await pinRecord(alice.email)).toMatchObject({ wrongPins: 0, lockedUntil: null });
  });

  it('a plant that signs with the link alone asks for no PIN', async () => {
    const { orderId, links } = await pendingApproval(alice, 'P2');
    expect((await get(links.approve)).page).not.toContain('name="pin"');
    expect((await post(links.approve, { token: tokenOf(links.approve) })).status).toBe(200);
    const decided = (await fixture.runtime.deps.eventStore.readStream(`P2.approval.${orderId}`)).events.at(-1);
    expect(decided).toMatchObject({ type: 'ApprovalDecided', data: { signature: { method: 'link', meaning: `Approved maintenance order ${orderId} for machine M-1` } } });
  });
});

describe('five wrong PINs in a row', () => {
  it('lock the approver\'s signing for 15 minutes across approvals, and the lock holds across a restart', async () => {
    await enrol(carol.email);
    const first = await pendingApproval(carol);
    const second = await pendingApproval(carol);
    for (const pin of WRONG_PINS.slice(0, 3)) expect((await post(first.links.approve, { token: tokenOf(first.links.approve), pin })).status).toBe(403);
    expect((await post(second.links.reject, { token: tokenOf(second.links.reject), pin: WRONG_PINS[3]! })).page).toContain('1 attempt left');
    const fifth = await post(second.links.reject, { token: tokenOf(second.links.reject), pin: WRONG_PINS[4]! });
    expect(fifth.status).toBe(423);
    expect(fifth.page).toContain('That is not your PIN either. After 5 wrong PINs in a row, signing as carol@plant1.example is locked until');

    const events = await eventsOf(fixture, second.orderId);
    expect(events.map((e) => e.type)).toEqual(['ApprovalRequested', 'ApprovalEmailSent', 'ApprovalSignatureFailed', 'ApprovalSignatureFailed', 'ApproverSigningLocked']);
    const locked = events[4]!.data as { lockedAt: string; lockedUntil: string; wrongPins: number; approver: unknown };
    expect(locked).toMatchObject({ approver: carol, wrongPins: 5 });
    expect(Date.parse(locked.lockedUntil) - Date.parse(locked.lockedAt)).toBe(SIGNING_LOCK_MS);
    expect(events[3]?.data).toMatchObject({ consecutiveWrongPins: 5, decision: 'rejected' });
    expect((await eventsOf(fixture, first.orderId)).filter((e) => e.type === 'ApprovalSignatureFailed').map((e) => (e.data as { consecutiveWrongPins: number }).consecutiveWrongPins)).toEqual([1, 2, 3]);

    // The right PIN is refused while locked, without comparing it or recording anything.
    const refused = await post(first.links.approve, { token: tokenOf(first.links.approve), pin: PINS[carol.email]! });
    expect(refused.status).toBe(423);
    expect(refused.page).toContain('Nothing was recorded.');
    expect(await types(first.orderId)).toEqual(['ApprovalRequested', 'ApprovalEmailSent', 'ApprovalSignatureFailed', 'ApprovalSignatureFailed', 'ApprovalSignatureFailed']);

    await fixture.restart();
    const reopened = await get(first.links.approve);
    expect(reopened.status).toBe(423);
    expect(reopened.page).toContain(`locked until ${locked.lockedUntil.slice(0, 19).replace('T', ' ')} UTC`);
    expect((await post(first.links.approve, { token: tokenOf(first.links.approve), pin: PINS[carol.email]! })).status).toBe(423);
    expect(await types(first.orderId)).not.toContain('ApprovalDecided');

    // After the 15 minutes the right PIN signs again.
    clockOffsetMs = SIGNING_LOCK_MS + 1_000;
    try {
      const signed = await post(first.links.approve, { token: tokenOf(first.links.approve), pin: PINS[carol.email]! });
      expect(signed.status).toBe(200);
      expect((await types(first.orderId)).at(-1)).toBe('ApprovalDecided');
    } finally {
      clockOffsetMs = 0;
    }
  });

  it('are counted together across two copies of the service, and both refuse while locked', async () => {
    await enrol(erin.email);
    const copy = await fixture.startCopy();
    otherMailboxes.push(copy.baseUrl);
    try {
      const { orderId, links } = await pendingApproval(erin);
      const token = tokenOf(links.approve);
      const copies: [string, string][] = [
        [fixture.baseUrl, WRONG_PINS[0]!],
        [copy.baseUrl, WRONG_PINS[1]!],
        [fixture.baseUrl, WRONG_PINS[2]!],
        [copy.baseUrl, WRONG_PINS[3]!],
      ];
      for (const [base, pin] of copies) expect((await post(links.approve, { token, pin }, base)).status).toBe(403);
      // Two at once on both copies: the count is a compare-and-set in KV, so both are counted.
      // Two at once, one on each copy: the count is a compare-and-set in KV, so exactly one of them
      // is the fifth and locks; the other finds the lock (before comparing, or as it counts).
      const [a, b] = await Promise.all([post(links.approve, { token, pin: WRONG_PINS[4]! }, copy.baseUrl), post(links.approve, { token, pin: WRONG_PINS[5]! }, fixture.baseUrl)]);
      expect([a.status, b.status]).toEqual([423, 423]);
      const events = await eventsOf(fixture, orderId);
      const failures = events.filter((e) => e.type === 'ApprovalSignatureFailed').map((e) => (e.data as { consecutiveWrongPins: number }).consecutiveWrongPins);
      // One counted after the lock (if it was compared before it) starts the next count.
      expect([[1, 2, 3, 4, 5], [1, 1, 2, 3, 4, 5]]).toContainEqual([...failures].sort((x, y) => x - y));
      expect(events.filter((e) => e.type === 'ApproverSigningLocked')).toHaveLength(1);

      for (const base of [fixture.baseUrl, copy.baseUrl]) {
        expect((await get(links.approve, base)).status).toBe(423);
        expect((await post(links.approve, { token, pin: PINS[erin.email]! }, base)).status).toBe(423);
      }
      expect(await types(orderId)).not.toContain('ApprovalDecided');
    } finally {
      otherMailboxes.length = 0;
      await copy.stop();
    }
  });
});

describe('the PIN', () => {
  it('appears in no event, log line, page, email or PIN record', async () => {
    const secrets = [...Object.values(PINS), ...WRONG_PINS];
    const runtime: Runtime = fixture.runtime;
    const events: string[] = [];
    for await (const event of runtime.deps.eventStore.readAll()) events.push(JSON.stringify(event, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)));
    expect(events.some((event) => event.includes('ApprovalSignatureFailed'))).toBe(true);
    const records = await Promise.all([alice, carol, dave, erin].map(async (approver) => JSON.stringify(await pinRecord(approver.email))));
    const mails = (await mailbox()).map((message) => `${message.subject}\n${message.text ?? ''}\n${message.html ?? ''}`);
    expect(fixture.logLines.some((line) => line.includes('decision refused: wrong PIN'))).toBe(true);
    expect(pages.length).toBeGreaterThan(20);

    for (const [where, texts] of [['events', events], ['log lines', fixture.logLines], ['pages', pages], ['emails', mails], ['PIN records', records]] as const) {
      for (const pin of secrets) expect(texts.filter((text) => text.includes(pin)), `${where} holding ${pin}`).toEqual([]);
    }
  });
});
