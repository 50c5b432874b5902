// From a fault reading over MQTT to an approval decision, across ingest, workflow, maintenance and
// approvals, against real nats-server, Mosquitto and an SMTP server on loopback.
import { COMMANDS_STREAM, commandSubject, streamName } from '@mes/contracts';
import { start as approvals } from '@mes/approvals';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { start as resources } from '@mes/resources';
import { startRuntime, type Runtime } from '@mes/platform';
import { freePort } from '@mes/platform/testing';
import { start as workflow } from '@mes/workflow';
import { jetstreamManager } from '@nats-io/jetstream';
import { runCli } from '@mes/cli';
import mqtt from 'mqtt';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  approvalEmail,
  eventsOf,
  eventually,
  mailsTo,
  orderEvents,
  publishReading,
  startFlowFixture,
  submitDecision,
  type FlowFixture,
} from './testing/flowFixture.js';

describe('maintenance flow: fault reading to approval decision', () => {
  let fixture: FlowFixture;
  let runtime: Runtime;

  beforeAll(async () => {
    fixture = await startFlowFixture();
    const port = await freePort();
    runtime = await startRuntime('flow', { resources, maintenance, approvals, workflow, ingest }, { ...fixture.env, HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
  });
  afterAll(async () => {
    await runtime?.stop();
    await fixture?.dispose();
  });

  const store = () => runtime.deps.eventStore;

  it('opens one order for a fault, emails the first approver, and resumes on approval', async () => {
    await publishReading(fixture.mosquitto.url, 'P1', 'M-1', { machineStatus: 'Running' });
    await publishReading(fixture.mosquitto.url, 'P1', 'M-1', { machineStatus: 'Fault' });

    const [mail] = await eventually('the email to alice', async () => (mailsTo(fixture.smtp, 'alice@plant1.example').length > 0 ? mailsTo(fixture.smtp, 'alice@plant1.example') : undefined));
    const email = approvalEmail(mail!);
    expect(mail!.subject).toContain(email.orderId);
    expect(mail!.subject).toContain('M-1');
    expect(mail!.html).toContain(email.approveUrl.replaceAll('&', '&amp;'));

    const orderStream = streamName('P1', 'order', email.orderId);
    const approvalStream = streamName('P1', 'approval', email.orderId);
    const before = [(await store().readStream(orderStream)).revision, (await store().readStream(approvalStream)).revision];
    const page = await fetch(email.approveUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(email.orderId);
    expect([(await store().readStream(orderStream)).revision, (await store().readStream(approvalStream)).revision]).toEqual(before);

    const decided = await submitDecision(email.approveUrl, 'Go ahead');
    expect(decided.status).toBe(200);
    await eventually('the order to be approved', async () => ((await orderEvents(store(), 'P1', email.orderId)).includes('MaintenanceOrderApproved') ? true : undefined), 5_000);

    // The workflow resumes and asks resources for a technician and equipment.
    const jsm = await jetstreamManager(runtime.deps.nc);
    const allocate = await eventually('the allocation request', async () =>
      jsm.streams.getMessage(COMMANDS_STREAM, { last_by_subj: commandSubject('P1', 'resources', 'AllocateResources') }).then((m) => m ?? undefined, () => undefined),
    );
    expect(allocate.json<{ orderId: string }>().orderId).toBe(email.orderId);
    const approved = (await store().readStream(orderStream)).events.find((e) => e.type === 'MaintenanceOrderApproved');
    expect(approved?.data).toMatchObject({ decidedBy: 'alice@plant1.example', comment: 'Go ahead' });
    expect(mailsTo(fixture.smtp, 'alice@plant1.example')).toHaveLength(1);
  });

  it('ends Rejected when the approver rejects', async () => {
    await publishReading(fixture.mosquitto.url, 'P1', 'M-2', { machineStatus: 'Fault' });
    const mail = await eventually('the email for M-2', async () => fixture.smtp.messages.find((m) => m.subject?.includes('M-2')));
    const email = approvalEmail(mail);
    expect((await submitDecision(email.rejectUrl, 'Not now')).status).toBe(200);
    await eventually('the order to be rejected', async () => ((await orderEvents(store(), 'P1', email.orderId)).includes('MaintenanceOrderRejected') ? true : undefined), 5_000);
    const opened = (await eventsOf(store(), 'P1')).find((e) => e.type === 'MaintenanceOrderOpened' && (e.data as { orderId: string }).orderId === email.orderId);
    await eventually('the workflow to end Rejected', async () =>
      (await store().readStream(streamName('P1', 'workflow', opened!.correlationId))).events.find((e) => e.type === 'WorkflowCompleted' && (e.data as { outcome: string }).outcome === 'Rejected'),
    );
  });

  it('escalates to the second approver on timeout, then ends Expired', async () => {
    await publishReading(fixture.mosquitto.url, 'P2', 'M-9', { machineStatus: 'Fault' });
    const first = await eventually('the email to carol', async () => mailsTo(fixture.smtp, 'carol@plant2.example')[0]);
    const email = approvalEmail(first);
    const second = await eventually('the escalation email to dave', async () => mailsTo(fixture.smtp, 'dave@plant2.example')[0], 15_000);
    expect(approvalEmail(second).orderId).toBe(email.orderId);
    // Carol's link no longer decides: her request was superseded.
    expect((await submitDecision(email.approveUrl)).status).toBe(410);
    await eventually('the order to expire', async () => ((await orderEvents(store(), 'P2', email.orderId)).includes('MaintenanceOrderExpired') ? true : undefined), 15_000);
    expect(await orderEvents(store(), 'P2', email.orderId)).not.toContain('MaintenanceOrderApproved');
  });

  it('opens one order and sends one email for 20 fault readings in a row', async () => {
    await publishReading(fixture.mosquitto.url, 'P1', 'M-20', { machineStatus: 'Fault' }, 20);
    await eventually('the email for M-20', async () => fixture.smtp.messages.find((m) => m.subject?.includes('M-20')));
    await sleep(1_500);
    const opened = (await eventsOf(store(), 'P1')).filter((e) => e.type === 'MaintenanceOrderOpened' && (e.data as { machineId: string }).machineId === 'M-20');
    expect(opened).toHaveLength(1);
    expect(fixture.smtp.messages.filter((m) => m.subject?.includes('M-20'))).toHaveLength(1);
  });

  it('records five kinds of bad payload as dead letters, lists them newest first over HTTP, and keeps ingesting', async () => {
    const client = await mqtt.connectAsync(fixture.mosquitto.url, { reconnectPeriod: 0 });
    const bad: [string, string | Buffer][] = [
      ['mes/P1/M-DL/telemetry', '{not json'],
      ['mes/P1/M-DL/telemetry', JSON.stringify({ machineStatus: 'Broken', qualityTrend: 'Stable', productionTarget: 1, productionActual: 1 })],
      ['mes/P1/M-DL/telemetry', JSON.stringify({ machineStatus: 'Running', qualityTrend: 'Stable', productionTarget: 1, productionActual: -3 })],
      ['mes/P1/M-DL/telemetry', JSON.stringify({ machineStatus: 'Running', qualityTrend: 'Stable', productionTarget: 1, productionActual: 1, plantId: 'P2' })],
      ['mes/P1/M-DL/telemetry', Buffer.alloc(70_000, 0x61)],
    ];
    for (const [topic, payload] of bad) await client.publishAsync(topic, payload, { qos: 1 });
    await client.endAsync();
    await publishReading(fixture.mosquitto.url, 'P1', 'M-DL', { machineStatus: 'Running', messageId: 'after-the-bad-ones' });

    const url = `${runtime.httpUrl}/api/dead-letters?plantId=P1`;
    expect((await fetch(url)).status).toBe(401);
    const listed = await eventually('five dead letters', async () => {
      const response = await fetch(url, { headers: { authorization: `Bearer ${fixture.env.API_TOKEN}` } });
      const body = (await response.json()) as { deadLetters: { topic: string; reason: string }[] };
      return body.deadLetters.length >= 5 ? body.deadLetters : undefined;
    });
    expect(listed).toHaveLength(5);
    // Newest first: the oversize payload was sent last.
    expect(listed[0]!.reason).toMatch(/70000 bytes/);
    expect(listed.map((d) => d.reason).join('\n')).toMatch(/not valid JSON/);
    expect(listed.map((d) => d.reason).join('\n')).toMatch(/machineStatus: must be one of/);
    expect(listed.map((d) => d.reason).join('\n')).toMatch(/productionActual: must be a number >= 0/);
    expect(listed.map((d) => d.reason).join('\n')).toMatch(/plantId "P2" in the payload does not match "P1"/);
    await eventually('the good reading after them', async () => {
      const jsm = await jetstreamManager(runtime.deps.nc);
      return jsm.streams.getMessage('MES_TELEMETRY', { last_by_subj: 'telemetry.P1.M-DL' }).then((m) => m ?? undefined, () => undefined);
    });
    const bad400 = await fetch(`${runtime.httpUrl}/api/dead-letters?limit=0`, { headers: { authorization: `Bearer ${fixture.env.API_TOKEN}` } });
    expect(bad400.status).toBe(400);

    // Operators see the same on the command line.
    let printed = '';
    const stdout = new Writable({ write: (chunk, _encoding, done) => void ((printed += String(chunk)), done()) });
    const exitCode = await runCli(['dead-letters', '--plant', 'P1', '--json'], { stdout, stderr: stdout, env: fixture.env });
    expect(exitCode).toBe(0);
    const lines = printed.trim().split('\n').map((l) => JSON.parse(l) as { reason: string });
    expect(lines.map((l) => l.reason)).toEqual(listed.map((d) => d.reason));
  });

  describe('order completion and cancellation over the API', () => {
    /** `token: null` sends no Authorization header. */
    const api = (path: string, body?: unknown, token: string | null = fixture.env.API_TOKEN ?? null) =>
      fetch(`${runtime.httpUrl}${path}`, {
        method: 'POST',
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });

    async function approvedOrder(machineId: string): Promise<string> {
      await publishReading(fixture.mosquitto.url, 'P1', machineId, { machineStatus: 'Fault' });
      const mail = await eventually(`the email for ${machineId}`, async () => fixture.smtp.messages.find((m) => m.subject?.includes(` ${machineId} `) || m.subject?.includes(`${machineId}`)));
      const email = approvalEmail(mail);
      expect((await submitDecision(email.approveUrl)).status).toBe(200);
      await eventually('the approval', async () => ((await orderEvents(store(), 'P1', email.orderId)).includes('MaintenanceOrderApproved') ? true : undefined));
      return email.orderId;
    }

    it('completes an approved order; refuses without the token, for an unknown order, and for an illegal transition', async () => {
      const orderId = await approvedOrder('M-31');
      expect((await api(`/api/orders/${orderId}/complete`, undefined, null)).status).toBe(401);
      expect((await api(`/api/orders/${orderId}/complete`, undefined, 'not-the-token-at-all-123')).status).toBe(401);
      expect((await api('/api/orders/MO_nope/complete')).status).toBe(404);

      const completed = await api(`/api/orders/${orderId}/complete`, { by: 'dana@plant1.example' });
      expect(completed.status).toBe(200);
      expect(await completed.json()).toEqual({ orderId, status: 'Completed', changed: true });
      const event = (await store().readStream(streamName('P1', 'order', orderId))).events.at(-1);
      // The caller is on record (the token's holder); the name in the body is recorded as stated, not as the actor.
      expect(event).toMatchObject({ type: 'MaintenanceOrderCompleted', actor: { kind: 'client', id: 'api' }, data: { completedBy: 'api', statedBy: 'dana@plant1.example' } });

      const cancelled = await api(`/api/orders/${orderId}/cancel`, { reason: 'too late' });
      expect(cancelled.status).toBe(409);
      expect(await cancelled.json()).toMatchObject({ status: 409, code: 'ORDER_CLOSED', detail: expect.stringMatching(/Completed/) });
      // The workflow gives the resources back and ends.
      const opened = (await eventsOf(store(), 'P1')).find((e) => e.type === 'MaintenanceOrderOpened' && (e.data as { orderId: string }).orderId === orderId)!;
      await eventually('the workflow to end Completed', async () =>
        (await store().readStream(streamName('P1', 'workflow', opened.correlationId))).events.find((e) => e.type === 'WorkflowCompleted'),
      );
      const jsm = await jetstreamManager(runtime.deps.nc);
      const release = await eventually('the release request', async () =>
        jsm.streams.getMessage(COMMANDS_STREAM, { last_by_subj: commandSubject('P1', 'resources', 'ReleaseResources') }).then((m) => m ?? undefined, () => undefined),
      );
      expect(release.json<{ orderId: string }>().orderId).toBe(orderId);
    });

    it('cancels with a reason, and asks for one when it is missing', async () => {
      const orderId = await approvedOrder('M-32');
      expect((await api(`/api/orders/${orderId}/cancel`, {})).status).toBe(400);
      const cancelled = await api(`/api/orders/${orderId}/cancel`, { reason: 'machine replaced' });
      expect(cancelled.status).toBe(200);
      expect(await cancelled.json()).toEqual({ orderId, status: 'Cancelled', changed: true });
      expect((await api(`/api/orders/${orderId}/complete`)).status).toBe(409);
    });
  });

  describe('resources', () => {
    const api = (path: string, body?: unknown) =>
      fetch(`${runtime.httpUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${fixture.env.API_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const lastOrderEvent = async (orderId: string) => (await orderEvents(store(), 'P3', orderId)).at(-1);
    const resourceHolder = async (resourceId: string) => {
      const events = (await store().readStream(streamName('P3', 'resource', resourceId))).events.filter((e) => e.type === 'ResourceAllocated' || e.type === 'ResourceReleased');
      const last = events.at(-1);
      return last?.type === 'ResourceAllocated' ? (last.data as { orderId: string }).orderId : null;
    };

    it('allocates the one technician and equipment to one of three approved orders, the next on completion, and frees them at the end', async () => {
      const orders: string[] = [];
      for (const machine of ['M-A', 'M-B', 'M-C']) {
        await publishReading(fixture.mosquitto.url, 'P3', machine, { machineStatus: 'Fault' });
        const mail = await eventually(`the email for ${machine}`, async () => mailsTo(fixture.smtp, 'erin@plant3.example').find((m) => m.subject?.includes(machine)));
        const email = approvalEmail(mail);
        expect((await submitDecision(email.approveUrl)).status).toBe(200);
        orders.push(email.orderId);
        // Approve one at a time, so the approval order (oldest first) is known.
        await eventually(`${machine} approved`, async () => ((await orderEvents(store(), 'P3', email.orderId)).includes('MaintenanceOrderApproved') ? true : undefined));
      }
      const [first, second, third] = orders as [string, string, string];

      const settled = async () => Promise.all(orders.map(lastOrderEvent));
      await eventually('one allocated, two waiting', async () => {
        const last = await settled();
        return last.filter((t) => t === 'MaintenanceOrderResourcesAllocated').length === 1 && last.filter((t) => t === 'MaintenanceOrderAwaitingResources').length === 2 ? last : undefined;
      });
      expect(await lastOrderEvent(first)).toBe('MaintenanceOrderResourcesAllocated');
      expect(await resourceHolder('T3-01')).toBe(first);
      expect(await resourceHolder('EQ3-01')).toBe(first);
      const allocated = (await store().readStream(streamName('P3', 'order', first))).events.find((e) => e.type === 'MaintenanceOrderResourcesAllocated');
      expect(allocated?.data).toMatchObject({ technicianId: 'T3-01', equipmentId: 'EQ3-01' });

      expect((await api(`/api/orders/${first}/complete`)).status).toBe(200);
      await eventually('the oldest waiting order to get the resources', async () => ((await lastOrderEvent(second)) === 'MaintenanceOrderResourcesAllocated' ? true : undefined));
      expect(await lastOrderEvent(third)).toBe('MaintenanceOrderAwaitingResources');
      expect(await resourceHolder('T3-01')).toBe(second);

      expect((await api(`/api/orders/${second}/complete`)).status).toBe(200);
      await eventually('the last order to get the resources', async () => ((await lastOrderEvent(third)) === 'MaintenanceOrderResourcesAllocated' ? true : undefined));
      expect((await api(`/api/orders/${third}/cancel`, { reason: 'done by the night shift' })).status).toBe(200);
      await eventually('both resources free again', async () => ((await resourceHolder('T3-01')) === null && (await resourceHolder('EQ3-01')) === null ? true : undefined));
    });
  });
});
