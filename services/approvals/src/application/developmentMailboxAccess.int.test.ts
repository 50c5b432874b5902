// The development mailbox holds every approval link: it answers clients on this machine only
// (CONTRACT §6, MES_ENV=development), whatever address the server listens on.
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApprovalsFixture, type ApprovalsFixture } from '../testing/approvalsFixture.js';

let fixture: ApprovalsFixture;

beforeAll(async () => {
  // Listening on every interface, behind a reverse proxy on this host.
  fixture = await startApprovalsFixture({}, { HTTP_HOST: '0.0.0.0', TRUST_PROXY: '127.0.0.1' });
});
afterAll(async () => {
  await fixture?.dispose();
});

function nonLoopbackAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry !== undefined && entry.family === 'IPv4' && !entry.internal)?.address;
}

describe('the development mailbox', () => {
  it('answers a client on this machine', async () => {
    expect((await fetch(`${fixture.baseUrl}/dev/mailbox`)).status).toBe(200);
    expect((await fetch(`${fixture.baseUrl}/dev/mailbox.json`)).status).toBe(200);
  });

  it('refuses a client that a proxy on this machine forwards from elsewhere', async () => {
    for (const path of ['/dev/mailbox', '/dev/mailbox.json', '/dev/mailbox/20261129T000000000Z-x']) {
      const response = await fetch(`${fixture.baseUrl}${path}`, { headers: { 'x-forwarded-for': '192.0.2.50' } });
      expect(response.status, path).toBe(403);
      expect(await response.text()).toContain('answers on this machine only');
    }
  });

  it('refuses a client connecting to another interface of this machine', async (context) => {
    const address = nonLoopbackAddress();
    if (address === undefined) {
      context.skip('this machine has no non-loopback IPv4 interface to connect from');
      return;
    }
    const port = new URL(fixture.baseUrl).port;
    const response = await fetch(`http://${address}:${port}/dev/mailbox.json`);
    expect(response.status).toBe(403);
    expect(await response.text()).not.toContain('messages');
  });
});
