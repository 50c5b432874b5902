// One incident, one trace: the spans of every service in one process are collected in memory (the
// tracing set-up of production, with an in-memory exporter instead of OTLP) while a fault reading
// travels over MQTT, the approver decides through the emailed link over HTTP, and resources are
// allocated; against real nats-server, Mosquitto and an SMTP server on loopback.
import { start as approvals } from '@mes/approvals';
import { COMMANDS_STREAM, commandSubject, streamName } from '@mes/contracts';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { checkLink, GENESIS_HASH, startRuntime, type RecordedEvent, type Runtime } from '@mes/platform';
import { collectSpans, freePort, type ReadableSpan, type SpanCollector } from '@mes/platform/testing';
import { start as resources } from '@mes/resources';
import { start as workflow } from '@mes/workflow';
import { jetstreamManager } from '@nats-io/jetstream';
import mqtt from 'mqtt';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalEmail, eventually, mailsTo, orderEvents, publishReading, startFlowFixture, submitDecision, type FlowFixture } from './testing/flowFixture.js';

let fixture: FlowFixture;
let runtime: Runtime;
let collector: SpanCollector;
let running = false;

beforeAll(async () => {
  // Registered before the services start, as startRuntime does with OTEL_EXPORTER_OTLP_ENDPOINT set.
  collector = collectSpans();
  fixture = await startFlowFixture();
  const port = await freePort();
  runtime = await startRuntime('traces', { resources, maintenance, approvals, workflow, ingest }, { ...fixture.env, HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
  running = true;
});
afterAll(async () => {
  if (running) await runtime?.stop();
  await fixture?.dispose();
  await collector?.stop();
});

const store = () => runtime.deps.eventStore;
const attribute = (span: ReadableSpan, key: string) => span.attributes[key];
const newCursor = (stream: string) => ({ stream, lastHash: GENESIS_HASH, events: 0 });
const traceIdOf = (traceparent: string | undefined) => traceparent?.split('-')[1];

/** The names of `span` and its ancestors, nearest first, as far as `spans` holds them. */
function ancestry(span: ReadableSpan, spans: ReadableSpan[]): string[] {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const names: string[] = [];
  for (let parent = span.parentSpanContext?.spanId; parent !== undefined; ) {
    const next = byId.get(parent);
    if (next === undefined) break;
    names.push(next.name);
    parent = next.parentSpanContext?.spanId;
  }
  return names;
}

describe('traces', () => {
  it('continues the trace a device sends in MQTT 5 user properties', async () => {
    const traceId = randomBytes(16).toString('hex');
    const deviceSpanId = randomBytes(8).toString('hex');
    const client = await mqtt.connectAsync(fixture.mosquitto.url, { protocolVersion: 5, reconnectPeriod: 0 });
    try {
      const reading = { machineStatus: 'Fault', qualityTrend: 'Stable', productionTarget: 100, productionActual: 40 };
      await client.publishAsync('mes/P1/M-80/telemetry', JSON.stringify(reading), { qos: 1, properties: { userProperties: { traceparent: `00-${traceId}-${deviceSpanId}-01`, tracestate: 'plant=p1' } } });
    } finally {
      await client.endAsync();
    }
    const span = await eventually('the span of the reading of M-80', async () => collector.spans().find((s) => s.name === 'reading M-80'));
    expect(span.spanContext().traceId).toBe(traceId);
    expect(span.parentSpanContext?.spanId).toBe(deviceSpanId);
    const changed = (await store().readStream(streamName('P1', 'machine', 'M-80'))).events.find((e) => e.type === 'MachineStatusChanged');
    expect(traceIdOf(changed?.traceparent)).toBe(traceId);
    expect(changed?.tracestate).toBe('plant=p1');
  });

  it('follows one incident in one trace, from the reading through the email and the decision to the allocation', async () => {
    await publishReading(fixture.mosquitto.url, 'P1', 'M-7', { machineStatus: 'Running' });
    await publishReading(fixture.mosquitto.url, 'P1', 'M-7', { machineStatus: 'Fault', productionActual: 40 });
    const mail = await eventually('the approval email for M-7', async () => mailsTo(fixture.smtp, 'alice@plant1.example').find((m) => m.subject?.includes('M-7')));
    const email = approvalEmail(mail);
    expect((await submitDecision(email.approveUrl, 'Go ahead')).status).toBe(200);
    await eventually('the allocation', async () => ((await orderEvents(store(), 'P1', email.orderId)).includes('MaintenanceOrderResourcesAllocated') ? true : undefined));
    await eventually('the span of the allocation reply', async () => collector.spans().find((s) => s.name === 'maintenance handle RecordOrderResourcesAllocated'));
    const workflowId = (await store().readStream(streamName('P1', 'order', email.orderId))).events[0]!.correlationId;
    const incidentStreams = [streamName('P1', 'order', email.orderId), streamName('P1', 'approval', email.orderId), streamName('P1', 'workflow', workflowId)];
    const stored = await Promise.all(incidentStreams.map(async (stream) => ({ stream, events: (await store().readStream(stream)).events })));
    const allocated = (await store().readStream(streamName('P1', 'resource', 'T-01'))).events.filter((e) => e.type === 'ResourceAllocated');
    const command = await (await jetstreamManager(runtime.deps.nc)).streams.getMessage(COMMANDS_STREAM, { last_by_subj: commandSubject('P1', 'resources', 'AllocateResources') });
    // Stopping waits for every handler in progress, so every span started has ended.
    await runtime.stop();
    running = false;

    const spans = collector.spans();
    const reading = spans.find((s) => s.name === 'reading M-7' && attribute(s, 'mes.machine_status') === 'Fault');
    expect(reading, 'the span of the fault reading').toBeDefined();
    const incident = new Set([workflowId, attribute(reading!, 'mes.correlation_id')]);

    // Every span of the incident, in whichever service, is in one trace, and that trace is the incident alone.
    const ofIncident = spans.filter((s) => incident.has(attribute(s, 'mes.correlation_id') as string));
    const traceIds = new Set(ofIncident.map((s) => s.spanContext().traceId));
    expect([...traceIds]).toEqual([reading!.spanContext().traceId]);
    const trace = spans.filter((s) => s.spanContext().traceId === reading!.spanContext().traceId);
    expect(trace.filter((s) => !incident.has(attribute(s, 'mes.correlation_id') as string)).map((s) => s.name)).toEqual([]);

    // One root, the reading; every other span's parent is in the trace.
    expect(trace.filter((s) => s.parentSpanContext === undefined)).toEqual([reading]);
    const ids = new Set(trace.map((s) => s.spanContext().spanId));
    const orphans = trace.filter((s) => s !== reading && !ids.has(s.parentSpanContext?.spanId ?? ''));
    expect(orphans.map((s) => s.name)).toEqual([]);

    // A span for each step, each in the chain of what caused it.
    const named = (name: string) => {
      const found = trace.filter((s) => s.name === name);
      expect(found.length, `spans named ${name}`).toBeGreaterThan(0);
      return found[0]!;
    };
    expect(ancestry(named('workflow handle MachineStatusChanged'), trace)).toEqual(['reading M-7']);
    expect(ancestry(named('maintenance handle OpenMaintenanceOrder'), trace)).toContain('workflow handle MachineStatusChanged');
    expect(ancestry(named('approvals handle RequestApproval'), trace)).toContain('maintenance handle OpenMaintenanceOrder');
    expect(ancestry(named('send approval email'), trace)).toEqual(expect.arrayContaining(['approvals-mail handle ApprovalRequested', 'approvals handle RequestApproval', 'reading M-7']));
    expect(ancestry(named('approval decision'), trace)).toEqual(expect.arrayContaining(['approvals handle RequestApproval', 'reading M-7']));
    expect(ancestry(named('resources handle AllocateResources'), trace)).toEqual(expect.arrayContaining(['approval decision', 'reading M-7']));
    expect(ancestry(named('maintenance handle RecordOrderResourcesAllocated'), trace)).toContain('resources handle AllocateResources');

    // The context is in the stored data: every event of the incident carries the trace, under its hash.
    const traceId = reading!.spanContext().traceId;
    for (const { stream, events } of stored) {
      expect(events.length).toBeGreaterThan(0);
      const cursor = newCursor(stream);
      for (const event of events) {
        expect(traceIdOf(event.traceparent), `${stream}: ${event.type}`).toBe(traceId);
        expect(checkLink(cursor, event)).toBeUndefined();
        const retraced: RecordedEvent = { ...event, traceparent: `00-${traceId}-${'1'.repeat(16)}-01` };
        expect(checkLink({ ...cursor, lastHash: event.previousHash! }, retraced), 'the hash covers the trace context').toBeDefined();
      }
    }
    expect(allocated.map((e) => traceIdOf(e.traceparent))).toEqual([traceId]);
    expect(traceIdOf(command?.json<{ traceparent?: string }>().traceparent)).toBe(traceId);
  });
});
