// The chain check of an order's history over HTTP (`chain` of GET /api/orders/{orderId}/audit),
// against a real nats-server: it holds for a history written through the event store, agrees with
// `verifyChains` (what `mes audit verify --order` runs), and names the stream and position of an
// event appended straight to the order's subject, past the store.
import { EVENTS_SUBJECT_PREFIX, streamName } from '@mes/contracts';
import { OrderIndex, verifyChains, type Runtime } from '@mes/platform';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProjectionsFixture, startProjectionsRuntime, TEST_API_TOKEN, type ProjectionsFixture } from '../testing/projectionsFixture.js';
import { writeSyntheticHistory } from '../testing/syntheticHistory.js';
import type { CheckedOrderAudit } from './audit.js';
import { createProjectionsService } from './startProjections.js';

describe('the hash chain check of an order\'s history', () => {
  let fixture: ProjectionsFixture;
  let runtime: Runtime;
  const audit = async (orderId: string, format = 'json') => fetch(`${runtime.httpUrl}/api/orders/${orderId}/audit?format=${format}`, { headers: { authorization: `Bearer ${TEST_API_TOKEN}` } });
  const auditJson = async (orderId: string) => {
    const response = await audit(orderId);
    expect(response.status).toBe(200);
    return (await response.json()) as CheckedOrderAudit;
  };

  beforeAll(async () => {
    fixture = await startProjectionsFixture();
    runtime = await startProjectionsRuntime(fixture, { projections: createProjectionsService() });
    // Incident 0 is completed with resources (its history spans the resources' streams), 1 is rejected.
    await writeSyntheticHistory(runtime.deps.eventStore, runtime.deps.nc, { plants: ['P1'], incidents: 2, prefix: 'C' });
    const index = new OrderIndex(runtime.deps.nc);
    for (const i of [0, 1]) await index.record({ orderId: `MO_CP1_${i}`, plantId: 'P1', machineId: `CM-${i}`, workflowId: `WF_CP1_${i}` });
  });
  afterAll(async () => {
    await runtime?.stop();
    await fixture?.dispose();
  });

  it('holds for a history written through the event store, counting every event of the streams it was read from', async () => {
    const body = await auditJson('MO_CP1_0');
    expect(body.streams).toEqual(expect.arrayContaining(['P1.order.MO_CP1_0', 'P1.resource.CP1-T-01', 'P1.machine.CM-0']));
    let events = 0;
    let streams = 0;
    for (const stream of body.streams) {
      const read = (await runtime.deps.eventStore.readStream(stream)).events.length;
      events += read;
      if (read > 0) streams++;
    }
    // Each stream whole: the resources' registrations too, which are not entries of this order.
    expect(events).toBeGreaterThan(body.entries.length);
    expect(body.chain).toEqual({ ok: true, verifiedEvents: events, streams });
    expect(await verifyChains(runtime.deps.eventStore, { streams: body.streams })).toEqual({ events, streams });
  });

  it('names the stream and position of an event appended past the store, and the export says the same', async () => {
    const stream = streamName('P1', 'order', 'MO_CP1_1');
    const before = (await runtime.deps.eventStore.readStream(stream)).events;
    const forged = { eventId: 'forged-cancel-1', type: 'MaintenanceOrderCancelled', version: 1, stream, occurredAt: new Date().toISOString(), correlationId: 'WF_CP1_1', causationId: null, actor: { kind: 'person', id: 'mallory' }, data: { orderId: 'MO_CP1_1', cancelledBy: 'mallory', reason: 'never happened' } };
    await jetstream(runtime.deps.nc).publish(`${EVENTS_SUBJECT_PREFIX}.${stream}`, JSON.stringify([forged]));
    const stored = (await runtime.deps.eventStore.readStream(stream)).events;
    expect(stored).toHaveLength(before.length + 1);
    const position = stored.at(-1)!.position.toString();

    const body = await auditJson('MO_CP1_1');
    expect(body.entries.at(-1)).toMatchObject({ eventId: 'forged-cancel-1', hash: null });
    expect(body.chain).toMatchObject({ ok: false, firstBreak: { stream, position, eventId: 'forged-cancel-1', reason: expect.stringContaining('carries no hash') } });
    const checked = await verifyChains(runtime.deps.eventStore, { streams: body.streams });
    expect(checked.broken).toMatchObject({ stream, eventId: 'forged-cancel-1' });
    expect(body.chain.verifiedEvents).toBe(checked.events - 1);

    const record = await (await audit('MO_CP1_1', 'html')).text();
    expect(record).toContain(`chain: BROKEN in stream ${stream} at position ${position}`);
    // The other order's streams are untouched.
    expect((await auditJson('MO_CP1_0')).chain.ok).toBe(true);
  });
});
