// Decisions that race the escalation timer, orders that end while a decision is awaited, and an
// incident that comes back while its order is open (CONTRACT §3, §4), across every service in one
// process with the reporting tables in SQLite: no order is left PendingApproval, a decision the
// approver was told is recorded stands, and the Approvals and MaintenanceOrders rows agree.
import { start as approvals } from '@mes/approvals';
import { EVENTS_STREAM, streamName } from '@mes/contracts';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { startRuntime, type Runtime } from '@mes/platform';
import { freePort, startFlowFixture, type FlowFixture } from '@mes/platform/testing';
import { start as projections } from '@mes/projections';
import { start as resources } from '@mes/resources';
import { start as workflow } from '@mes/workflow';
import { jetstreamManager } from '@nats-io/jetstream';
import Database from 'better-sqlite3';
import type { ParsedMail } from 'mailparser';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalEmail, eventsOf, eventually, orderEvents, publishReading, submitDecision } from './testing/flowFixture.js';

const PLANTS_YAML = `plants:
  R1:
    approvers:
      - { email: alice@plant1.example, name: Alice Novak }
      - { email: bob@plant1.example, name: Bob Ito }
    approvalTimeout: PT2S
    resources: []
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
  P1:
    approvers:
      - { email: carol@plant1.example, name: Carol Mendes }
    approvalTimeout: PT30M
    resources: []
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
`;

/** Orders whose approvals race the timer; each gets a decision near the decide-by time of each request. */
const RACING_ORDERS = 16;
/** When each decision is submitted, relative to its request's decide-by time. */
const OFFSETS_MS = [-400, -150, -60, -25, -8, 0, 8, 40, 150];

let fixture: FlowFixture;
let runtime: Runtime;
let db: Database.Database;

