// The development mailbox (SMTP_URL unset) in headless Chromium, as a newcomer uses it: the
// email's green Approve button opens the approval page outside the mail's frame (the page forbids
// framing, so inside it would show a broken frame), and the message page does not scroll sideways
// on a phone although the links are long.
import { start as approvals } from '@mes/approvals';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { startRuntime, type Runtime } from '@mes/platform';
import { eventually, freePort, publishReading, startFlowFixture, type FlowFixture } from '@mes/platform/testing';
import { start as workflow } from '@mes/workflow';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOW_PLANTS_YAML } from './testing/flowFixture.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let fixture: FlowFixture;
let runtime: Runtime;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: the browser tests need Chromium (apt-get install -y chromium), or set CHROMIUM_PATH`);
  fixture = await startFlowFixture({ plantsYaml: FLOW_PLANTS_YAML });
  const port = await freePort();
  const { SMTP_URL: _smtp, ...env } = fixture.env;
  runtime = await startRuntime('mailbox', { maintenance, approvals, workflow, ingest }, { ...env, HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
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

describe('the development mailbox in a browser', () => {
  it('opens the email\'s Approve button outside the frame, on the working approval page', async () => {
    await publishReading(fixture.mosquitto.url, 'P1', 'M-MB1', { machineStatus: 'Fault' });
    await eventually('the email in the mailbox', async () => {
      const { messages } = (await (await fetch(`${runtime.httpUrl}/dev/mailbox.json`)).json()) as { messages: { subject: string }[] };
      return messages.some((m) => m.subject.includes('M-MB1')) ? true : undefined;
    });
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const refused: string[] = [];
    context.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) refused.push(message.text());
    });
    await page.goto(`${runtime.httpUrl}/dev/mailbox`);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /M-MB1/ }).click()]);
    expect(await page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth + 1')).toBe(false);

    const frame = page.frameLocator('iframe[title="HTML part"]');
    const [approvalPage] = await Promise.all([context.waitForEvent('page'), frame.getByRole('link', { name: 'Approve', exact: true }).click()]);
    await approvalPage.waitForLoadState();
    expect(approvalPage.url()).toMatch(/\/approvals\/[^/]+\/approve\?token=/);
    expect(await approvalPage.textContent('body')).toContain('M-MB1');
    expect(await approvalPage.locator('button[type="submit"]').count()).toBe(1);
    // The mail view itself stayed where it was.
    expect(page.url()).toMatch(/\/dev\/mailbox\//);
    expect(refused).toEqual([]);
    await context.close();
  });
});
