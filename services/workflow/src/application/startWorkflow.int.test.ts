// A workflow whose process died after deciding but before doing (its event stored, its command not
// sent) is picked up by the next process at start-up.
import { OPEN_WORKFLOWS_BUCKET, streamName } from '@mes/contracts';
import { start as maintenance } from '@mes/maintenance';
import { JetStreamEventStore, provisionTopology, startRuntime, type EventStore } from '@mes/platform';
import { eventually, orderEvents, startFlowFixture, withOverrides, type FlowFixture } from '@mes/platform/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowIds } from '../domain/maintenanceWorkflow.js';
import { start as workflow } from './startWorkflow.js';

const PLANTS_YAML = `plants:
  P1:
    approvers:
      - { email: alice@plant1.example, name: Alice Novak }
    approvalTimeout: PT30M
    resources: []
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
`;

describe('workflow service start-up', () => {
  let fixture: FlowFixture;

  beforeAll(async () => {
    fixture = await startFlowFixture({ plantsYaml: PLANTS_YAML });
  });
  afterAll(async () => {
    await fixture?.dispose();
  });

  /** What a process left that died after starting a workflow: the machine claimed and WorkflowStarted stored, no command sent. */
  async function leaveStartedWorkflow(workflowId: string, machineId: string): Promise<void> {
    const nc = await connect({ servers: fixture.nats.url });
    try {
      await provisionTopology(nc, await jetstreamManager(nc), { dedupeWindowMs: 120_000 });
      await (await new Kvm(nc).open(OPEN_WORKFLOWS_BUCKET)).create(`P1.${machineId}`, workflowId);
      const store = new JetStreamEventStore({ nc, stream: 'MES_EVENTS', subjectPrefix: 'es' });
      const at = new Date().toISOString();
      await store.appendToStream(streamName('P1', 'workflow', workflowId), [{
        eventId: `${workflowId}-started`,
        type: 'WorkflowStarted',
        version: 1,
        occurredAt: at,
        correlationId: workflowId,
        causationId: null,
        actor: { kind: 'service', id: 'workflow' },
        data: {
          workflowId,
          plantId: 'P1',
          machineId,
          ruleIndex: 0,
          reason: 'Machine fault',
          triggeredBy: { machineStatus: 'Fault', qualityTrend: 'Stable', productionTarget: 100, productionActual: 40, timestamp: at },
          startedAt: at,
        },
      }], { expectedRevision: 'no_stream' });
    } finally {
      await nc.close();
    }
  }

  it('does what an open workflow calls for when the process before it died between deciding and doing', async () => {
    const workflowId = 'WF_crashedbeforeeffects';
    await leaveStartedWorkflow(workflowId, 'M-1');

    const runtime = await startRuntime('workflow-test', { maintenance, workflow }, { ...fixture.env, HTTP_PORT: '0' });
    try {
      const orderId = workflowIds.order(workflowId);
      await eventually('the order the dead process never asked for', async () => ((await orderEvents(runtime.deps.eventStore, 'P1', orderId)).includes('MaintenanceOrderOpened') ? true : undefined));
      expect(await orderEvents(runtime.deps.eventStore, 'P1', orderId)).toEqual(['MaintenanceOrderOpened']);
    } finally {
      await runtime.stop();
    }
  });

  // The start-up pass reads open workflows in one pass over workflow events where the store can
  // (JetStream), stream by stream where it cannot; either way the first read of the workflow's
  // stream on its own after the pass, when the order's event comes, is answered by a node that has
  // not applied the workflow's start yet.
  it.each([
    { pass: 'one pass over workflow events', machineId: 'M-2', withoutTimes: {}, staleRead: 1 },
    { pass: 'stream by stream', machineId: 'M-3', withoutTimes: { readCategorySince: undefined }, staleRead: 2 },
  ])('does not drop an order event when a read of its workflow comes from a node that is behind (start-up pass $pass)', async ({ machineId, withoutTimes, staleRead }) => {
    const workflowId = `WF_readbehind${machineId.replace('-', '')}`;
    await leaveStartedWorkflow(workflowId, machineId);
    const stream = streamName('P1', 'workflow', workflowId);
    let reads = 0;
    const behind = (store: EventStore): EventStore =>
      withOverrides(store, {
        ...withoutTimes,
        readStream: async (name) => {
          if (name === stream && ++reads === staleRead) return { events: [], revision: 'no_stream' as const };
          return store.readStream(name);
        },
      });
    const runtime = await startRuntime('workflow-test', { maintenance, workflow: (deps) => workflow({ ...deps, eventStore: behind(deps.eventStore) }) }, { ...fixture.env, HTTP_PORT: '0' });
    try {
      const steps = async () => (await runtime.deps.eventStore.readStream(stream)).events.map((e) => (e.type === 'WorkflowStepRecorded' ? `step:${(e.data as { step: string }).step}` : e.type));
      await eventually('the workflow asking for approval once its order is open', async () => ((await steps()).includes('step:approval-requested') ? true : undefined));
      // The stale read, then the one that saw the start.
      expect(reads).toBeGreaterThanOrEqual(staleRead + 1);
      expect(await steps()).toEqual(['WorkflowStarted', 'step:approval-requested', 'WorkflowTimeoutScheduled']);
    } finally {
      await runtime.stop();
    }
  });
});
