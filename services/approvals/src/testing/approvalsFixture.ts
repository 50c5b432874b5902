// What the approvals integration tests share: a runtime with the approvals service on an isolated
// nats-server, and the messages other services would have sent (commands, the order, a reading).
import { EVENTS_STREAM, streamName, telemetrySubject, type Command, type Person } from '@mes/contracts';
import { createLogger, sendCommand, startRuntime, type Runtime } from '@mes/platform';
import { freePort, startNatsServer, type NatsServerHandle } from '@mes/platform/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { start, type ApprovalsOptions } from '../application/startApprovals.js';

/** The email outbox's durable consumers, one per plant of the example configuration. */
export const OUTBOX_CONSUMERS = ['approvals-mail-events-P1', 'approvals-mail-events-P2'];

export const APPROVAL_SECRET = 'approvals-test-secret-0123456789abcdefghij';
export const alice: Person = { email: 'alice@plant1.example', name: 'Alice Novak' };
export const bob: Person = { email: 'bob@plant1.example', name: 'Bob Ito' };

export interface ApprovalsFixture {
  /** Replaced by `restart`. */
  runtime: Runtime;
  /** Every line the approvals service logged (at trace level), across restarts and copies; with `captureLogs` only. */
  logLines: string[];
  nats: NatsServerHandle;
  dataDir: string;
  /** Where links point (PUBLIC_URL), which is where the HTTP server listens. */
  baseUrl: string;
  /**
   * Stops the process and starts it again on the same NATS, DATA_DIR and port. `replayEvents`
   * deletes the email outbox's durable consumer first, so the new process reads the whole log again.
   */
  restart(options?: { replayEvents?: boolean }): Promise<void>;
  /** Another copy of the service on the same NATS (its own DATA_DIR and port); the fixture stops it on dispose. */
  startCopy(): Promise<{ runtime: Runtime; baseUrl: string; stop(): Promise<void> }>;
  dispose(): Promise<void>;
}

export interface ApprovalsFixtureSetup {
  /** Log lines of the service into `logLines` (at trace level) instead of nowhere. */
  captureLogs?: boolean;
}

