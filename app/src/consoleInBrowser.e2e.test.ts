// The web console as a person uses it, in headless Chromium against the whole system: signed out
// it shows only the sign-in and nothing leaks; signed in, a fault published over MQTT appears on
// the machines view without a reload, the order leads to its timeline (who, what changed, why),
// signature and verified hash chain, its history exports with the session, an order is
// cancelled with a reason, and the views hold up on a phone, by keyboard, under the strict CSP,
// in the viewer's time zone. With UPDATE_SCREENSHOTS=1 it also writes docs/screenshots/*.png.
import { start as approvals } from '@mes/approvals';
import { SESSION_COOKIE, startConsole } from '@mes/console';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { startRuntime, type Runtime } from '@mes/platform';
import { approvalEmail, eventually, freePort, mailsTo, orderEvents, publishReading, startFlowFixture, submitDecision, type FlowFixture } from '@mes/platform/testing';
import { start as projections } from '@mes/projections';
import { start as resources } from '@mes/resources';
import { start as workflow } from '@mes/workflow';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOW_PLANTS_YAML } from './testing/flowFixture.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? fileURLToPath(new URL('../../docs/screenshots/', import.meta.url)) : undefined;

let fixture: FlowFixture;
let runtime: Runtime;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const policyViolations: string[] = [];
/** Resources the pages could not load (a missing asset or icon). */
const failedLoads: string[] = [];
/** Requests the pages made to anywhere but this server: none, so the console works offline. */
const foreignRequests: string[] = [];
const token = () => fixture.env.API_TOKEN!;

async function screenshot(name: string, target: Page = page): Promise<void> {
  if (SCREENSHOTS === undefined) return;
  await mkdir(SCREENSHOTS, { recursive: true });
  await target.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: false });
}

async function newPage(options: { viewport?: { width: number; height: number }; timezoneId?: string } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const created = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 }, timezoneId: options.timezoneId ?? 'Europe/Berlin', locale: 'en-GB' });
  const opened = await created.newPage();
  opened.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) policyViolations.push(message.text());
  });
  opened.on('response', (response) => {
    if (response.status() >= 400 && !response.url().includes('/console/sign-in') && !response.url().includes('/api/')) failedLoads.push(`${response.status()} ${response.url()}`);
  });
  opened.on('request', (request) => {
    if (!request.url().startsWith(`${runtime.httpUrl}/`) && !request.url().startsWith('data:')) foreignRequests.push(request.url());
  });
  return { context: created, page: opened };
}

async function signIn(target: Page): Promise<void> {
  await target.goto(runtime.httpUrl);
  await target.fill('input[name="token"]', token());
  await Promise.all([target.waitForURL(`${runtime.httpUrl}/`), target.press('input[name="token"]', 'Enter')]);
  await target.waitForSelector('.live.on');
}

