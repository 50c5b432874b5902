// Every protected route of the whole system (all services and the console in one process), tried
// with no token and near-miss tokens under every spelling of its path (CONTRACT §5): none answers
// with data or changes state. The routes are read from the server itself, so a route added later
// is covered without touching this test.
import { start as approvals } from '@mes/approvals';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { registeredRoutes, startRuntime, type Runtime } from '@mes/platform';
import { freePort, pathSpellings, rawRequest } from '@mes/platform/testing';
import { start as projections } from '@mes/projections';
import { start as resources } from '@mes/resources';
import { start as workflow } from '@mes/workflow';
import { streamName } from '@mes/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsole } from '@mes/console';
import { approvalEmail, eventually, mailsTo, publishReading, startFlowFixture, type FlowFixture } from './testing/flowFixture.js';

let fixture: FlowFixture;
let runtime: Runtime;
let orderId: string;

beforeAll(async () => {
  fixture = await startFlowFixture();
  const port = await freePort();
  runtime = await startRuntime('protection', { console: startConsole, projections, resources, maintenance, approvals, workflow, ingest }, { ...fixture.env, HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
  // Something to protect: a dead letter and an open order.
  await publishReading(fixture.mosquitto.url, 'P1', 'M-DL', { machineStatus: 'Exploded' });
  await publishReading(fixture.mosquitto.url, 'P1', 'M-1', { machineStatus: 'Fault' });
  const mail = await eventually('the approval email', async () => mailsTo(fixture.smtp, 'alice@plant1.example')[0]);
  orderId = approvalEmail(mail).orderId;
});
afterAll(async () => {
  await runtime?.stop();
  await fixture?.dispose();
});

const token = () => fixture.env.API_TOKEN!;

describe('the API of the running system', () => {
  it('protects the routes of CONTRACT §5', () => {
    const protectedRoutes = registeredRoutes(runtime.deps.http).filter((r) => r.protected).map((r) => `${r.method} ${r.url}`);
    expect(protectedRoutes).toEqual(expect.arrayContaining([
      'GET /api/dead-letters',
      'GET /api/orders/:orderId/audit',
      'POST /api/orders/:orderId/complete',
      'POST /api/orders/:orderId/cancel',
      'GET /api/projections/status',
      'GET /api/orders',
      'GET /api/orders/:orderId',
      'GET /api/machines',
      'GET /api/approvals/waiting',
      'GET /api/resources',
      'GET /api/stream',
      'GET /api/console/session',
      'GET /metrics',
    ]));
    // Nothing under /api is left open.
    expect(registeredRoutes(runtime.deps.http).filter((r) => r.url.startsWith('/api') && !r.protected)).toEqual([]);
  });

  it('answers no spelling of a protected path without the right token, and changes nothing', async () => {
    const orderStream = streamName('P1', 'order', orderId);
    const before = await runtime.deps.eventStore.readStream(orderStream);
    const routes = registeredRoutes(runtime.deps.http).filter((r) => r.protected);
    const nearMisses = [undefined, `Bearer ${token().slice(0, -1)}X`, `Bearer ${token()}0`, `Bearer ${token().slice(0, 8)}`];
    let tried = 0;
    for (const route of routes) {
      const path = route.url.replaceAll(':orderId', orderId).replace(/:[A-Za-z]+/g, 'x');
      for (const spelling of pathSpellings(path)) {
        for (const authorization of nearMisses) {
          const response = await rawRequest(runtime.httpUrl, route.method, spelling, authorization === undefined ? {} : { authorization });
          tried++;
          const what = `${route.method} ${spelling} with ${authorization ?? 'no token'}`;
          expect([400, 401, 404, 405], `${what} answered ${response.status}: ${response.body.slice(0, 200)}`).toContain(response.status);
          expect(response.body, what).not.toContain('M-DL');
          expect(response.body, what).not.toContain(`"${orderId}"`);
        }
      }
    }
    expect(tried).toBeGreaterThan(200);
    const after = await runtime.deps.eventStore.readStream(orderStream);
    expect(after.revision).toEqual(before.revision);
    expect(after.events.map((e) => e.type)).not.toContain('MaintenanceOrderCancelled');
  });

  it('reaches the routes through those spellings with the token: the router decodes them', async () => {
    const encoded = await rawRequest(runtime.httpUrl, 'GET', '/%61pi/dead-letters', { authorization: `Bearer ${token()}` });
    expect(encoded.status).toBe(200);
    expect(encoded.body).toContain('M-DL');
  });
});