export async function startApprovalsFixture(options: ApprovalsOptions, env: NodeJS.ProcessEnv = {}, setup: ApprovalsFixtureSetup = {}): Promise<ApprovalsFixture> {
  const nats = await startNatsServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'mes-approvals-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const logLines: string[] = [];
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
      done();
    },
  });
  const copies: (() => Promise<void>)[] = [];
  const run = (httpPort = port, publicUrl = baseUrl, copyDataDir = dataDir) =>
    startRuntime(
      'approvals-test',
      {
        approvals: (deps) =>
          start(setup.captureLogs === true ? { ...deps, logger: createLogger({ service: 'approvals-test', level: 'trace', destination: capture }) } : deps, options),
      },
      {
        NATS_URL: nats.url,
        LOG_LEVEL: 'silent',
        HTTP_PORT: String(httpPort),
        HTTP_HOST: '127.0.0.1',
        PUBLIC_URL: publicUrl,
        DATA_DIR: copyDataDir,
        API_TOKEN: 'approvals-test-api-token',
        APPROVAL_SECRET,
        ...env,
      },
    );
  try {
    const fixture: ApprovalsFixture = {
      runtime: await run(),
      logLines,
      nats,
      dataDir,
      baseUrl,
      async restart(restartOptions = {}) {
        await fixture.runtime.stop();
        if (restartOptions.replayEvents === true) {
          const nc = await connect({ servers: nats.url });
          try {
            const jsm = await jetstreamManager(nc);
            for (const consumer of OUTBOX_CONSUMERS) await jsm.consumers.delete(EVENTS_STREAM, consumer);
          } finally {
            await nc.close();
          }
        }
        fixture.runtime = await run();
      },
      async startCopy() {
        const copyPort = await freePort();
        const copyDir = await mkdtemp(join(tmpdir(), 'mes-approvals-copy-'));
        const copyUrl = `http://127.0.0.1:${copyPort}`;
        const runtime = await run(copyPort, copyUrl, copyDir);
        let stopped = false;
        const stop = async () => {
          if (stopped) return;
          stopped = true;
          await runtime.stop();
          await rm(copyDir, { recursive: true, force: true });
        };
        copies.push(stop);
        return { runtime, baseUrl: copyUrl, stop };
      },
      async dispose() {
        for (const stop of copies) await stop();
        await fixture.runtime.stop();
        await nats.dispose();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
    return fixture;
  } catch (err) {
    await nats.dispose();
    throw err;
  }
}

let orderCounter = 0;
/** An order id no other test uses. */
export function newOrderId(): string {
  orderCounter += 1;
  return `MO_${orderCounter}_${randomUUID().slice(0, 8)}`;
}

export interface RequestApprovalInput {
  orderId: string;
  plantId?: string;
  approvalId?: string;
  machineId?: string;
  approver?: Person;
  level?: number;
  supersedesApprovalId?: string;
  commandId?: string;
}

export function requestApproval(input: RequestApprovalInput): Command {
  const level = input.level ?? 0;
  return {
    type: 'RequestApproval',
    version: 1,
    commandId: input.commandId ?? randomUUID(),
    correlationId: `wf-${input.orderId}`,
    plantId: input.plantId ?? 'P1',
    issuedAt: new Date().toISOString(),
    actor: { kind: 'service', id: 'workflow' },
    approvalId: input.approvalId ?? `AP_${input.orderId}_${level}`,
    orderId: input.orderId,
    machineId: input.machineId ?? 'M-1',
    approver: input.approver ?? alice,
    level,
    expiresAt: new Date(Date.now() + 30 * 60_000).toISOString(),
    ...(input.supersedesApprovalId === undefined ? {} : { supersedesApprovalId: input.supersedesApprovalId }),
  };
}

export function expireApproval(orderId: string, approvalId: string): Command {
  return {
    type: 'ExpireApproval',
    version: 1,
    commandId: randomUUID(),
    correlationId: `wf-${orderId}`,
    plantId: 'P1',
    issuedAt: new Date().toISOString(),
    actor: { kind: 'service', id: 'workflow' },
    approvalId,
    orderId,
  };
}

export async function send(fixture: ApprovalsFixture, command: Command): Promise<void> {
  await sendCommand(fixture.runtime.deps.nc, command);
}

/** What the maintenance service records when it opens an order. */
export async function openOrder(fixture: ApprovalsFixture, orderId: string, machineId: string, reason: string): Promise<void> {
  const at = new Date().toISOString();
  await fixture.runtime.deps.eventStore.appendToStream(
    streamName('P1', 'order', orderId),
    [
      {
        eventId: randomUUID(),
        type: 'MaintenanceOrderOpened',
        version: 1,
        occurredAt: at,
        correlationId: `wf-${orderId}`,
        causationId: null,
        actor: { kind: 'service', id: 'maintenance' },
        data: {
          orderId,
          plantId: 'P1',
          machineId,
          workflowId: `wf-${orderId}`,
          reason,
          trigger: { machineStatus: 'Fault', qualityTrend: 'Stable', productionTarget: 100, productionActual: 40, timestamp: at },
          openedAt: at,
        },
      },
    ],
    { expectedRevision: 'no_stream' },
  );
}

/** What ingest stores for an accepted reading. */
export async function recordReading(fixture: ApprovalsFixture, machineId: string, reading: { machineStatus: string; productionActual: number }): Promise<void> {
  const at = new Date().toISOString();
  const eventId = randomUUID();
  const envelope = {
    eventId,
    type: 'MachineReadingRecorded',
    version: 1,
    stream: streamName('P1', 'machine', machineId),
    occurredAt: at,
    correlationId: eventId,
    causationId: null,
    actor: { kind: 'device', id: machineId },
    data: {
      plantId: 'P1',
      machineId,
      machineStatus: reading.machineStatus,
      qualityTrend: 'Declining',
      productionTarget: 120,
      productionActual: reading.productionActual,
      timestamp: at,
      timestampSource: 'device',
      receivedAt: at,
    },
  };
  await jetstream(fixture.runtime.deps.nc).publish(telemetrySubject('P1', machineId), JSON.stringify(envelope), { msgID: eventId });
}

export function approvalStreamOf(orderId: string): string {
  return streamName('P1', 'approval', orderId);
}

export async function eventsOf(fixture: ApprovalsFixture, orderId: string) {
  return (await fixture.runtime.deps.eventStore.readStream(approvalStreamOf(orderId))).events;
}

/** Polls until `check` returns a value other than undefined. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export interface EmailLinks {
  approve: string;
  reject: string;
}

/** The Approve and Reject links of an approval email's text part. */
export function linksOfText(text: string): EmailLinks {
  const approve = /^Approve: (\S+)$/m.exec(text)?.[1];
  const reject = /^Reject: (\S+)$/m.exec(text)?.[1];
  if (approve === undefined || reject === undefined) throw new Error(`no Approve and Reject links in:\n${text}`);
  return { approve, reject };
}

export function tokenOf(link: string): string {
  const token = new URL(link).searchParams.get('token');
  if (token === null) throw new Error(`no token in ${link}`);
  return token;
}

export async function postDecision(link: string, form: Record<string, string>, userAgent = 'approvals-test-agent/1.0'): Promise<Response> {
  const url = new URL(link);
  return fetch(`${url.origin}${url.pathname}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': userAgent },
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
  });
}