beforeAll(async () => {
  fixture = await startFlowFixture({ plantsYaml: PLANTS_YAML });
  const port = await freePort();
  runtime = await startRuntime('races', { projections, resources, maintenance, approvals, workflow, ingest }, { ...fixture.env, HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
});
afterAll(async () => {
  db?.close();
  await runtime?.stop();
  await fixture?.dispose();
});

const store = () => runtime.deps.eventStore;
const FINAL_OR_APPROVED = new Set(['Approved', 'AwaitingResources', 'ResourcesAllocated', 'Rejected', 'Expired', 'Completed', 'Cancelled']);

function reportingDb(): Database.Database {
  db ??= new Database(fixture.env.SQL_URL!.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
  return db;
}

interface OrderRow { OrderID: string; Status: string; DecidedBy: string | null }
interface ApprovalRow { ApprovalID: string; OrderID: string; Approver: string; Status: string }

function orderRows(orderIds: string[]): OrderRow[] {
  const rows = reportingDb().prepare('SELECT OrderID, Status, DecidedBy FROM MaintenanceOrders').all() as OrderRow[];
  return rows.filter((row) => orderIds.includes(row.OrderID));
}

function approvalRows(orderId: string): ApprovalRow[] {
  return reportingDb().prepare('SELECT ApprovalID, OrderID, Approver, Status FROM Approvals WHERE OrderID = ? ORDER BY ApprovalID').all(orderId) as ApprovalRow[];
}

async function orderStatus(plantId: string, orderId: string): Promise<string> {
  const types = await orderEvents(store(), plantId, orderId);
  const last = [...types].reverse().find((type) => type.startsWith('MaintenanceOrder'));
  const statusOf: Record<string, string> = {
    MaintenanceOrderOpened: 'PendingApproval',
    MaintenanceOrderApproved: 'Approved',
    MaintenanceOrderRejected: 'Rejected',
    MaintenanceOrderExpired: 'Expired',
    MaintenanceOrderAwaitingResources: 'AwaitingResources',
    MaintenanceOrderResourcesAllocated: 'ResourcesAllocated',
    MaintenanceOrderCompleted: 'Completed',
    MaintenanceOrderCancelled: 'Cancelled',
  };
  return last === undefined ? 'none' : statusOf[last] ?? last;
}

function decideByOf(mail: ParsedMail): number {
  const match = /^Decide by: (\S+)$/m.exec(mail.text ?? '');
  if (!match?.[1]) throw new Error(`no decide-by time in the email ${mail.subject}`);
  return Date.parse(match[1]);
}

describe('decisions at the escalation timer\'s edge', () => {
  it('leaves no order PendingApproval; a decision recorded stands; Approvals and MaintenanceOrders agree', { timeout: 150_000 }, async () => {
    interface Submission { approvalId: string; orderId: string; offsetMs: number; decision: 'approved' | 'rejected'; status: number; page: string }
    const submissions: Submission[] = [];
    const pending: Promise<void>[] = [];
    const handled = new Set<string>();
    let next = 0;

    const schedule = (mail: ParsedMail) => {
      const email = approvalEmail(mail);
      const approvalId = /\/approvals\/([^/]+)\//.exec(email.approveUrl)?.[1] ?? '';
      const offsetMs = OFFSETS_MS[next % OFFSETS_MS.length]!;
      const decision = next % 3 === 2 ? 'rejected' : 'approved';
      next++;
      const at = decideByOf(mail) + offsetMs;
      pending.push(
        (async () => {
          await sleep(Math.max(0, at - Date.now()));
          const response = await submitDecision(decision === 'approved' ? email.approveUrl : email.rejectUrl, `at ${offsetMs} ms`);
          submissions.push({ approvalId, orderId: email.orderId, offsetMs, decision, status: response.status, page: await response.text() });
        })(),
      );
    };

    for (let i = 1; i <= RACING_ORDERS; i++) await publishReading(fixture.mosquitto.url, 'R1', `M-${i}`, { machineStatus: 'Fault' });

    // Orders come from the log: under this load some requests escalate before their email goes out.
    let orderIds: string[] = [];
    const deadline = Date.now() + 90_000;
    for (;;) {
      for (const mail of fixture.smtp.messages) {
        const key = mail.messageId ?? '';
        if (handled.has(key) || !/machine M-\d+ \(plant R1\)/.test(mail.subject ?? '')) continue;
        handled.add(key);
        schedule(mail);
      }
      orderIds = (await eventsOf(store(), 'R1')).filter((e) => e.type === 'MaintenanceOrderOpened').map((e) => (e.data as { orderId: string }).orderId);
      const statuses = await Promise.all(orderIds.map((orderId) => orderStatus('R1', orderId)));
      if (orderIds.length === RACING_ORDERS && statuses.every((status) => FINAL_OR_APPROVED.has(status))) break;
      if (Date.now() > deadline) throw new Error(`orders still undecided: ${orderIds.map((id, i) => `${id}=${statuses[i]}`).join(', ')}`);
      await sleep(50);
    }
    await Promise.all(pending);

    // The edge was really raced: some decisions were recorded, some refused as too late.
    const recorded = submissions.filter((s) => s.status === 200);
    const refused = submissions.filter((s) => s.status !== 200);
    expect(recorded.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const s of recorded) expect(s.page).toContain(`Decision recorded: ${s.decision}`);
    for (const s of refused) {
      expect(s.status, s.page).toBe(410);
      expect(s.page).toMatch(/The time to decide has passed|passed on|has expired/);
    }

    // Every decision the approver saw recorded is the order's decision, in the log.
    for (const s of recorded) {
      const approvalEvents = (await store().readStream(streamName('R1', 'approval', s.orderId))).events;
      expect(approvalEvents.filter((e) => e.type === 'ApprovalDecided').map((e) => (e.data as { approvalId: string }).approvalId)).toEqual([s.approvalId]);
      expect(await orderStatus('R1', s.orderId)).toBe(s.decision === 'approved' ? 'AwaitingResources' : 'Rejected');
    }

    // The reporting tables agree with each other, once projections caught up.
    const ids = orderIds;
    await eventually('the reporting tables to settle', async () => {
      const rows = orderRows(ids);
      return rows.length === RACING_ORDERS && rows.every((row) => row.Status !== 'PendingApproval') && ids.every((id) => approvalRows(id).every((a) => a.Status !== 'Pending')) ? true : undefined;
    }, 30_000);
    for (const order of orderRows(ids)) {
      const rows = approvalRows(order.OrderID);
      const decided = rows.filter((a) => a.Status === 'Approved' || a.Status === 'Rejected');
      if (order.Status === 'Expired') {
        expect(decided, order.OrderID).toEqual([]);
        expect(rows.at(-1)?.Status).toBe('Expired');
      } else {
        expect(decided, order.OrderID).toHaveLength(1);
        expect(decided[0]!.Status).toBe(order.Status === 'Rejected' ? 'Rejected' : 'Approved');
        expect(order.DecidedBy).toBe(decided[0]!.Approver);
      }
    }
  });
});

describe('an order that ends while its approval is pending', () => {
  it('withdraws the request: its link says no decision is needed, changes nothing, and the rows agree', async () => {
    await publishReading(fixture.mosquitto.url, 'P1', 'M-CANCEL', { machineStatus: 'Fault' });
    const mail = await eventually('the approval email', async () => fixture.smtp.messages.find((m) => m.subject?.includes('M-CANCEL')));
    const email = approvalEmail(mail);
    const cancelled = await fetch(`${runtime.httpUrl}/api/orders/${email.orderId}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fixture.env.API_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'machine replaced' }),
    });
    expect(cancelled.status).toBe(200);

    const approvalStream = streamName('P1', 'approval', email.orderId);
    await eventually('the withdrawal', async () => ((await store().readStream(approvalStream)).events.some((e) => e.type === 'ApprovalWithdrawn') ? true : undefined));
    const before = await store().readStream(approvalStream);

    const opened = await fetch(email.approveUrl);
    expect(opened.status).toBe(410);
    const page = await opened.text();
    expect(page).toContain('No decision is needed');
    expect(page).toContain('is Cancelled');
    expect(page).not.toContain('<form');
    const submitted = await submitDecision(email.approveUrl);
    expect(submitted.status).toBe(410);
    expect(await submitted.text()).toContain('No decision is needed');
    expect((await store().readStream(approvalStream)).revision).toEqual(before.revision);

    await eventually('the rows of the cancelled order', async () => {
      const [order] = orderRows([email.orderId]);
      const rows = approvalRows(email.orderId);
      return order?.Status === 'Cancelled' && rows.length === 1 && rows[0]!.Status === 'Superseded' ? true : undefined;
    });
  });

  it('refuses a decision between the cancellation and the withdrawal, reading the order itself', async () => {
    await publishReading(fixture.mosquitto.url, 'P1', 'M-CANCEL-2', { machineStatus: 'Fault' });
    const mail = await eventually('the approval email', async () => fixture.smtp.messages.find((m) => m.subject?.includes('M-CANCEL-2')));
    const email = approvalEmail(mail);
    // The workflow is stopped, so nothing withdraws the request: only the order says it ended.
    const origin = runtime.httpUrl;
    const env = { ...fixture.env, HTTP_PORT: new URL(origin).port, PUBLIC_URL: origin };
    await runtime.stop();
    runtime = await startRuntime('races-without-workflow', { projections, resources, maintenance, approvals, ingest }, env);
    try {
      const cancelled = await fetch(`${origin}/api/orders/${email.orderId}/cancel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${fixture.env.API_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'duplicate' }),
      });
      expect(cancelled.status).toBe(200);
      const submitted = await submitDecision(email.approveUrl);
      expect(submitted.status).toBe(410);
      expect(await submitted.text()).toContain('No decision is needed');
      expect((await eventsOf(store(), 'P1')).filter((e) => e.type === 'ApprovalDecided' && (e.data as { orderId: string }).orderId === email.orderId)).toEqual([]);
    } finally {
      await runtime.stop();
      runtime = await startRuntime('races', { projections, resources, maintenance, approvals, workflow, ingest }, env);
    }
  });
});