/** Does the document scroll sideways? */
async function overflowsSideways(target: Page): Promise<boolean> {
  return target.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth + 1');
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: the browser tests need Chromium (apt-get install -y chromium), or set CHROMIUM_PATH`);
  fixture = await startFlowFixture({ plantsYaml: FLOW_PLANTS_YAML });
  const port = await freePort();
  runtime = await startRuntime('console', { console: startConsole, projections, resources, maintenance, approvals, workflow, ingest }, { ...fixture.env, HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  ({ context, page } = await newPage());
  // Something that must not leak to a visitor who is signed out: a machine with a quarter hour of readings.
  const start = Date.now() - 15 * 60_000;
  for (let minute = 0; minute < 15; minute++) {
    const productionActual = 70 + ((minute * 7) % 30);
    await publishReading(fixture.mosquitto.url, 'P1', 'M-PRESS-7', { machineStatus: 'Running', productionActual, timestamp: new Date(start + minute * 60_000).toISOString(), messageId: `history-${minute}` });
  }
  await eventually('the machine\'s readings in the reporting tables', async () => {
    const response = await fetch(`${runtime.httpUrl}/api/machines`, { headers: { authorization: `Bearer ${token()}` } });
    const body = (await response.json()) as { machines: { machineId: string; recentReadings: unknown[] }[] };
    return body.machines.some((m) => m.machineId === 'M-PRESS-7' && m.recentReadings.length === 15) ? true : undefined;
  });
});
afterAll(async () => {
  await context?.close();
  await browser?.close();
  await runtime?.stop();
  await fixture?.dispose();
});

describe('the web console, signed out', () => {
  it('shows only the sign-in, and no data under any of its routes', async () => {
    const response = await page.goto(runtime.httpUrl);
    expect(response?.status()).toBe(200);
    const policy = response?.headers()['content-security-policy'] ?? '';
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("style-src 'self'");
    expect(policy).not.toContain('unsafe-inline');
    expect(await page.locator('form[action="/console/sign-in"] input[type="password"][name="token"]').count()).toBe(1);
    const html = await page.content();
    expect(html).not.toContain('M-PRESS-7');
    expect(html).not.toContain('<script');
    await screenshot('sign-in');
    for (const path of ['/api/machines', '/api/orders', '/api/approvals/waiting', '/api/resources', '/api/stream', '/api/console/session', '/api/dead-letters', '/api/projections/status']) {
      const answer = await fetch(`${runtime.httpUrl}${path}`);
      expect(answer.status, path).toBe(401);
      expect(await answer.text(), path).not.toContain('M-PRESS-7');
    }
    // A cookie that looks like a session but is not signed by us is nobody's.
    const forged = await fetch(`${runtime.httpUrl}/api/machines`, { headers: { cookie: `${SESSION_COOKIE}=${Buffer.from('{"v":1,"n":"api","e":9999999999999}').toString('base64url')}.AAAA` } });
    expect(forged.status).toBe(401);
  });

  it('refuses a wrong token with a clear message and sets no cookie', async () => {
    await page.goto(runtime.httpUrl);
    await page.fill('input[name="token"]', 'not-the-token-0123456789');
    const [response] = await Promise.all([page.waitForNavigation(), page.press('input[name="token"]', 'Enter')]);
    expect(response?.status()).toBe(401);
    expect(await page.textContent('[role="alert"]')).toContain('not a valid API token');
    expect((await context.cookies()).map((c) => c.name)).not.toContain(SESSION_COOKIE);
  });

  it('takes no sign-in from another site\'s form', async () => {
    const response = await fetch(`${runtime.httpUrl}/console/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://elsewhere.example', 'sec-fetch-site': 'cross-site' },
      body: new URLSearchParams({ token: token() }).toString(),
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('set-cookie')).toBeNull();
  });
});

