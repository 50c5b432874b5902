// The start-up pass over open workflows' histories: one read per plant from the oldest open claim,
// whole histories only, and stream by stream when the pass would be long or the store cannot do it.
import { streamName } from '@mes/contracts';
import { createLogger, JetStreamEventStore, provisionTopology, type EventStore } from '@mes/platform';
import { newEvent, startNatsServer, withOverrides, type NatsServerHandle } from '@mes/platform/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenWorkflowClaims, type OpenWorkflow } from './openWorkflowClaims.js';
import { readOpenWorkflowHistories } from './openWorkflowHistories.js';

let nats: NatsServerHandle;
let nc: NatsConnection;
let store: JetStreamEventStore;
let claims: OpenWorkflowClaims;
const logger = createLogger({ service: 'test', level: 'silent' });

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  await provisionTopology(nc, await jetstreamManager(nc), { dedupeWindowMs: 120_000 });
  store = new JetStreamEventStore({ nc, stream: 'MES_EVENTS', subjectPrefix: 'es' });
  claims = await OpenWorkflowClaims.open(nc);
});
afterAll(async () => {
  await store?.close();
  await nc?.close();
  await nats?.dispose();
});

async function record(plantId: string, workflowId: string, types: string[]): Promise<void> {
  await store.appendToStream(streamName(plantId, 'workflow', workflowId), types.map((type) => newEvent(type, { workflowId })), { expectedRevision: 'any' });
}

const options = { marginMs: 0, eventsPerOpen: 50, minEvents: 1_000, logger };

describe('open workflow histories in one pass', () => {
  let open: OpenWorkflow[];

  beforeAll(async () => {
    // WF_old began (its start recorded) before any open claim; WF_a and WF_b after them, WF_done is not open.
    await record('P1', 'WF_old', ['WorkflowStarted']);
    await sleep(30);
    for (const [machine, wf] of [['M-1', 'WF_a'], ['M-2', 'WF_b'], ['M-3', 'WF_old']] as const) expect(await claims.claim('P1', machine, wf)).toBe(true);
    await record('P1', 'WF_a', ['WorkflowStarted']);
    await record('P1', 'WF_done', ['WorkflowStarted']);
    await record('P1', 'WF_b', ['WorkflowStarted']);
    await record('P1', 'WF_a', ['WorkflowStepRecorded', 'WorkflowTimeoutScheduled']);
    await record('P1', 'WF_old', ['WorkflowStepRecorded']);
    await record('P1', 'WF_done', ['WorkflowCompleted']);
    open = await claims.listOpen(new Set(['P1']));
    expect(open.map((o) => o.workflowId).sort()).toEqual(['WF_a', 'WF_b', 'WF_old']);
  });

  it('holds the whole history of each open workflow begun in the pass, and nothing else', async () => {
    const histories = await readOpenWorkflowHistories(store, open, options);
    const types = Object.fromEntries([...histories].map(([stream, events]) => [stream, events.map((e) => e.type)]));
    expect(types).toEqual({
      'P1.workflow.WF_a': ['WorkflowStarted', 'WorkflowStepRecorded', 'WorkflowTimeoutScheduled'],
      'P1.workflow.WF_b': ['WorkflowStarted'],
    });
    // The same as each stream read on its own.
    for (const [stream, events] of histories) expect(events).toEqual((await store.readStream(stream)).events);
  });

  it('gives up a plant whose pass would read more than its limit, and does nothing for a store without reads from a time', async () => {
    expect((await readOpenWorkflowHistories(store, open, { ...options, eventsPerOpen: 1, minEvents: 1 })).size).toBe(0);
    const withoutTimes: EventStore = withOverrides(store, { readCategorySince: undefined });
    expect(withoutTimes.readCategorySince).toBeUndefined();
    expect((await readOpenWorkflowHistories(withoutTimes, open, options)).size).toBe(0);
  });
});
