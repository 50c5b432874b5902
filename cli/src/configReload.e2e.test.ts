// Versioned plant configuration (CONTRACT §3) on a running system (workflow, maintenance and
// approvals in one process, real nats-server and SMTP): start-up records the file as version 1;
// `mes config reload` records version 2 with who ran it and what changed; an incident started
// before the reload escalates to the approvers of version 1, one started after it to those of
// version 2, and each order's history names its version; an invalid file is refused with the file,
// the key path and the reason, and records nothing; a restart with a changed file records a version.
import { plantConfigStream, streamName, type PlantConfigVersionRecorded } from '@mes/contracts';
import { start as approvals } from '@mes/approvals';
import { start as maintenance } from '@mes/maintenance';
import { startRuntime, type RecordedEvent, type Runtime } from '@mes/platform';
import { eventually, startFlowFixture, type FlowFixture } from '@mes/platform/testing';
import type { AuditEntry } from '@mes/projections';
import { start as workflow, workflowIdFor, workflowIds } from '@mes/workflow';
import { writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './mesCli.js';

const plantsYaml = (approvers: string[], approvalTimeout: string) => `plants:
  P1:
    approvers:
${approvers.map((name) => `      - { email: ${name.toLowerCase()}@plant1.example, name: ${name} }`).join('\n')}
    approvalTimeout: ${approvalTimeout}
    resources: []
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
`;

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

describe('versioned plant configuration', () => {
  let fixture: FlowFixture;
  let runtime: Runtime;
  const configPath = () => fixture.env.MES_CONFIG!;
  const start = () => startRuntime('config-test', { maintenance, approvals, workflow }, { ...fixture.env, HTTP_PORT: '0' });
  const versions = async () => (await runtime.deps.eventStore.readStream(plantConfigStream('P1'))).events;
  const versionData = (event: RecordedEvent) => event.data as PlantConfigVersionRecorded['data'];

  /** A fault of `machineId`, as ingest records it; the workflow service starts an incident for it. */
  async function fault(machineId: string): Promise<{ workflowId: string; orderId: string }> {
    const at = new Date().toISOString();
    const eventId = `fault-${machineId}-${Date.now()}`;
    const reading = { plantId: 'P1', machineId, machineStatus: 'Fault', qualityTrend: 'Stable', productionTarget: 100, productionActual: 40, timestamp: at, timestampSource: 'device', receivedAt: at };
    await runtime.deps.eventStore.appendToStream(streamName('P1', 'machine', machineId), [{
      eventId,
      type: 'MachineStatusChanged',
      version: 1,
      occurredAt: at,
      correlationId: eventId,
      causationId: null,
      actor: { kind: 'device', id: machineId },
      data: { plantId: 'P1', machineId, previous: null, current: { machineStatus: 'Fault', qualityTrend: 'Stable', productionBand: 'below50' }, reading },
    }], { expectedRevision: 'no_stream' });
    const workflowId = workflowIdFor(eventId);
    return { workflowId, orderId: workflowIds.order(workflowId) };
  }
  const workflowEvents = async (workflowId: string) => (await runtime.deps.eventStore.readStream(streamName('P1', 'workflow', workflowId))).events;
  const started = (workflowId: string) => eventually(`WorkflowStarted of ${workflowId}`, async () => (await workflowEvents(workflowId)).find((e) => e.type === 'WorkflowStarted'));
  const escalation = (workflowId: string) => eventually(`the escalation of ${workflowId}`, async () => (await workflowEvents(workflowId)).find((e) => e.type === 'WorkflowStepRecorded' && (e.data as { step: string }).step === 'approval-escalated'), 30_000);
  const approverAt = async (orderId: string, level: number) => {
    const requested = await eventually(`the level ${level} request of ${orderId}`, async () =>
      (await runtime.deps.eventStore.readStream(streamName('P1', 'approval', orderId))).events.find((e) => e.type === 'ApprovalRequested' && (e.data as { level: number }).level === level));
    return (requested.data as { approver: { email: string } }).approver.email;
  };

  beforeAll(async () => {
    fixture = await startFlowFixture({ plantsYaml: plantsYaml(['Alice', 'Bob'], 'PT3S') });
    runtime = await start();
  });
  afterAll(async () => {
    await runtime?.stop();
    await fixture?.dispose();
  });

  it('records the file as version 1 at start-up, with the service as the actor', async () => {
    const [first, ...more] = await versions();
    expect(more).toEqual([]);
    expect(first).toMatchObject({ type: 'PlantConfigVersionRecorded', actor: { kind: 'service', id: 'config-test' } });
    expect(versionData(first!)).toMatchObject({
      plantId: 'P1',
      version: 1,
      via: 'start-up of config-test',
      source: configPath(),
      config: { approvers: [{ email: 'alice@plant1.example', name: 'Alice' }, { email: 'bob@plant1.example', name: 'Bob' }], approvalTimeout: 'PT3S', resources: [] },
    });
    expect(versionData(first!).changes.map((change) => change.path)).toEqual(['approvers', 'approvalTimeout', 'resources', 'rules']);
  });

  it('escalates an incident started before a reload to the old approvers, one started after to the new, and names each version', async () => {
    const before = await fault('M-A');
    expect((await started(before.workflowId)).data).toMatchObject({ configVersion: 1, policy: { approvers: [{ email: 'alice@plant1.example' }, { email: 'bob@plant1.example' }], approvalTimeoutMs: 3000 } });

    await writeFile(configPath(), plantsYaml(['Carol', 'Dave'], 'PT1S'));
    const reload = await cli(['config', 'reload'], { ...fixture.env, MES_OPERATOR: 'quality@plant1.example' });
    expect(reload.stderr).toBe('');
    expect(reload.code).toBe(0);
    expect(reload.stdout.split('\n').slice(0, 6)).toEqual([
      'P1: version 2 recorded by quality@plant1.example, 5 changes:',
      '  approvers.0.email: "alice@plant1.example" -> "carol@plant1.example"',
      '  approvers.0.name: "Alice" -> "Carol"',
      '  approvers.1.email: "bob@plant1.example" -> "dave@plant1.example"',
      '  approvers.1.name: "Bob" -> "Dave"',
      '  approvalTimeout: "PT3S" -> "PT1S"',
    ]);
    const reloaded = (await versions()).at(-1)!;
    expect(reloaded).toMatchObject({ actor: { kind: 'person', id: 'quality@plant1.example' } });
    expect(versionData(reloaded)).toMatchObject({ version: 2, via: 'mes config reload', config: { approvers: [{ email: 'carol@plant1.example' }, { email: 'dave@plant1.example' }], approvalTimeout: 'PT1S' } });

    const after = await fault('M-B');
    expect((await started(after.workflowId)).data).toMatchObject({ configVersion: 2, policy: { approvers: [{ email: 'carol@plant1.example' }, { email: 'dave@plant1.example' }], approvalTimeoutMs: 1000 } });

    // The old incident's escalation was decided after the reload, so it shows which version it followed.
    expect((await escalation(before.workflowId)).position > reloaded.position).toBe(true);
    expect(await approverAt(before.orderId, 0)).toBe('alice@plant1.example');
    expect(await approverAt(before.orderId, 1)).toBe('bob@plant1.example');
    expect(await approverAt(after.orderId, 0)).toBe('carol@plant1.example');
    expect(await approverAt(after.orderId, 1)).toBe('dave@plant1.example');

    for (const [incident, version] of [[before, 1], [after, 2]] as const) {
      const audit = await cli(['audit', 'order', incident.orderId, '--json'], fixture.env);
      expect(audit.code).toBe(0);
      const entries = audit.stdout.trim().split('\n').map((line) => JSON.parse(line) as AuditEntry);
      expect(entries.find((entry) => entry.eventType === 'WorkflowStarted')?.why).toBe(`rule 1 matched: Machine fault (configuration version ${version} of plant P1)`);
    }

    const history = await cli(['config', 'history', '--json'], fixture.env);
    const entries = history.stdout.trim().split('\n').map((line) => JSON.parse(line) as AuditEntry);
    expect(entries.map((entry) => [entry.who, entry.change])).toEqual([
      ['service config-test', { subject: 'configuration of plant P1', from: null, to: 'version 1' }],
      ['quality@plant1.example', { subject: 'configuration of plant P1', from: 'version 1', to: 'version 2' }],
    ]);
  });

  it('refuses an invalid file with the file, the key path and the reason, and records nothing', async () => {
    const recorded = await versions();
    await writeFile(configPath(), plantsYaml(['Carol', 'Dave'], 'PT1S').replace('carol@plant1.example', 'carol').replace('    resources: []', '    resources: []\n    escalate: always'));
    const reload = await cli(['config', 'reload'], { ...fixture.env, MES_OPERATOR: 'quality@plant1.example' });
    expect(reload.code).toBe(1);
    expect(reload.stdout).toBe('');
    expect(reload.stderr).toContain(`mes: ${configPath()}: invalid plant configuration (2 problems):`);
    expect(reload.stderr).toContain('plants.P1.approvers.0.email: must be an email address');
    expect(reload.stderr).toMatch(/plants\.P1: .*escalate/);
    expect(reload.stderr).toContain(`nothing was recorded (MES_CONFIG=${configPath()})`);

    await writeFile(configPath(), 'plants:\n  P1: [unclosed\n');
    const syntax = await cli(['config', 'reload'], fixture.env);
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toMatch(new RegExp(`^mes: ${configPath().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: YAML syntax error`));
    expect(await versions()).toEqual(recorded);
  });

  it('records a version when a service starts with a changed file, and none when it starts with the same one', async () => {
    await runtime.stop();
    await writeFile(configPath(), plantsYaml(['Carol', 'Dave', 'Erin'], 'PT1S'));
    runtime = await start();
    const restarted = (await versions()).at(-1)!;
    expect(restarted).toMatchObject({ actor: { kind: 'service', id: 'config-test' } });
    expect(versionData(restarted)).toMatchObject({ version: 3, via: 'start-up of config-test', changes: [{ path: 'approvers.2', after: { email: 'erin@plant1.example', name: 'Erin' } }] });

    await runtime.stop();
    runtime = await start();
    expect((await versions()).map((event) => versionData(event).version)).toEqual([1, 2, 3]);
    const unchanged = await cli(['config', 'reload'], fixture.env);
    expect(unchanged).toMatchObject({ code: 0, stdout: 'P1: unchanged, still version 3\n' });
  });
});
