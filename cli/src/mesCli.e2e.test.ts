// The `mes` command line against a running system (every service in one process, real nats-server,
// Mosquitto, an SMTP server and a SQLite file): one order is faulted, approved and completed, then
// its history is printed with `mes audit` (the same entries as the HTTP audit) and the reporting
// tables are rebuilt with `mes projections rebuild` to the same content; `mes dead-letters` pages
// through more dead letters than one bounded read holds.
import { streamName } from '@mes/contracts';
import { start as approvals } from '@mes/approvals';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { startRuntime, type RecordedEvent, type Runtime } from '@mes/platform';
import { approvalEmail, eventually, freePort, publishReading, startFlowFixture, submitDecision, type FlowFixture } from '@mes/platform/testing';
import { start as projections, type AuditEntry } from '@mes/projections';
import { start as resources } from '@mes/resources';
import { start as workflow } from '@mes/workflow';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './mesCli.js';

const PLANTS_YAML = `plants:
  P1:
    approvers:
      - { email: alice@plant1.example, name: Alice Novak }
      - { email: bob@plant1.example, name: Bob Ito }
    approvalTimeout: PT30M
    resources:
      - { id: T-01, type: Technician, name: Dana Ruiz }
      - { id: EQ-01, type: Equipment, name: Scissor lift }
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
`;

