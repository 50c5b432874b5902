// GET /metrics and the read API over the reporting tables, scraped and read as a monitoring system
// and a script would, against the whole system: the token is required, and every metric the
// README names moves when what it counts happens (a reading, a rejection, an order, a decision).
import { start as approvals } from '@mes/approvals';
import { startConsole } from '@mes/console';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { startRuntime, type Runtime } from '@mes/platform';
import { approvalEmail, eventually, freePort, mailsTo, publishReading, startFlowFixture, submitDecision, type FlowFixture } from '@mes/platform/testing';
import { start as projections } from '@mes/projections';
import { start as resources } from '@mes/resources';
import { start as workflow } from '@mes/workflow';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOW_PLANTS_YAML } from './testing/flowFixture.js';

let fixture: FlowFixture;
let runtime: Runtime;
let stopped = false;
const auth = () => ({ authorization: `Bearer ${fixture.env.API_TOKEN!}` });

beforeAll(async () => {
  fixture = await startFlowFixture({ plantsYaml: FLOW_PLANTS_YAML });
  const port = await freePort();
  runtime = await startRuntime('metrics', { console: startConsole, projections, resources, maintenance, approvals, workflow, ingest }, { ...fixture.env, HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
});
afterAll(async () => {
  if (!stopped) await runtime?.stop();
  await fixture?.dispose();
});

async function scrape(): Promise<string> {
  const response = await fetch(`${runtime.httpUrl}/metrics`, { headers: auth() });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return response.text();
}

/** The value of one sample, e.g. `mes_readings_accepted_total{plant="P1"}`; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (wanted.every(([key, value]) => have[key] === value)) return Number(match[3]);
  }
  return 0;
}

async function api<T>(path: string): Promise<T> {
  const response = await fetch(`${runtime.httpUrl}${path}`, { headers: auth() });
  expect(response.status, path).toBe(200);
  return (await response.json()) as T;
}

describe('GET /metrics', () => {
  it('needs the token', async () => {
    const response = await fetch(`${runtime.httpUrl}/metrics`);
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await response.text()).not.toContain('mes_readings_accepted_total');
  });

  it('moves every named metric when what it counts happens', async () => {
    const before = await scrape();
    for (const name of ['mes_readings_accepted_total', 'mes_readings_dead_lettered_total', 'mes_open_workflows', 'mes_approvals_waiting', 'mes_approval_decision_seconds', 'mes_fault_to_email_seconds', 'mes_consumer_pending_messages', 'mes_http_requests_total']) {
      expect(before, name).toContain(`# TYPE ${name} `);
    }

    await publishReading(fixture.mosquitto.url, 'P1', 'M-X1', { machineStatus: 'Fault', messageId: 'metrics-1' });
    await publishReading(fixture.mosquitto.url, 'P1', 'M-X2', { machineStatus: 'Exploded' });
    const mail = await eventually('the approval email', async () => mailsTo(fixture.smtp, 'alice@plant1.example').find((m) => m.subject?.includes('M-X1')));
    const { orderId, approveUrl } = approvalEmail(mail);

    // The fault-to-email time is observed once the email is recorded as sent, a moment after the mail server has it.
    const waiting = await eventually('the approval waiting and the email\'s time in the metrics', async () => {
      const text = await scrape();
      return sample(text, 'mes_approvals_waiting', { plant: 'P1' }) === 1 && sample(text, 'mes_open_workflows', { plant: 'P1' }) === 1 && sample(text, 'mes_fault_to_email_seconds_count', { plant: 'P1' }) >= 1 ? text : undefined;
    });
    expect(sample(waiting, 'mes_readings_accepted_total', { plant: 'P1' })).toBe(sample(before, 'mes_readings_accepted_total', { plant: 'P1' }) + 1);
    expect(sample(waiting, 'mes_readings_dead_lettered_total', { plant: 'P1' })).toBe(sample(before, 'mes_readings_dead_lettered_total', { plant: 'P1' }) + 1);
    expect(sample(waiting, 'mes_fault_to_email_seconds_count', { plant: 'P1' })).toBe(1);
    expect(sample(waiting, 'mes_fault_to_email_seconds_sum', { plant: 'P1' })).toBeGreaterThan(0);
    expect(waiting).toMatch(/mes_consumer_pending_messages\{stream="MES_EVENTS",consumer="workflow-events-P1",plant="P1"\} \d+/);
    expect(sample(waiting, 'mes_http_requests_total', { method: 'GET', route: '/metrics', status: '200' })).toBeGreaterThan(sample(before, 'mes_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }));
    expect(waiting).toMatch(/mes_projection_behind_messages\{source="events"\} \d+/);

    expect((await submitDecision(approveUrl, 'fine')).status).toBe(200);
    const decided = await eventually('the decision in the metrics', async () => {
      const text = await scrape();
      return sample(text, 'mes_approvals_waiting', { plant: 'P1' }) === 0 ? text : undefined;
    });
    expect(sample(decided, 'mes_approval_decision_seconds_count', { plant: 'P1', decision: 'approved' })).toBe(1);

    const cancel = await fetch(`${runtime.httpUrl}/api/orders/${orderId}/cancel`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'metrics test' }) });
    expect(cancel.status).toBe(200);
    await eventually('the workflow to close', async () => (sample(await scrape(), 'mes_open_workflows', { plant: 'P1' }) === 0 ? true : undefined));
  });
});

describe('the read API', () => {
  it('lists orders newest first, filtered and paged, and shows one with its approvals and signature', async () => {
    for (const machine of ['M-R1', 'M-R2', 'M-R3']) await publishReading(fixture.mosquitto.url, 'P3', machine, { machineStatus: 'Fault' });
    const all = await eventually('three P3 orders', async () => {
      const page = await api<{ orders: { orderId: string; machineId: string; createdAt: string }[]; total: number }>('/api/orders?plant=P3');
      return page.total === 3 ? page : undefined;
    });
    const created = all.orders.map((o) => o.createdAt);
    expect([...created].sort().reverse()).toEqual(created);
    const first = await api<{ orders: { orderId: string }[]; total: number; limit: number; offset: number }>('/api/orders?plant=P3&limit=2');
    const second = await api<{ orders: { orderId: string }[] }>('/api/orders?plant=P3&limit=2&offset=2');
    expect(first).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect([...first.orders, ...second.orders].map((o) => o.orderId)).toEqual(all.orders.map((o) => o.orderId));
    expect((await api<{ orders: { machineId: string }[] }>('/api/orders?machine=M-R2')).orders.map((o) => o.machineId)).toEqual(['M-R2']);
    expect((await api<{ total: number }>('/api/orders?plant=P3&status=Completed')).total).toBe(0);

    const bad = await fetch(`${runtime.httpUrl}/api/orders?status=Done&limit=0`, { headers: auth() });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'INVALID_REQUEST', detail: expect.stringContaining('status must be one of PendingApproval') });
    const missing = await fetch(`${runtime.httpUrl}/api/orders/MO_nope`, { headers: auth() });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'ORDER_NOT_FOUND' });

    const target = all.orders.find((o) => o.machineId === 'M-R1')!;
    const mail = await eventually('the approval email for M-R1', async () => mailsTo(fixture.smtp, 'erin@plant3.example').find((m) => m.subject?.includes(target.orderId)));
    expect((await submitDecision(approvalEmail(mail).rejectUrl, 'not now')).status).toBe(200);
    const detail = await eventually('the rejection in the order', async () => {
      const order = await api<{ status: string; approvals: { status: string }[]; signatures: unknown[] }>(`/api/orders/${target.orderId}`);
      return order.status === 'Rejected' && order.signatures.length === 1 ? order : undefined;
    });
    expect(detail.approvals).toEqual([expect.objectContaining({ approver: 'erin@plant3.example', status: 'Rejected', comment: 'not now' })]);
    expect(detail.signatures).toEqual([
      expect.objectContaining({ decision: 'rejected', name: 'Erin Sato', email: 'erin@plant3.example', meaning: `Rejected maintenance order ${target.orderId} for machine M-R1`, comment: 'not now', signedAt: expect.stringMatching(/Z$/) }),
    ]);
  });

  it('shows machines, approvals waiting with their decide-by time, and resources with the queue for them', async () => {
    const { machines } = await api<{ machines: { plantId: string; machineId: string; lastReading: { machineStatus: string }; recentReadings: unknown[]; openOrder: { orderId: string } | null }[] }>('/api/machines?plant=P3');
    const m2 = machines.find((m) => m.machineId === 'M-R2');
    expect(m2).toMatchObject({ plantId: 'P3', lastReading: { machineStatus: 'Fault' }, openOrder: { orderId: expect.stringMatching(/^MO_/) } });
    expect(m2!.recentReadings).toHaveLength(1);

    const { approvals: waiting } = await api<{ approvals: { machineId: string; approver: { name: string }; requestedAt: string; decideBy: string }[] }>('/api/approvals/waiting?plant=P3');
    const forM2 = waiting.find((a) => a.machineId === 'M-R2')!;
    expect(forM2.approver.name).toBe('Erin Sato');
    // The decide-by time is the request's own (from the event log): with approvalTimeout PT30M, half an hour after it was made.
    const { events } = await runtime.deps.eventStore.readStream(`P3.approval.${m2!.openOrder!.orderId}`);
    expect(forM2.decideBy).toBe((events.find((e) => e.type === 'ApprovalRequested')!.data as { decideBy: string }).decideBy);
    expect(Math.round((Date.parse(forM2.decideBy) - Date.parse(forM2.requestedAt)) / 60_000)).toBe(30);

    // Approve both: the first gets P3's only technician and equipment, the second waits in the queue.
    for (const machine of ['M-R2', 'M-R3']) {
      const orderId = m2!.machineId === machine ? m2!.openOrder!.orderId : machines.find((m) => m.machineId === machine)!.openOrder!.orderId;
      const mail = await eventually(`the approval email for ${machine}`, async () => mailsTo(fixture.smtp, 'erin@plant3.example').find((m) => m.subject?.includes(orderId)));
      expect((await submitDecision(approvalEmail(mail).approveUrl)).status).toBe(200);
      if (machine === 'M-R2') {
        await eventually('the resources to be allocated', async () => ((await api<{ resources: { orderId: string | null }[] }>('/api/resources?plant=P3')).resources.every((r) => r.orderId === orderId) ? true : undefined));
      }
    }
    const { resources: held, queue } = await eventually('the second order to wait', async () => {
      const answer = await api<{ resources: { resourceId: string; status: string; machineId: string | null }[]; queue: { machineId: string; status: string }[] }>('/api/resources?plant=P3');
      // The queue's row can be projected before the order's move to AwaitingResources is.
      return answer.queue.length === 1 && answer.queue[0]!.status === 'AwaitingResources' ? answer : undefined;
    });
    expect(held.map((r) => [r.resourceId, r.status, r.machineId])).toEqual([['EQ3-01', 'Allocated', 'M-R2'], ['T3-01', 'Allocated', 'M-R2']]);
    expect(queue).toEqual([expect.objectContaining({ machineId: 'M-R3', status: 'AwaitingResources' })]);
  });

  it('streams a change notice once the rows are committed', async () => {
    const url = new URL(`${runtime.httpUrl}/api/stream`);
    const received = await new Promise<string>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, headers: auth() }, (res) => {
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('event: ready')) void publishReading(fixture.mosquitto.url, 'P2', 'M-S1', { machineStatus: 'Running' });
          const notices = [...text.matchAll(/^data: (.*)$/gm)].flatMap((m) => (JSON.parse(m[1]!) as { notices?: { topic: string; plantId?: string; id?: string }[] }).notices ?? []);
          if (notices.some((n) => n.topic === 'machines' && n.plantId === 'P2' && n.id === 'M-S1')) {
            req.destroy();
            resolve(text);
          }
        });
      });
      req.on('error', reject);
      req.end();
    });
    expect(received).toContain('event: change');
    const { machines } = await api<{ machines: { machineId: string }[] }>('/api/machines?plant=P2');
    expect(machines.map((m) => m.machineId)).toContain('M-S1');
  });
});

describe('stopping', () => {
  it('ends the open change streams, so the server closes', async () => {
    const url = new URL(`${runtime.httpUrl}/api/stream`);
    // Wrapped: resolving with the promise itself would wait for the end before the stop.
    const { ended } = await new Promise<{ ended: Promise<void> }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, headers: auth() }, (res) => {
        const ended = new Promise<void>((done) => res.on('end', done));
        res.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('event: ready')) resolve({ ended });
        });
      });
      req.on('error', reject);
      req.end();
    });
    stopped = true;
    await runtime.stop();
    await ended;
  });
});
