// Trace context across JetStream: a command or event carries the span that wrote it, its handling
// runs in a consumer span continuing it, and a malformed context is ignored (a trace of its own),
// never a reason to refuse the message. Real nats-server; spans collected in memory.
import { commandSubject, streamName, type Command } from '@mes/contracts';
import { SpanStatusCode } from '@opentelemetry/api';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedDomainEvent } from '../eventStore/eventStore.js';
import { JetStreamEventStore } from '../eventStore/jetStreamEventStore.js';
import { provisionTopology } from '../nats/topology.js';
import { createLogger } from '../runtime/logger.js';
import { inSpan } from '../runtime/traceContext.js';
import { newEvent, uniquePlant, waitFor } from '../testing/eventStoreContract.js';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import { collectSpans, type SpanCollector } from '../testing/spanCollector.js';
import { sendCommand, startCommandHandlers } from './commandBus.js';
import { startEventConsumer } from './eventConsumer.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const MALFORMED = ['garbage', '00-00000000000000000000000000000000-00f067aa0ba902b7-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7'];

function releaseResources(plantId: string, orderId: string, commandId: string): Command {
  return { type: 'ReleaseResources', version: 1, commandId, correlationId: `WF_${orderId}`, plantId, issuedAt: new Date().toISOString(), actor: { kind: 'service', id: 'test' }, orderId };
}

describe('trace context over JetStream', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let store: JetStreamEventStore;
  let collector: SpanCollector;

  beforeAll(async () => {
    collector = collectSpans();
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await provisionTopology(nc, await jetstreamManager(nc), { dedupeWindowMs: 120_000 });
    store = new JetStreamEventStore({ nc, stream: 'MES_EVENTS', subjectPrefix: 'es' });
  });
  afterAll(async () => {
    await store?.close();
    await nc?.close();
    await server?.dispose();
    await collector?.stop();
  });

  const spanNamed = (name: string) => collector.spans().filter((s) => s.name === name);

  it('continues the sender\'s trace in the command\'s handling, and in the events it appends', async () => {
    const plantId = uniquePlant();
    const stream = streamName(plantId, 'resource', 'T-01');
    const handled: Command[] = [];
    const handlers = await startCommandHandlers({
      nc,
      service: 'resources',
      plants: [plantId],
      logger,
      handle: async (command) => {
        await store.appendToStream(stream, [newEvent('ResourceReleased', { orderId: 'MO_1' })], { expectedRevision: 'any' });
        handled.push(command);
      },
    });
    try {
      await inSpan('workflow step', { root: true }, () => sendCommand(nc, releaseResources(plantId, 'MO_1', `${plantId}-c1`)));
      await waitFor(handled, 1);
    } finally {
      await handlers.stop();
    }
    const [step] = spanNamed('workflow step');
    const handling = spanNamed('resources handle ReleaseResources').find((s) => s.attributes['messaging.message.id'] === `${plantId}-c1`);
    expect(handled[0]!.traceparent).toBe(`00-${step!.spanContext().traceId}-${step!.spanContext().spanId}-01`);
    expect(handling?.parentSpanContext?.spanId).toBe(step!.spanContext().spanId);
    expect(handling?.attributes).toMatchObject({ 'messaging.system': 'nats', 'messaging.destination.name': commandSubject(plantId, 'resources', 'ReleaseResources'), 'mes.correlation_id': 'WF_MO_1' });
    const [released] = (await store.readStream(stream)).events;
    expect(released?.traceparent).toBe(`00-${handling!.spanContext().traceId}-${handling!.spanContext().spanId}-01`);
  });

  it('handles a command whose traceparent is malformed, in a trace of its own', async () => {
    const plantId = uniquePlant();
    const handled: Command[] = [];
    const handlers = await startCommandHandlers({ nc, service: 'resources', plants: [plantId], logger, handle: async (command) => void handled.push(command) });
    try {
      const js = jetstream(nc);
      for (const [index, traceparent] of MALFORMED.entries()) {
        // As another writer (or an older build) might have sent it: straight to the stream.
        const command = { ...releaseResources(plantId, `MO_${index}`, `${plantId}-bad-${index}`), traceparent, tracestate: 'x'.repeat(600) };
        await js.publish(commandSubject(plantId, 'resources', 'ReleaseResources'), JSON.stringify(command), { msgID: command.commandId });
      }
      await waitFor(handled, MALFORMED.length);
    } finally {
      await handlers.stop();
    }
    expect(handled.map((c) => [c.traceparent, c.tracestate])).toEqual(MALFORMED.map(() => [undefined, undefined]));
    const spans = spanNamed('resources handle ReleaseResources').filter((s) => String(s.attributes['messaging.message.id']).startsWith(`${plantId}-bad-`));
    expect(spans).toHaveLength(MALFORMED.length);
    for (const span of spans) expect(span.parentSpanContext).toBeUndefined();
  });

  it('handles an event whose traceparent is malformed, in a trace of its own', async () => {
    const plantId = uniquePlant();
    const stream = streamName(plantId, 'order', 'MO_1');
    const completed = { orderId: 'MO_1', completedAt: new Date().toISOString(), completedBy: 'maria@plant1.example' };
    for (const traceparent of MALFORMED) await store.appendToStream(stream, [{ ...newEvent('MaintenanceOrderCompleted', completed), traceparent }], { expectedRevision: 'any' });
    const seen: RecordedDomainEvent[] = [];
    const consumer = await startEventConsumer({ nc, name: 'traces', plants: [plantId], logger, handle: async (event) => void seen.push(event) });
    try {
      await waitFor(seen, MALFORMED.length);
    } finally {
      await consumer.stop();
    }
    expect(seen.map((event) => event.traceparent)).toEqual(MALFORMED);
    const spans = spanNamed('traces handle MaintenanceOrderCompleted').filter((s) => s.attributes['mes.stream'] === stream);
    expect(spans).toHaveLength(MALFORMED.length);
    for (const span of spans) {
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
    }
  });
});