const REPORTING_TABLES = ['MESData', 'MaintenanceOrders', 'Resources', 'Approvals'];

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runCli(args, { stdout, stderr, env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('mes audit and mes projections rebuild on a running system', () => {
  let fixture: FlowFixture;
  let runtime: Runtime;
  let db: Database.Database;
  let orderId: string;
  const api = (path: string) => fetch(`${runtime.httpUrl}${path}`, { headers: { authorization: `Bearer ${fixture.env.API_TOKEN!}` } });
  const streamEvents = async (category: 'order' | 'workflow', id: string) => (await runtime.deps.eventStore.readStream(streamName('P1', category, id))).events;
  const last = (events: RecordedEvent[], type: string) => events.filter((e) => e.type === type).at(-1);

  /** Waits until the projections report every source applied to the end of its log. */
  async function caughtUp(): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { sources } = (await (await api('/api/projections/status')).json()) as { sources: { upToDate: boolean }[] };
      if (sources.every((source) => source.upToDate)) return;
      if (Date.now() > deadline) throw new Error(`projections did not catch up: ${JSON.stringify(sources)}`);
      await sleep(50);
    }
  }

  beforeAll(async () => {
    fixture = await startFlowFixture({ plantsYaml: PLANTS_YAML });
    const port = await freePort();
    runtime = await startRuntime('cli-flow', { projections, resources, maintenance, approvals, workflow, ingest }, { ...fixture.env, HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });

    await publishReading(fixture.mosquitto.url, 'P1', 'M-1', { machineStatus: 'Running', messageId: 'cli-1' });
    await publishReading(fixture.mosquitto.url, 'P1', 'M-1', { machineStatus: 'Fault', messageId: 'cli-2' });
    const links = approvalEmail(await eventually('the email to alice', async () => fixture.smtp.messages.find((m) => m.subject?.includes('M-1'))));
    orderId = links.orderId;
    expect((await submitDecision(links.approveUrl, 'Go ahead')).status).toBe(200);
    await eventually('the allocation', async () => last(await streamEvents('order', orderId), 'MaintenanceOrderResourcesAllocated'));
    const completed = await fetch(`${runtime.httpUrl}/api/orders/${orderId}/complete`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fixture.env.API_TOKEN!}`, 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'dana@plant1.example' }),
    });
    expect(completed.status).toBe(200);
    const opened = (await streamEvents('order', orderId)).find((e) => e.type === 'MaintenanceOrderOpened')!;
    await eventually('the workflow to end', async () => last(await streamEvents('workflow', opened.correlationId), 'WorkflowCompleted'));
    await caughtUp();
    db = new Database(fixture.env.SQL_URL!.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
  });
  afterAll(async () => {
    db?.close();
    await runtime?.stop();
    await fixture?.dispose();
  });

  it('prints the same history with mes audit, one JSON object per line with --json', async () => {
    const env = { ...fixture.env, LOG_LEVEL: 'warn' };
    const json = await cli(['audit', 'order', orderId, '--json'], env);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as AuditEntry);
    const fromApi = ((await (await api(`/api/orders/${orderId}/audit`)).json()) as { entries: AuditEntry[] }).entries;
    expect(lines).toEqual(fromApi);

    const text = await cli(['audit', 'order', orderId], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^Order ${orderId}: machine M-1, plant P1, workflow WF_`));
    expect(text.stdout).toMatch(/ApprovalDecided\s+Alice Novak <alice@plant1\.example>\s+approved by Alice Novak/);

    const machine = await cli(['audit', 'machine', 'M-1', '--json'], env);
    expect(machine.code).toBe(0);
    const machineEntries = machine.stdout.trim().split('\n').map((l) => JSON.parse(l) as AuditEntry);
    // Both condition changes (Running, then Fault) and the whole order.
    expect(machineEntries.filter((e) => e.eventType === 'MachineStatusChanged')).toHaveLength(2);
    expect(machineEntries.map((e) => e.eventId)).toEqual(expect.arrayContaining(lines.map((e) => e.eventId)));

    // Every entry says what it changed and why, on lines of its own under the first.
    expect(text.stdout).toMatch(/\n {4}changed: order MO_\S+: PendingApproval -> Approved\n {4}why: decision of Alice Novak <alice@plant1\.example>, comment: "Go ahead"\n/);
    expect(text.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC {2}MaintenanceOrderCompleted +API client api /m);

    expect(await cli(['audit', 'order', 'MO_nope'], env)).toEqual({ code: 1, stdout: '', stderr: 'mes: no maintenance order MO_nope\n' });
    expect((await cli(['audit', 'machine', 'M-404'], env)).stderr).toBe('mes: no machine M-404 in the event log of plant P1\n');
    expect((await cli(['audit', 'order'], env)).code).toBe(2);
    expect((await cli(['audit', 'order', orderId], { ...env, NATS_URL: 'nats://127.0.0.1:1' })).stderr).toMatch(/^mes: cannot reach NATS at nats:\/\/127\.0\.0\.1:1 \(NATS_URL\)/);
  });

  it('exports the history for auditors with --format, as the HTTP audit does', async () => {
    const env = { ...fixture.env, LOG_LEVEL: 'warn', MES_OPERATOR: 'auditor@plant1.example' };
    const csv = await cli(['audit', 'order', orderId, '--format', 'csv'], env);
    expect(csv).toMatchObject({ code: 0, stderr: '' });
    expect(csv.stdout).toBe(await (await api(`/api/orders/${orderId}/audit?format=csv`)).text());

    const jsonl = await cli(['audit', 'order', orderId, '--format', 'jsonl'], env);
    expect(jsonl.stdout).toBe((await cli(['audit', 'order', orderId, '--json'], env)).stdout);

    const html = await cli(['audit', 'order', orderId, '--format', 'html'], env);
    expect(html.code).toBe(0);
    expect(html.stdout).toMatch(/^<!DOCTYPE html>/);
    expect(html.stdout).toMatch(/Exported \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC by auditor@plant1\.example/);
    expect(html.stdout).toContain(`<dt>Order</dt><dd>${orderId}</dd>`);
    expect(html.stdout).toContain('<dt>Status</dt><dd>Completed</dd>');
    expect(html.stdout).toContain('<td>Alice Novak</td><td>alice@plant1.example</td>');

    expect((await cli(['audit', 'order', orderId, '--format', 'xml'], env))).toMatchObject({ code: 2, stderr: expect.stringMatching(/^mes: --format takes csv, jsonl, html \(got "xml"\)/) });
  });

  it('verifies the hash chains of the log, a plant and an order; names the first break of a forged event', async () => {
    const whole = await cli(['audit', 'verify'], fixture.env);
    expect(whole.code, whole.stderr).toBe(0);
    expect(whole.stdout).toMatch(/^verified \d+ events in \d+ streams\n$/);
    expect(whole.stderr).toContain('verify: recomputing the hash chains of the whole log');
    const order = await cli(['audit', 'verify', '--order', orderId], fixture.env);
    expect(order.code, order.stderr).toBe(0);
    const [, orderEvents, orderStreams] = /^verified (\d+) events in (\d+) streams/.exec(order.stdout)!;
    expect(Number(orderStreams)).toBeGreaterThanOrEqual(3);
    expect(Number(orderEvents)).toBeLessThan(Number(/^verified (\d+)/.exec(whole.stdout)![1]));

    // Someone with write access to NATS appends an event to the order's stream, around the services.
    const stream = streamName('P1', 'order', orderId);
    const { events } = await runtime.deps.eventStore.readStream(stream);
    const { position: _position, ...lastEnvelope } = events.at(-1)!;
    await jetstream(runtime.deps.nc).publish(`es.${stream}`, JSON.stringify([{ ...lastEnvelope, eventId: 'forged-completion', previousHash: lastEnvelope.hash }]));
    const broken = await cli(['audit', 'verify', '--plant', 'P1'], fixture.env);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(new RegExp(`chain broken in stream ${stream} at position \\d+: event forged-completion`));
  });

  it('says in the HTML record of an order that its chain is broken (after the forged event above)', async () => {
    const html = await cli(['audit', 'order', orderId, '--format', 'html'], fixture.env);
    expect(html.code).toBe(0);
    expect(html.stdout).toMatch(new RegExp(`<p class="chain-broken">chain: BROKEN in stream P1\\.order\\.${orderId} at position \\d+: event forged-completion`));
  });

  it('rebuilds the tables with mes projections rebuild, to the same content', async () => {
    const dump = () => Object.fromEntries(REPORTING_TABLES.map((table) => [table, db.prepare(`SELECT * FROM "${table}" ORDER BY 1`).all()]));
    // The live projections first apply all there is (the test before appended a forged event).
    await caughtUp();
    const before = dump();
    const rebuild = await cli(['projections', 'rebuild'], { ...fixture.env, LOG_LEVEL: 'warn' });
    expect(rebuild.stderr).toBe('');
    expect(rebuild.code).toBe(0);
    expect(rebuild.stdout).toMatch(/^rebuild: reporting tables in sqlite:.*mes\.sqlite/);
    // Counts and rates are printed with thousands separators (1,857/s).
    expect(rebuild.stdout).toMatch(/rebuild: copying events: [\d,]+ applied \([\d,]+\/s\), position \d+ of \d+/);
    expect(rebuild.stdout).toMatch(/rebuild: done in [\d.]+ s: [\d,]+ events .* and 2 readings/);
    db.close();
    db = new Database(fixture.env.SQL_URL!.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
    expect(dump()).toEqual(before);
  });

  it('lists more dead letters than one bounded page holds, newest first, each once', async () => {
    // 70 payloads of 70 KiB: each dead letter keeps 64 KiB, together more than one page (4 MiB).
    const client = await mqtt.connectAsync(fixture.mosquitto.url);
    for (let i = 0; i < 70; i++) await client.publishAsync('mes/P1/M-big/telemetry', `${i} `.padEnd(70 * 1024, 'x'), { qos: 1 });
    await client.endAsync();
    const listed = async () => {
      const run = await cli(['dead-letters', '--plant', 'P1', '--limit', '100', '--json'], fixture.env);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      return run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { sequence: number; payload: string; truncated: boolean });
    };
    const letters = await eventually('the 70 dead letters', async () => {
      const all = await listed();
      return all.length >= 70 ? all : undefined;
    });
    expect(letters).toHaveLength(70);
    expect(letters.map((l) => Number.parseInt(l.payload, 10))).toEqual([...Array(70).keys()].reverse());
    expect(letters.every((l) => l.truncated && l.payload.length === 64 * 1024)).toBe(true);
    expect(new Set(letters.map((l) => l.sequence)).size).toBe(70);
  });
});
