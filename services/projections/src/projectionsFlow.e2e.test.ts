// A whole order's life through every service in one process (ingest, workflow, maintenance,
// approvals, resources, projections) against real nats-server, Mosquitto, an SMTP server and a
// SQLite file: then every column of every reporting row it touched is checked against CONTRACT §2
// and the event log, and its audit trail is read over HTTP (the `mes` CLI's side is in cli/).
import { COMMANDS_STREAM, TELEMETRY_STREAM, streamName, type EventEnvelope, type TelemetryReading } from '@mes/contracts';
import { start as approvals } from '@mes/approvals';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { readRange, startRuntime, type RecordedEvent, type Runtime } from '@mes/platform';
import { freePort } from '@mes/platform/testing';
import { start as resources } from '@mes/resources';
import { start as workflow } from '@mes/workflow';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start as projections } from './index.js';
import type { AuditEntry } from './domain/auditTrail.js';
import { approvalEmail, eventually, publishReading, startFlowFixture, submitDecision, type FlowFixture } from './testing/flowFixture.js';
import { waitUntilCaughtUp } from './testing/projectionsFixture.js';

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const MARIA_TOKEN = 'maria-token-0123456789abcdef';
const AUDITOR_TOKEN = 'auditor-token-0123456789abcdef';
const padded = (position: bigint) => position.toString().padStart(39, '0');

/** The declared columns of CONTRACT §2 (SQLite's closest types) and our bookkeeping, in order. */
const EXPECTED_COLUMNS: Record<string, [string, string, 0 | 1][]> = {
  MESData: [
    ['EventID', 'TEXT', 1], ['ID', 'TEXT', 1], ['PlantID', 'TEXT', 1], ['MachineStatus', 'TEXT', 1], ['QualityTrend', 'TEXT', 1],
    ['ProductionTarget', 'REAL', 1], ['ProductionActual', 'REAL', 1], ['Timestamp', 'TEXT', 1], ['LastPosition', 'TEXT', 1],
  ],
  MaintenanceOrders: [
    ['OrderID', 'TEXT', 1], ['MachineID', 'TEXT', 1], ['PlantID', 'TEXT', 1], ['Status', 'TEXT', 1], ['Reason', 'TEXT', 1], ['CreatedAt', 'TEXT', 1],
    ['UpdatedAt', 'TEXT', 1], ['DecidedBy', 'TEXT', 0], ['DecidedAt', 'TEXT', 0], ['TechnicianID', 'TEXT', 0], ['EquipmentID', 'TEXT', 0], ['LastPosition', 'TEXT', 1],
  ],
  Resources: [
    ['ResourceID', 'TEXT', 1], ['ResourceType', 'TEXT', 1], ['PlantID', 'TEXT', 1], ['Name', 'TEXT', 1], ['Status', 'TEXT', 1], ['OrderID', 'TEXT', 0],
    ['UpdatedAt', 'TEXT', 1], ['UnavailableReason', 'TEXT', 0], ['LastPosition', 'TEXT', 1],
  ],
  Approvals: [
    ['ApprovalID', 'TEXT', 1], ['OrderID', 'TEXT', 1], ['Approver', 'TEXT', 1], ['Status', 'TEXT', 1], ['RequestedAt', 'TEXT', 1], ['DecidedAt', 'TEXT', 0],
    ['Comment', 'TEXT', 0], ['LastPosition', 'TEXT', 1],
    // Migration 2: the signature's manifestation.
    ['ApproverName', 'TEXT', 0], ['Meaning', 'TEXT', 0],
  ],
};

