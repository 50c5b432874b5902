// `mes simulate` against the running system (ingest, workflow, maintenance, approvals, resources in
// one process, real nats-server, Mosquitto and an SMTP server): its readings land in the telemetry
// stream, one for each it sent, and a simulated fault opens a maintenance order and emails the
// approver. Also: Ctrl-C stops it early with a summary, an unreachable broker is named.
import { TELEMETRY_STREAM } from '@mes/contracts';
import { start as approvals } from '@mes/approvals';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { startRuntime, type Runtime } from '@mes/platform';
import { eventsOf, eventually, freePort, mailsTo, startFlowFixture, type FlowFixture } from '@mes/platform/testing';
import { start as resources } from '@mes/resources';
import { start as workflow } from '@mes/workflow';
import { jetstreamManager } from '@nats-io/jetstream';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../mesCli.js';

const PLANTS_YAML = `plants:
  P1:
    approvers:
      - { email: alice@plant1.example, name: Alice Novak }
    approvalTimeout: PT30M
    resources:
      - { id: T-01, type: Technician, name: Dana Ruiz }
      - { id: EQ-01, type: Equipment, name: Scissor lift }
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

describe('mes simulate on a running plant', () => {
  let fixture: FlowFixture;
  let runtime: Runtime;

  async function simulate(args: string[], options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}) {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await runCli(['simulate', ...args], { stdout, stderr, env: { ...fixture.env, ...options.env }, ...(options.signal ? { signal: options.signal } : {}) });
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  /** Readings of plant P1 in MES_TELEMETRY. */
  async function storedReadings(): Promise<number> {
    const info = await (await jetstreamManager(runtime.deps.nc)).streams.info(TELEMETRY_STREAM, { subjects_filter: 'telemetry.P1.>' });
    return Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
  }

  beforeAll(async () => {
    fixture = await startFlowFixture({ plantsYaml: PLANTS_YAML });
    const port = await freePort();
    runtime = await startRuntime('simulate', { resources, maintenance, approvals, workflow, ingest }, { ...fixture.env, HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
  });
  afterAll(async () => {
    await runtime?.stop();
    await fixture?.dispose();
  });

  it('publishes every reading it reports, and a simulated fault becomes an order and an email', async () => {
    // 20 readings/s for 3 s at 30 faults/min: a fault every 40 readings, the first within 20.
    const run = await simulate(['--plant', 'P1', '--machines', '3', '--rate', '20', '--faults', '30', '--duration', 'PT3S', '--seed', '11']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^simulate: plant P1, 3 machines \(M-1, M-2, M-3\), readings 20\/s, faults 30\/min, for PT3S, seed 11, to mqtt:\/\/127\.0\.0\.1:\d+\n/);
    expect(run.stdout).toMatch(/\nsimulate: done after [\d.]+ s: 60 readings sent for 3 machines of plant P1 \([\d.]+\/s\), 60 acknowledged; [1-9]\d* faults?, /);
    const faulted = /simulate: [\d.]+ s {2}(M-\d) Fault\n/.exec(run.stdout)?.[1];
    expect(faulted, run.stdout).toBeDefined();

    expect(await eventually('the 60 readings in MES_TELEMETRY', async () => ((await storedReadings()) >= 60 ? storedReadings() : undefined))).toBe(60);
    const opened = await eventually(`an order for ${faulted!}`, async () =>
      (await eventsOf(runtime.deps.eventStore, 'P1')).find((e) => e.type === 'MaintenanceOrderOpened' && (e.data as { machineId: string }).machineId === faulted),
    );
    expect(opened.data).toMatchObject({ plantId: 'P1', machineId: faulted, reason: 'Machine fault', trigger: { machineStatus: 'Fault' } });
    const mail = await eventually('the approval email', async () => mailsTo(fixture.smtp, 'alice@plant1.example').find((m) => m.subject?.includes(faulted!)));
    expect(mail.subject).toContain((opened.data as { orderId: string }).orderId);
  });

  it('stops early on Ctrl-C with the summary, every reading it sent acknowledged and stored', async () => {
    const before = await storedReadings();
    const interrupt = new AbortController();
    const running = simulate(['--rate', '10', '--faults', '0', '--duration', 'PT10M'], { signal: interrupt.signal });
    // Interrupted once the first readings are stored.
    await eventually('the first readings', async () => ((await storedReadings()) >= before + 3 ? true : undefined));
    interrupt.abort();
    const run = await running;
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const summary = /simulate: stopped after [\d.]+ s: (\d+) readings? sent for 5 machines of plant P1 \([\d.]+\/s\), (\d+) acknowledged; 0 faults/.exec(run.stdout);
    expect(summary, run.stdout).not.toBeNull();
    const sent = Number(summary![1]);
    expect(Number(summary![2])).toBe(sent);
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(6000);
    expect(await eventually(`${sent} more readings`, async () => ((await storedReadings()) >= before + sent ? storedReadings() : undefined))).toBe(before + sent);
  });

  it('names MQTT_URL when the broker cannot be reached, and sends nothing', async () => {
    const url = `mqtt://127.0.0.1:${await freePort()}`;
    const run = await simulate(['--duration', 'PT1S'], { env: { MQTT_URL: url } });
    expect(run).toEqual({ code: 1, stdout: '', stderr: expect.stringMatching(new RegExp(`^mes: cannot reach the MQTT broker at ${url.replaceAll('.', '\\.')} \\(MQTT_URL\\): connect ECONNREFUSED`)) });
  });

  it('refuses a plant that is not in the configuration, naming MES_CONFIG and its plants', async () => {
    const run = await simulate(['--plant', 'P7']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`mes: plant P7 is not in ${fixture.env.MES_CONFIG!} (MES_CONFIG); its plants: P1\n`);
  });
});