describe('the web console, signed in', () => {
  let orderId: string;

  it('sets an HttpOnly, SameSite=Strict session cookie naming the token holder', async () => {
    await signIn(page);
    const cookie = (await context.cookies()).find((c) => c.name === SESSION_COOKIE);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false, path: '/' });
    expect(await page.textContent('.session')).toContain('Signed in as api');
    expect(await page.evaluate<string>('document.cookie')).not.toContain(SESSION_COOKIE);
  });

  it('shows a fault published over MQTT on the machines view, live, without a reload', async () => {
    await page.goto(`${runtime.httpUrl}/#/machines`);
    await page.waitForSelector('[data-machine="M-PRESS-7"]');
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    await publishReading(fixture.mosquitto.url, 'P1', 'M-C1', { machineStatus: 'Fault', productionActual: 40 });
    const card = page.locator('[data-machine="M-C1"]');
    await card.locator('.badge', { hasText: 'Fault' }).waitFor();
    await card.getByText(/Open order MO_/).waitFor();
    expect(navigations).toBe(0);
    orderId = (await card.locator('a[href^="#/orders/"]').textContent())!.trim();
    expect(orderId).toMatch(/^MO_/);
    expect(await card.locator('.chart canvas').count()).toBeGreaterThan(0);
    await screenshot('machines');
  });

  it('follows the order to its timeline, and shows the approver\'s signature when it arrives', async () => {
    await page.locator(`[data-machine="M-C1"] a[href="#/orders/${orderId}"]`).click();
    await page.waitForSelector('#order-title');
    expect(await page.textContent('#order-title')).toContain(orderId);
    await page.locator('.timeline-entry', { hasText: 'MaintenanceOrderOpened' }).waitFor();

    const mail = await eventually('the approval email', async () => mailsTo(fixture.smtp, 'alice@plant1.example').find((m) => m.subject?.includes(orderId)));
    expect((await submitDecision(approvalEmail(mail).approveUrl, 'Go ahead')).status).toBe(200);
    const signature = page.locator('.signature');
    await signature.waitFor();
    const text = (await signature.textContent()) ?? '';
    expect(text).toContain(`Approved maintenance order ${orderId} for machine M-C1`);
    expect(text).toContain('Alice Novak');
    expect(text).toContain('alice@plant1.example');
    expect(text).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
    expect(text).toContain('Go ahead');
    await page.locator('.timeline-entry', { hasText: 'ApprovalDecided' }).waitFor();
    await page.locator('.badge', { hasText: 'ResourcesAllocated' }).waitFor();
    await page.locator('.timeline-entry', { hasText: 'MaintenanceOrderResourcesAllocated' }).waitFor();

    // Each entry says when (the viewer's zone and UTC), what, who, what changed (old -> new) and why.
    const cells = async (eventType: string) => {
      const row = page.locator(`.timeline-entry[data-event-type="${eventType}"]`).first();
      const [when, what, who, change, why] = await Promise.all(['when', 'what', 'who', 'change', 'why'].map(async (name) => ((await row.locator(`td.${name}`).textContent()) ?? '').trim()));
      return { when: when!, what: what!, who: who!, change: change!, why: why! };
    };
    const headers = (await page.locator('[aria-label="Timeline of the order"] th').allTextContents()).map((h) => h.trim());
    expect(headers).toEqual(['When', 'What', 'Who', 'Change', 'Why']);
    const opened = await cells('MaintenanceOrderOpened');
    expect(opened.when).toMatch(/(CET|CEST|GMT\+1|GMT\+2)\s*\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
    expect(opened.what).toContain(`order ${orderId} opened for machine M-C1`);
    expect(opened.who).toBe('service workflow');
    expect(opened.change).toBe(`order ${orderId}(new) → PendingApproval`);
    expect(opened.why).toBe('Machine fault');
    const decided = await cells('ApprovalDecided');
    expect(decided.who).toBe('Alice Novak <alice@plant1.example>');
    expect(decided.change).toMatch(/^approval request AP_\S+Pending → Approved$/);
    expect(decided.why).toContain('Go ahead');
    expect((await cells('ApprovalEmailSent')).change).toBe('–');

    // The order's history verifies: the hash chains of every stream it was read from hold.
    const chain = page.locator('[data-chain="verified"]');
    await chain.waitFor();
    const verified = (await chain.textContent()) ?? '';
    expect(verified).toMatch(/^Hash chain verified \((\d+) events in (\d+) streams\)$/);
    const entries = await page.locator('.timeline-entry').count();
    expect(Number(/\((\d+) events/.exec(verified)![1])).toBeGreaterThanOrEqual(entries);
    expect(await page.locator('[data-chain="broken"]').count()).toBe(0);
    await screenshot('order');
  });

  it('exports the order\'s history from its page with the session: CSV and JSON lines to save, the printable record to open', async () => {
    const link = (name: string) => page.locator('.exports a', { hasText: name });
    const [csv] = await Promise.all([page.waitForEvent('download'), link('CSV').click()]);
    expect(csv.suggestedFilename()).toBe(`${orderId}-audit.csv`);
    const rows = (await readFile((await csv.path())!, 'utf8')).split('\r\n');
    expect(rows[0]).toMatch(/^Time \(UTC\),Event,Event version,Actor kind,Actor,What changed,From,To,Why,/);
    expect(rows.filter((row) => row.includes(',MaintenanceOrderOpened,'))).toHaveLength(1);
    expect(rows.some((row) => row.includes('Alice Novak <alice@plant1.example>') && row.includes('Go ahead'))).toBe(true);

    const [jsonl] = await Promise.all([page.waitForEvent('download'), link('JSON lines').click()]);
    expect(jsonl.suggestedFilename()).toBe(`${orderId}-audit.jsonl`);
    const lines = (await readFile((await jsonl.path())!, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { eventType: string; who: string });
    expect(lines.map((line) => line.eventType)).toContain('ApprovalDecided');
    expect(lines.length).toBe(await page.locator('.timeline-entry').count());

    const [record] = await Promise.all([context.waitForEvent('page'), link('Printable record (HTML)').click()]);
    try {
      await record.waitForLoadState();
      expect(record.url()).toBe(`${runtime.httpUrl}/api/orders/${orderId}/audit?format=html`);
      const html = await record.content();
      expect(html).toContain(`Audit record of maintenance order ${orderId}`);
      expect(html).toMatch(/chain: verified \d+ events in \d+ streams/);
      expect(html).toMatch(/Exported \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC by api/);
    } finally {
      await record.close();
    }
  });

  it('cancels the order with the reason it asks for, recorded with the signed-in holder as actor', async () => {
    await page.getByRole('button', { name: 'Cancel order…' }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    await screenshot('cancel-dialog');
    // Nothing is sent without a reason.
    await dialog.getByRole('button', { name: 'Cancel the order' }).click();
    expect(await orderEvents(runtime.deps.eventStore, 'P1', orderId)).not.toContain('MaintenanceOrderCancelled');
    await dialog.locator('textarea').fill('Machine replaced instead');
    await dialog.getByRole('button', { name: 'Cancel the order' }).click();
    await page.locator('.notice', { hasText: `Order ${orderId} is Cancelled.` }).waitFor();
    await page.locator('.facts .badge', { hasText: 'Cancelled' }).waitFor();
    const cancelled = (await runtime.deps.eventStore.readStream(`P1.order.${orderId}`)).events.find((e) => e.type === 'MaintenanceOrderCancelled');
    expect(cancelled?.data).toMatchObject({ reason: 'Machine replaced instead', cancelledBy: 'api' });
    expect(cancelled?.actor).toMatchObject({ kind: 'person', id: 'api' });
  });

  it('takes no action with the session from another site', async () => {
    const [cookie] = await context.cookies();
    const response = await fetch(`${runtime.httpUrl}/api/orders/${orderId}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `${cookie!.name}=${cookie!.value}`, origin: 'https://elsewhere.example', 'sec-fetch-site': 'cross-site' },
      body: '{}',
    });
    expect(response.status).toBe(401);
  });

  it('completes an order with what was done, as it asks', async () => {
    await publishReading(fixture.mosquitto.url, 'P1', 'M-C4', { machineStatus: 'Fault' });
    const mail = await eventually('the approval email for M-C4', async () => mailsTo(fixture.smtp, 'alice@plant1.example').find((m) => m.subject?.includes('M-C4')));
    const { orderId: completed, approveUrl } = approvalEmail(mail);
    expect((await submitDecision(approveUrl)).status).toBe(200);
    await page.goto(`${runtime.httpUrl}/#/resources`);
    const held = page.locator('tbody tr', { hasText: 'T-01' });
    await held.locator('a', { hasText: completed }).waitFor();
    expect(await held.textContent()).toContain('M-C4');
    await screenshot('resources');
    await page.goto(`${runtime.httpUrl}/#/orders/${completed}`);
    await page.locator('.facts .badge', { hasText: 'ResourcesAllocated' }).waitFor();
    await page.getByRole('button', { name: 'Complete…' }).click();
    await page.locator('dialog[open] textarea').fill('Replaced the drive belt');
    await page.locator('dialog[open]').getByRole('button', { name: 'Complete the order' }).click();
    await page.locator('.facts .badge', { hasText: 'Completed' }).waitFor();
    await page.locator('.timeline-entry', { hasText: 'Replaced the drive belt' }).waitFor();
    const event = (await runtime.deps.eventStore.readStream(`P1.order.${completed}`)).events.find((e) => e.type === 'MaintenanceOrderCompleted');
    expect(event?.data).toMatchObject({ reason: 'Replaced the drive belt', completedBy: 'api' });
  });

  it('lists orders with filters, approvals waiting, resources with their queue, dead letters live, and the projections', async () => {
    await page.goto(`${runtime.httpUrl}/#/orders?status=Cancelled`);
    await page.locator('tbody tr', { hasText: orderId }).waitFor();
    await page.goto(`${runtime.httpUrl}/#/orders?status=PendingApproval`);
    await page.getByText('No orders match.').waitFor();

    await publishReading(fixture.mosquitto.url, 'P1', 'M-C2', { machineStatus: 'Fault' });
    await page.goto(`${runtime.httpUrl}/#/approvals`);
    const waiting = page.locator('tbody tr', { hasText: 'M-C2' });
    await waiting.waitFor();
    expect(await waiting.textContent()).toContain('Alice Novak');
    expect(await waiting.locator('time').count()).toBe(2);
    await screenshot('approvals');

    await page.goto(`${runtime.httpUrl}/#/orders`);
    await page.locator('tbody tr', { hasText: 'M-C2' }).waitFor();
    await screenshot('orders');

    await page.goto(`${runtime.httpUrl}/#/resources`);
    await page.locator('tbody tr', { hasText: 'T-01' }).waitFor();
    expect(await page.locator('tbody tr', { hasText: 'T-01' }).textContent()).toContain('Available');

    await page.goto(`${runtime.httpUrl}/#/dead-letters`);
    await page.getByText('No message was rejected.').waitFor();
    await publishReading(fixture.mosquitto.url, 'P1', 'M-C3', { machineStatus: 'Exploded' });
    const letter = page.locator('.dead-letter', { hasText: 'mes/P1/M-C3/telemetry' });
    await letter.waitFor();
    expect(await letter.textContent()).toContain('machineStatus');
    await screenshot('dead-letters');

    await page.goto(`${runtime.httpUrl}/#/projections`);
    await page.locator('tbody tr', { hasText: 'events' }).waitFor();
    await screenshot('projections');
    expect(policyViolations).toEqual([]);
    expect(foreignRequests).toEqual([]);
    expect(failedLoads).toEqual([]);
  });

  it('shows times in the viewer\'s zone, naming it', async () => {
    const tokyo = await newPage({ timezoneId: 'Asia/Tokyo' });
    try {
      await signIn(tokyo.page);
      await tokyo.page.goto(`${runtime.httpUrl}/#/orders/${orderId}`);
      const opened = tokyo.page.locator('.facts time').first();
      await opened.waitFor();
      expect(await opened.textContent()).toMatch(/GMT\+9|JST/);
      expect(await opened.getAttribute('datetime')).toMatch(/Z$/);
    } finally {
      await tokyo.context.close();
    }
  });

  it('is readable on a phone without scrolling sideways', async () => {
    const phone = await newPage({ viewport: { width: 390, height: 844 } });
    try {
      await signIn(phone.page);
      for (const view of ['machines', 'orders', 'approvals', 'resources', 'dead-letters', 'projections', `orders/${orderId}`]) {
        await phone.page.goto(`${runtime.httpUrl}/#/${view}`);
        await phone.page.waitForSelector('main h1');
        await phone.page.waitForLoadState('networkidle').catch(() => undefined);
        expect(await overflowsSideways(phone.page), view).toBe(false);
      }
      // The timeline stacks each entry's cells, each labelled with its column.
      await phone.page.goto(`${runtime.httpUrl}/#/orders/${orderId}`);
      await phone.page.locator('.timeline-entry').first().waitFor();
      expect(await phone.page.evaluate<string>("getComputedStyle(document.querySelector('.timeline-entry td.who')).display")).toBe('block');
      expect(await phone.page.evaluate<string>("getComputedStyle(document.querySelector('.timeline-entry td.who'), '::before').content")).toBe('"Who"');
      await phone.page.evaluate("document.querySelector('.chain').scrollIntoView()");
      await screenshot('phone-order', phone.page);
      await phone.page.goto(`${runtime.httpUrl}/#/machines`);
      await phone.page.waitForSelector('[data-machine="M-C1"]');
      await screenshot('phone-machines', phone.page);
    } finally {
      await phone.context.close();
    }
  });

  it('is usable by keyboard: the views are reached with Tab and Enter', async () => {
    await page.goto(`${runtime.httpUrl}/#/machines`);
    await page.waitForSelector('[data-machine="M-C1"]');
    await page.keyboard.press('Tab');
    const reached: string[] = [];
    for (let i = 0; i < 12 && !reached.includes('Resources'); i++) {
      await page.keyboard.press('Tab');
      reached.push((await page.evaluate<string>("document.activeElement?.textContent ?? ''")).trim());
    }
    expect(reached).toContain('Resources');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#resources-title');
  });

  it('signs out back to the sign-in, and the browser keeps no session', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForSelector('input[name="token"]');
    expect((await context.cookies()).map((c) => c.name)).not.toContain(SESSION_COOKIE);
    expect(await page.content()).not.toContain('M-PRESS-7');
    const answer = await page.evaluate(async () => (await fetch('/api/machines')).status);
    expect(answer).toBe(401);
  });
});