describe('reporting tables and audit trail of an order, from the fault reading to completion', () => {
  let fixture: FlowFixture;
  let runtime: Runtime;
  let resourcesServed = false;
  let db: Database.Database;
  let orderId: string;
  const api = (path: string, init: RequestInit = {}, token: string | null = fixture.env.API_TOKEN!) =>
    fetch(`${runtime.httpUrl}${path}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) } });
  const store = () => runtime.deps.eventStore;
  const streamEvents = async (category: 'order' | 'approval' | 'resource' | 'workflow', id: string) => (await store().readStream(streamName('P1', category, id))).events;
  const last = (events: RecordedEvent[], type: string) => events.filter((e) => e.type === type).at(-1);
  const caughtUp = () => waitUntilCaughtUp(runtime.httpUrl, 30_000, fixture.env.API_TOKEN);
  const row = (table: string, where: string, value: string) => db.prepare(`SELECT * FROM "${table}" WHERE "${where}" = ?`).get(value) as Record<string, unknown> | undefined;

  beforeAll(async () => {
    fixture = await startFlowFixture();
    const port = await freePort();
    runtime = await startRuntime('flow', { projections, resources, maintenance, approvals, workflow, ingest }, {
      ...fixture.env,
      HTTP_PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      // Each person or system calls with a token of its own, and is on record by its name.
      API_TOKENS: `maria@plant1.example:${MARIA_TOKEN},auditor:${AUDITOR_TOKEN}`,
    });
    // The resources service is being written alongside; allocation is checked when it handles commands.
    resourcesServed = await (await jetstreamManager(runtime.deps.nc)).consumers.info(COMMANDS_STREAM, 'resources-P1').then(() => true, () => false);
    if (!resourcesServed) console.warn('projections flow test: the resources service handles no commands yet; allocation is not checked');
  });
  afterAll(async () => {
    db?.close();
    await runtime?.stop();
    await fixture?.dispose();
  });

  it('fills every column of every row the order touched, as CONTRACT §2 says', async () => {
    await publishReading(fixture.mosquitto.url, 'P1', 'M-1', { machineStatus: 'Running', qualityTrend: 'Stable', productionTarget: 100, productionActual: 97.5, timestamp: '2026-11-25T11:00:00+01:00', messageId: 'flow-1' });
    await publishReading(fixture.mosquitto.url, 'P1', 'M-1', { machineStatus: 'Fault', qualityTrend: 'Declining', productionTarget: 100, productionActual: 40.25, timestamp: '2026-11-25T10:00:05.123Z', messageId: 'flow-2' });
    const mail = await eventually('the email to alice', async () => fixture.smtp.messages.find((m) => m.subject?.includes('M-1')));
    const links = approvalEmail(mail);
    orderId = links.orderId;
    expect((await submitDecision(links.approveUrl, 'Go ahead')).status).toBe(200);

    const [technicianId, equipmentId] = resourcesServed ? ['T-01', 'EQ-01'] : [null, null];
    if (resourcesServed) {
      await eventually('the allocation', async () => last(await streamEvents('order', orderId), 'MaintenanceOrderResourcesAllocated'));
      await caughtUp();
      db = new Database(fixture.env.SQL_URL!.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
      // While the work goes on, the resources show who holds them.
      expect(row('Resources', 'ResourceID', 'T-01')).toMatchObject({ Status: 'Allocated', OrderID: orderId });
      expect(row('Resources', 'ResourceID', 'EQ-01')).toMatchObject({ Status: 'Allocated', OrderID: orderId });
      expect(row('MaintenanceOrders', 'OrderID', orderId)).toMatchObject({ Status: 'ResourcesAllocated', TechnicianID: 'T-01', EquipmentID: 'EQ-01' });
    } else {
      await eventually('the approval', async () => last(await streamEvents('order', orderId), 'MaintenanceOrderApproved'));
    }

    const completed = await api(`/api/orders/${orderId}/complete`, { method: 'POST', body: JSON.stringify({ by: 'dana@plant1.example' }) }, MARIA_TOKEN);
    expect(completed.status).toBe(200);
    const opened = (await streamEvents('order', orderId)).find((e) => e.type === 'MaintenanceOrderOpened')!;
    await eventually('the workflow to end', async () => last(await streamEvents('workflow', opened.correlationId), 'WorkflowCompleted'));
    if (resourcesServed) {
      for (const id of ['T-01', 'EQ-01']) await eventually(`the release of ${id}`, async () => last(await streamEvents('resource', id), 'ResourceReleased'));
    }
    await caughtUp();
    db ??= new Database(fixture.env.SQL_URL!.slice('sqlite:'.length), { readonly: true, fileMustExist: true });

    for (const [table, columns] of Object.entries(EXPECTED_COLUMNS)) {
      const info = db.prepare(`SELECT name, type, "notnull" FROM pragma_table_info(?)`).all(table) as { name: string; type: string; notnull: number }[];
      expect(info.map((c) => [c.name, c.type, c.notnull]), table).toEqual(columns);
    }

    // MESData: one row per accepted reading, keyed by the reading event's id, at its stream sequence.
    const jsm = await jetstreamManager(runtime.deps.nc);
    const readings: { seq: number; envelope: EventEnvelope<'MachineReadingRecorded', TelemetryReading> }[] = [];
    for await (const msg of readRange(jetstream(runtime.deps.nc), jsm, TELEMETRY_STREAM, 'telemetry.P1.M-1', 1)) readings.push({ seq: msg.seq, envelope: msg.json() });
    expect(readings).toHaveLength(2);
    const mesRows = db.prepare(`SELECT * FROM "MESData" WHERE "ID" = 'M-1' ORDER BY "Timestamp"`).all();
    expect(mesRows).toEqual([
      { EventID: readings[0]!.envelope.eventId, ID: 'M-1', PlantID: 'P1', MachineStatus: 'Running', QualityTrend: 'Stable', ProductionTarget: 100, ProductionActual: 97.5, Timestamp: '2026-11-25T10:00:00.000Z', LastPosition: padded(BigInt(readings[0]!.seq)) },
      { EventID: readings[1]!.envelope.eventId, ID: 'M-1', PlantID: 'P1', MachineStatus: 'Fault', QualityTrend: 'Declining', ProductionTarget: 100, ProductionActual: 40.25, Timestamp: '2026-11-25T10:00:05.123Z', LastPosition: padded(BigInt(readings[1]!.seq)) },
    ]);

    // MaintenanceOrders: the order's current state, every time from its events.
    const orderStream = await streamEvents('order', orderId);
    const approvedEvent = last(orderStream, 'MaintenanceOrderApproved')!;
    const completedEvent = last(orderStream, 'MaintenanceOrderCompleted')!;
    const decided = approvedEvent.data as { decidedAt: string; decidedBy: string };
    expect(row('MaintenanceOrders', 'OrderID', orderId)).toEqual({
      OrderID: orderId,
      MachineID: 'M-1',
      PlantID: 'P1',
      Status: 'Completed',
      Reason: 'Machine fault',
      CreatedAt: new Date((opened.data as { openedAt: string }).openedAt).toISOString(),
      UpdatedAt: new Date((completedEvent.data as { completedAt: string }).completedAt).toISOString(),
      DecidedBy: 'alice@plant1.example',
      DecidedAt: new Date(decided.decidedAt).toISOString(),
      TechnicianID: technicianId,
      EquipmentID: equipmentId,
      LastPosition: padded(completedEvent.position),
    });

    // Approvals: the one request, approved by its approver with the comment.
    const approvalStream = await streamEvents('approval', orderId);
    const requested = last(approvalStream, 'ApprovalRequested')!.data as { approvalId: string; requestedAt: string };
    const decidedEvent = last(approvalStream, 'ApprovalDecided')!;
    expect(db.prepare(`SELECT * FROM "Approvals" WHERE "OrderID" = ?`).all(orderId)).toEqual([
      {
        ApprovalID: requested.approvalId,
        OrderID: orderId,
        Approver: 'alice@plant1.example',
        Status: 'Approved',
        RequestedAt: new Date(requested.requestedAt).toISOString(),
        DecidedAt: new Date((decidedEvent.data as { decidedAt: string }).decidedAt).toISOString(),
        Comment: 'Go ahead',
        LastPosition: padded(decidedEvent.position),
        ApproverName: 'Alice Novak',
        Meaning: `Approved maintenance order ${orderId} for machine M-1`,
      },
    ]);

    // Resources: registered from the plant configuration, allocated, released after completion.
    if (resourcesServed) {
      for (const [id, type, name] of [['T-01', 'Technician', 'Dana Ruiz'], ['EQ-01', 'Equipment', 'Scissor lift']] as const) {
        const released = last(await streamEvents('resource', id), 'ResourceReleased')!;
        expect(row('Resources', 'ResourceID', id)).toEqual({
          ResourceID: id, ResourceType: type, PlantID: 'P1', Name: name, Status: 'Available', OrderID: null,
          UpdatedAt: new Date((released.data as { at: string }).at).toISOString(), UnavailableReason: null, LastPosition: padded(released.position),
        });
      }
    }
    for (const table of ['MaintenanceOrders', 'Approvals', 'Resources', 'MESData']) {
      for (const record of db.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[]) {
        for (const column of ['Timestamp', 'CreatedAt', 'UpdatedAt', 'DecidedAt', 'RequestedAt']) {
          if (record[column] !== undefined && record[column] !== null) expect(record[column], `${table}.${column}`).toMatch(ISO_UTC);
        }
      }
    }
  });

  it('serves the order history from the event log, oldest first, with the approver and the decision', async () => {
    expect((await api(`/api/orders/${orderId}/audit`, {}, null)).status).toBe(401);
    const response = await api(`/api/orders/${orderId}/audit`);
    expect(response.status).toBe(200);
    const audit = (await response.json()) as { orderId: string; machineId: string; plantId: string; entries: AuditEntry[] };
    expect(audit).toMatchObject({ orderId, machineId: 'M-1', plantId: 'P1' });
    const types = audit.entries.map((e) => e.eventType);
    const story = ['MachineStatusChanged', 'MaintenanceOrderOpened', 'ApprovalRequested', 'ApprovalEmailSent', 'ApprovalDecided', ...(resourcesServed ? ['MaintenanceOrderResourcesAllocated'] : []), 'MaintenanceOrderCompleted'];
    const at = story.map((type) => types.indexOf(type));
    expect(at.every((index) => index >= 0), `${story.join(', ')} in ${types.join(', ')}`).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(audit.entries.map((e) => BigInt(e.position))).toEqual(audit.entries.map((e) => BigInt(e.position)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(types.filter((t) => t === 'MachineStatusChanged')).toHaveLength(1);

    const trigger = audit.entries[at[0]!]!;
    expect(trigger).toMatchObject({ actor: { kind: 'device', id: 'M-1' }, data: { current: { machineStatus: 'Fault' }, reading: { messageId: 'flow-2' } } });
    expect(audit.entries[at[3]!]).toMatchObject({ actor: { kind: 'service', id: 'approvals' }, data: { to: 'alice@plant1.example' } });
    const decision = audit.entries[at[4]!]!;
    expect(decision).toMatchObject({
      actor: { kind: 'person', id: 'alice@plant1.example', name: 'Alice Novak' },
      data: { decision: 'approved', approver: { email: 'alice@plant1.example', name: 'Alice Novak' }, comment: 'Go ahead', userAgent: 'flow-test-browser/1.0' },
    });
    expect(decision.time).toMatch(ISO_UTC);
    expect(decision.summary).toMatch(/^approved by Alice Novak <alice@plant1\.example> at .*: "Go ahead"/);
    expect(audit.entries.at(-1)!.time >= decision.time).toBe(true);
    // The completion names the token's holder that called, and the person the request stated.
    expect(audit.entries[at.at(-1)!]).toMatchObject({
      actor: { kind: 'client', id: 'maria@plant1.example' },
      who: 'API client maria@plant1.example',
      data: { completedBy: 'maria@plant1.example', statedBy: 'dana@plant1.example' },
      change: { subject: `order ${orderId}`, from: resourcesServed ? 'ResourcesAllocated' : 'Approved', to: 'Completed' },
      why: 'work reported done by maria@plant1.example, stated by dana@plant1.example',
    });
    // Annex 11 §9: every entry says who, when (UTC), and for each status it changed, from what to what and why.
    for (const entry of audit.entries) {
      expect(entry).toMatchObject({ timeZone: 'UTC', who: expect.any(String) });
      expect(entry.time).toMatch(ISO_UTC);
      if (entry.change !== null) expect(entry.why, `why of ${entry.eventType}`).toEqual(expect.any(String));
    }
    expect(audit.entries[at[1]!]).toMatchObject({ change: { subject: `order ${orderId}`, from: null, to: 'PendingApproval' }, why: 'Machine fault' });
    expect(audit.entries[at[4]!]).toMatchObject({ change: { subject: expect.stringMatching(/^approval request AP_/), from: 'Pending', to: 'Approved' }, why: 'comment: "Go ahead"' });
    expect(audit.entries.find((e) => e.eventType === 'MaintenanceOrderApproved')).toMatchObject({ change: { from: 'PendingApproval', to: 'Approved' }, why: 'decision of Alice Novak <alice@plant1.example>, comment: "Go ahead"' });
    if (resourcesServed) {
      const ofResources = (type: string) => audit.entries.filter((e) => e.eventType === type).map((e) => [e.change?.subject, e.change?.from, e.change?.to, e.why]).sort();
      expect(ofResources('ResourceAllocated')).toEqual([
        ['resource EQ-01', 'Available', `Allocated (order ${orderId})`, `order ${orderId} approved and waiting for it`],
        ['resource T-01', 'Available', `Allocated (order ${orderId})`, `order ${orderId} approved and waiting for it`],
      ]);
      expect(ofResources('ResourceReleased')).toEqual([
        ['resource EQ-01', `Allocated (order ${orderId})`, 'Available', `order ${orderId} is Completed`],
        ['resource T-01', `Allocated (order ${orderId})`, 'Available', `order ${orderId} is Completed`],
      ]);
    }

    const unknown = await api('/api/orders/MO_unknown/audit');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await unknown.json()).toEqual({ type: 'urn:mes:problem:order-not-found', title: 'No such maintenance order', status: 404, detail: 'no maintenance order MO_unknown', code: 'ORDER_NOT_FOUND' });
  });

  it('exports the history as CSV, JSON lines and a printable HTML record; a wrong format is refused', async () => {
    const json = (await (await api(`/api/orders/${orderId}/audit`)).json()) as { entries: AuditEntry[] };
    expect((await (await api(`/api/orders/${orderId}/audit?format=json`)).json())).toEqual(json);

    const csv = await api(`/api/orders/${orderId}/audit?format=csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="${orderId}-audit.csv"`);
    const rows = (await csv.text()).split('\r\n');
    expect(rows[0]).toBe('Time (UTC),Event,Event version,Actor kind,Actor,What changed,From,To,Why,Summary,Stream,Position,Event ID,Correlation ID,Causation ID,Hash,Previous hash,Data (JSON)');
    expect(rows.at(-1)).toBe('');
    expect(rows.filter((row) => row.includes(',MaintenanceOrderCompleted,1,client,API client maria@plant1.example,'))).toHaveLength(1);
    for (const entry of json.entries) expect(rows.some((row) => row.includes(entry.eventId)), entry.eventId).toBe(true);

    const jsonl = await api(`/api/orders/${orderId}/audit?format=jsonl`);
    expect(jsonl.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect((await jsonl.text()).trim().split('\n').map((line) => JSON.parse(line) as AuditEntry)).toEqual(json.entries);

    const html = await api(`/api/orders/${orderId}/audit?format=html`, {}, AUDITOR_TOKEN);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'");
    const record = await html.text();
    expect(record).toMatch(/^<!DOCTYPE html>/);
    expect(record).toContain(`Audit record of maintenance order ${orderId}`);
    expect(record).toMatch(/Exported \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC by auditor/);
    expect(record).toContain('<dt>Machine</dt><dd>M-1</dd>');
    expect(record).toContain('<dt>Status</dt><dd>Completed</dd>');
    expect(record).toContain('<td>Fault</td><td>Declining</td><td>40.25</td><td>100</td><td>flow-2</td>');
    expect(record).toMatch(/<td>Alice Novak<\/td><td>alice@plant1\.example<\/td><td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC<\/td><td>Approved maintenance order MO_\S+ for machine M-1<\/td><td>Go ahead<\/td>/);
    expect(record).toMatch(/<p class="chain-verified">chain: verified \d+ events in \d+ streams<\/p>/);
    expect(record).not.toMatch(/<script/i);

    for (const bad of ['xml', 'CSV', '']) {
      const refused = await api(`/api/orders/${orderId}/audit?format=${bad}`);
      expect(refused.status).toBe(400);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await refused.json()).toMatchObject({ status: 400, code: 'INVALID_REQUEST', detail: `format must be one of json, csv, jsonl, html (got ${JSON.stringify(bad)})` });
    }
    expect((await api(`/api/orders/${orderId}/audit?format=csv&format=html`)).status).toBe(400);
    expect((await api(`/api/orders/${orderId}/audit?format=csv`, {}, null)).status).toBe(401);
    expect((await api('/api/orders/MO_unknown/audit?format=html')).status).toBe(404);
  });
});
