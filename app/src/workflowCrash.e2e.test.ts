// The workflow service is killed (SIGKILL, not a clean stop) while it waits for an approval; a new
// process picks the workflow up from its event stream and durable consumers, and nothing repeats.
import { COMMANDS_STREAM, commandSubject, streamName } from '@mes/contracts';
import { start as approvals } from '@mes/approvals';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { startRuntime, type Runtime } from '@mes/platform';
import { freePort, startServiceProcess } from '@mes/platform/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalEmail, eventsOf, eventually, orderEvents, publishReading, startFlowFixture, submitDecision, type FlowFixture } from './testing/flowFixture.js';

const workflowMain = fileURLToPath(new URL('../../services/workflow/dist/main.js', import.meta.url));

describe('workflow service crash while waiting for approval', () => {
  let fixture: FlowFixture;
  let runtime: Runtime;
  const children: ChildProcess[] = [];

  /** Runs the workflow service alone in its own process, as a deployment would; resolves once it serves. */
  async function startWorkflowProcess(): Promise<ChildProcess> {
    const child = await startServiceProcess(workflowMain, { ...fixture.env, LOG_LEVEL: 'info', HTTP_PORT: String(await freePort()) });
    children.push(child);
    return child;
  }

  beforeAll(async () => {
    if (!existsSync(workflowMain)) throw new Error(`${workflowMain} is missing: run npm run build first (npm test does)`);
    fixture = await startFlowFixture();
    const port = await freePort();
    fixture.env.PUBLIC_URL = `http://127.0.0.1:${port}`;
    runtime = await startRuntime('flow', { maintenance, approvals, ingest }, { ...fixture.env, HTTP_PORT: String(port) });
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await runtime?.stop();
    await fixture?.dispose();
  });

  it('resumes on the approval after a restart, with no second order or email', async () => {
    const store = runtime.deps.eventStore;
    const first = await startWorkflowProcess();
    await publishReading(fixture.mosquitto.url, 'P1', 'M-7', { machineStatus: 'Fault' });
    const mail = await eventually('the approval email', async () => fixture.smtp.messages.find((m) => m.subject?.includes('M-7')));
    const email = approvalEmail(mail);

    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    expect((await submitDecision(email.approveUrl, 'approved while the workflow was down')).status).toBe(200);
    await sleep(1_000);
    expect(await orderEvents(store, 'P1', email.orderId)).not.toContain('MaintenanceOrderApproved');

    await startWorkflowProcess();
    // The killed process may have held a pull request; JetStream redelivers after the consumers' ack wait (10 s).
    await eventually('the order to be approved', async () => ((await orderEvents(store, 'P1', email.orderId)).includes('MaintenanceOrderApproved') ? true : undefined), 40_000);
    const jsm = await jetstreamManager(runtime.deps.nc);
    const allocate = await eventually('the allocation request', async () =>
      jsm.streams.getMessage(COMMANDS_STREAM, { last_by_subj: commandSubject('P1', 'resources', 'AllocateResources') }).then((m) => m ?? undefined, () => undefined),
    );
    expect(allocate.json<{ orderId: string }>().orderId).toBe(email.orderId);

    await sleep(1_000);
    const events = await eventsOf(store, 'P1');
    const forMachine = (type: string) => events.filter((e) => e.type === type && (e.data as { machineId?: string }).machineId === 'M-7');
    expect(forMachine('MaintenanceOrderOpened')).toHaveLength(1);
    expect(forMachine('WorkflowStarted')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'ApprovalRequested' && (e.data as { orderId: string }).orderId === email.orderId)).toHaveLength(1);
    expect(fixture.smtp.messages.filter((m) => m.subject?.includes('M-7'))).toHaveLength(1);
    expect((await store.readStream(streamName('P1', 'order', email.orderId))).events.filter((e) => e.type === 'MaintenanceOrderApproved')).toHaveLength(1);
  });
});
