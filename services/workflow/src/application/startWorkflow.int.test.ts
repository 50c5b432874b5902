// A workflow whose process died after deciding but before doing (its event stored, its command not
// sent) is picked up by the next process at start-up.
import { OPEN_WORKFLOWS_BUCKET, streamName } from '@mes/contracts';
import { start as maintenance } from '@mes/maintenance';
import { JetStreamEventStore, provisionTopology, startRuntime } from '@mes/platform';
import { eventually, orderEvents, startFlowFixture, type FlowFixture } from '@mes/platform/testing';
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

  it('does what an open workflow calls for when the process before it died between deciding and doing', async () => {
    const workflowId = 'WF_crashedbeforeeffects';
    const nc = await connect({ servers: fixture.nats.url });
    try {
      await provisionTopology(nc, await jetstreamManager(nc), { dedupeWindowMs: 120_000 });
      // What the dead process left: the machine claimed and WorkflowStarted stored, no command sent.
      await (await new Kvm(nc).open(OPEN_WORKFLOWS_BUCKET)).create('P1.M-1', workflowId);
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
          machineId: 'M-1',
          ruleIndex: 0,
          reason: 'Machine fault',
          triggeredBy: { machineStatus: 'Fault', qualityTrend: 'Stable', productionTarget: 100, productionActual: 40, timestamp: at },
          startedAt: at,
        },
      }], { expectedRevision: 'no_stream' });
    } finally {
      await nc.close();
    }

    const runtime = await startRuntime('workflow-test', { maintenance, workflow }, { ...fixture.env, HTTP_PORT: '0' });
    try {
      const orderId = workflowIds.order(workflowId);
      await eventually('the order the dead process never asked for', async () => ((await orderEvents(runtime.deps.eventStore, 'P1', orderId)).includes('MaintenanceOrderOpened') ? true : undefined));
      expect(await orderEvents(runtime.deps.eventStore, 'P1', orderId)).toEqual(['MaintenanceOrderOpened']);
    } finally {
      await runtime.stop();
    }
  });
});
