// An approver in a real browser (headless Chromium): opens the emailed link, reads the order,
// writes a comment and presses Approve. Proves what only a browser checks: the pages' Content-
// Security-Policy lets the confirmation form post, and the form posts where it should.
import { start as approvals } from '@mes/approvals';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { startRuntime, type Runtime } from '@mes/platform';
import { approvalEmail, eventually, freePort, mailsTo, orderEvents, publishReading, startFlowFixture, type FlowFixture } from '@mes/platform/testing';
import { start as workflow } from '@mes/workflow';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOW_PLANTS_YAML } from './testing/flowFixture.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('approving in a browser', () => {
  let fixture: FlowFixture;
  let runtime: Runtime;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: the browser tests need Chromium (apt-get install -y chromium), or set CHROMIUM_PATH`);
    fixture = await startFlowFixture({ plantsYaml: FLOW_PLANTS_YAML });
    const port = await freePort();
    runtime = await startRuntime('browser', { maintenance, approvals, workflow, ingest }, { ...fixture.env, HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
    // Playwright gives the browser a new, empty profile of its own.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    await fixture?.dispose();
  });

  it('shows the order, takes the comment, and records the approval', async () => {
    await publishReading(fixture.mosquitto.url, 'P1', 'M-B1', { machineStatus: 'Fault' });
    const mail = await eventually('the approval email', async () => mailsTo(fixture.smtp, 'alice@plant1.example').find((m) => m.subject?.includes('M-B1')));
    const email = approvalEmail(mail);

    const page = await browser.newPage();
    const refusedByPolicy: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) refusedByPolicy.push(message.text());
    });
    const opened = await page.goto(email.approveUrl);
    expect(opened?.status()).toBe(200);
    const shown = await page.textContent('body');
    expect(shown).toContain(email.orderId);
    expect(shown).toContain('M-B1');
    expect(await orderEvents(runtime.deps.eventStore, 'P1', email.orderId)).not.toContain('MaintenanceOrderApproved');

    await page.fill('textarea[name="comment"]', 'Approved from the browser');
    const [response] = await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    expect(response?.status()).toBe(200);
    expect(response?.request().method()).toBe('POST');
    expect(new URL(response!.url()).protocol).toBe('http:');
    expect(await page.textContent('body')).toMatch(/Decision recorded/);
    expect(refusedByPolicy).toEqual([]);

    await eventually('the order to be approved', async () => ((await orderEvents(runtime.deps.eventStore, 'P1', email.orderId)).includes('MaintenanceOrderApproved') ? true : undefined));
    const approved = (await runtime.deps.eventStore.readStream(`P1.order.${email.orderId}`)).events.find((e) => e.type === 'MaintenanceOrderApproved');
    expect(approved?.data).toMatchObject({ decidedBy: 'alice@plant1.example', comment: 'Approved from the browser' });
    await page.close();
  });
});