describe('one open workflow per machine', () => {
  it('opens no second order when the fault comes back (Fault, Running, Fault) while the first order is open', async () => {
    await publishReading(fixture.mosquitto.url, 'P1', 'M-FLAP', { machineStatus: 'Fault' });
    await eventually('the first email', async () => fixture.smtp.messages.find((m) => m.subject?.includes('M-FLAP')));
    await publishReading(fixture.mosquitto.url, 'P1', 'M-FLAP', { machineStatus: 'Running' });
    await publishReading(fixture.mosquitto.url, 'P1', 'M-FLAP', { machineStatus: 'Fault' });
    // Three condition changes reach the workflow; only the first may open an order.
    await eventually('three condition changes of M-FLAP', async () => {
      const changes = (await eventsOf(store(), 'P1')).filter((e) => e.type === 'MachineStatusChanged' && (e.data as { machineId: string }).machineId === 'M-FLAP');
      return changes.length === 3 ? true : undefined;
    });
    await eventually('the workflow to have seen the last change', async () => {
      const info = await (await jetstreamManager(runtime.deps.nc)).consumers.info(EVENTS_STREAM, 'workflow-events-P1');
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    });
    const opened = (await eventsOf(store(), 'P1')).filter((e) => e.type === 'MaintenanceOrderOpened' && (e.data as { machineId: string }).machineId === 'M-FLAP');
    expect(opened).toHaveLength(1);
    expect(fixture.smtp.messages.filter((m) => m.subject?.includes('M-FLAP'))).toHaveLength(1);
  });
});
