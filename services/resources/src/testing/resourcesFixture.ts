// What the resources integration tests share: copies of the service on an isolated nats-server,
// plant configurations written to a temporary directory, the commands other services would send,
// and an independent replay of the log that checks the allocation invariants.
// One file over 300 lines on purpose: the fixture and the replay that judges it belong together.
import { COMMANDS_STREAM, EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, commandSubject, parseStreamName, streamName, type Command, type ResourceType } from '@mes/contracts';
import { JetStreamEventStore, provisionTopology, sendCommand, startRuntime, type EventStore, type RecordedEvent, type Runtime } from '@mes/platform';
import { startNatsServer, type NatsServerHandle } from '@mes/platform/testing';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { queueStream } from '../application/allocation.js';
import { expect } from 'vitest';
import { ALLOCATION_QUEUE_ID } from '../domain/allocationQueue.js';
import { start } from '../application/startResources.js';

export interface ResourcesFixture {
  nats: NatsServerHandle;
  dir: string;
  /** A connection and event store of the test's own, to send commands and read the log whichever copies run. */
  nc: NatsConnection;
  store: EventStore;
  /** Writes a configuration with one plant and these resources; returns its path. */
  writePlantConfig(name: string, plantId: string, resources: { id: string; type: ResourceType }[]): Promise<string>;
  /** Environment for a copy of the service (in this process or a child) using `configPath`. */
  env(configPath: string): NodeJS.ProcessEnv;
  /** Starts a copy of the service in this process on its own NATS connection. */
  startCopy(configPath: string): Promise<Runtime>;
  dispose(): Promise<void>;
}

export async function startResourcesFixture(): Promise<ResourcesFixture> {
  const nats = await startNatsServer();
  const dir = await mkdtemp(join(tmpdir(), 'mes-resources-'));
  const nc = await connect({ servers: nats.url });
  // The streams must exist before the first copy starts (each copy provisions them too).
  await provisionTopology(nc, await jetstreamManager(nc), { dedupeWindowMs: 2 * 60 * 1000 });
  const store = new JetStreamEventStore({ nc, stream: EVENTS_STREAM, subjectPrefix: EVENTS_SUBJECT_PREFIX });
  const runtimes: Runtime[] = [];
  const fixture: ResourcesFixture = {
    nats,
    dir,
    nc,
    store,
    async writePlantConfig(name, plantId, resources) {
      const path = join(dir, `${name}.yaml`);
      const list = resources.map((r) => `      - { id: ${r.id}, type: ${r.type}, name: ${r.type} ${r.id} }`).join('\n');
      await writeFile(
        path,
        `plants:
  ${plantId}:
    approvers:
      - { email: alice@plant.example, name: Alice Novak }
    approvalTimeout: PT30M
    resources:${resources.length === 0 ? ' []' : `\n${list}`}
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
`,
      );
      return path;
    },
    env: (configPath) => ({
      NATS_URL: nats.url,
      MES_CONFIG: configPath,
      DATA_DIR: dir,
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      API_TOKEN: 'resources-test-api-token-0123456789',
      APPROVAL_SECRET: 'resources-test-approval-secret-0123456789abcdef',
    }),
    async startCopy(configPath) {
      const runtime = await startRuntime('resources-test', { resources: start }, fixture.env(configPath));
      runtimes.push(runtime);
      return runtime;
    },
    async dispose() {
      for (const runtime of runtimes) await runtime.stop().catch(() => undefined);
      await store.close();
      await nc.close();
      await nats.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}

export function resourceList(technicians: number, equipment: number): { id: string; type: ResourceType }[] {
  const pad = (n: number) => String(n).padStart(2, '0');
  return [
    ...Array.from({ length: technicians }, (_, i) => ({ id: `T-${pad(i + 1)}`, type: 'Technician' as const })),
    ...Array.from({ length: equipment }, (_, i) => ({ id: `EQ-${pad(i + 1)}`, type: 'Equipment' as const })),
  ];
}

/** AllocateResources as the workflow sends it once the order is approved. */
export function allocateCommand(plantId: string, orderId: string, issuedAt: string): Command {
  return {
    type: 'AllocateResources',
    version: 1,
    commandId: `WF_${orderId}/allocate-resources`,
    correlationId: `WF_${orderId}`,
    plantId,
    issuedAt,
    actor: { kind: 'service', id: 'workflow' },
    orderId,
    machineId: `M-${orderId}`,
  };
}

export function releaseCommand(plantId: string, orderId: string): Command {
  return {
    type: 'ReleaseResources',
    version: 1,
    commandId: `WF_${orderId}/release-resources`,
    correlationId: `WF_${orderId}`,
    plantId,
    issuedAt: new Date().toISOString(),
    actor: { kind: 'service', id: 'workflow' },
    orderId,
  };
}

export async function send(target: Runtime | NatsConnection, command: Command): Promise<void> {
  await sendCommand('deps' in target ? target.deps.nc : target, command);
}

/** True once the service's command consumer of the plant has nothing pending or unacknowledged. */
export async function commandsSettled(nc: NatsConnection, plantId: string): Promise<boolean> {
  const info = await (await jetstreamManager(nc)).consumers.info(COMMANDS_STREAM, `resources-${plantId}`);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

export function newPlantId(): string {
  return `P${randomUUID().replaceAll('-', '').slice(0, 10)}`;
}

export async function eventsOf(store: EventStore, plantId: string): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const event of store.readAll({ plantId })) events.push(event);
  return events;
}

/** Every command sent to maintenance of this type in this plant, in the order stored. */
export async function maintenanceCommands<Type extends 'MarkOrderAwaitingResources' | 'RecordOrderResourcesAllocated'>(
  nc: NatsConnection,
  plantId: string,
  type: Type,
): Promise<Extract<Command, { type: Type }>[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.consumers.add(COMMANDS_STREAM, {
    filter_subject: commandSubject(plantId, 'maintenance', type),
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.All,
    mem_storage: true,
  });
  const commands: Extract<Command, { type: Type }>[] = [];
  try {
    let remaining = info.num_pending;
    const consumer = await jetstream(nc).consumers.get(COMMANDS_STREAM, info.name);
    while (remaining > 0) {
      const batch = await consumer.fetch({ max_messages: Math.min(remaining, 500), expires: 5_000 });
      let received = 0;
      for await (const msg of batch) {
        received++;
        remaining = msg.info.pending;
        commands.push(msg.json());
      }
      if (received === 0) throw new Error(`reading ${type} commands stalled with ${remaining} pending`);
    }
  } finally {
    await jsm.consumers.delete(COMMANDS_STREAM, info.name).catch(() => undefined);
  }
  return commands;
}

export interface AllocationReport {
  /** Who holds each resource at the end. */
  holders: Map<string, string | null>;
  /** What each order holds at the end. */
  holdings: Map<string, { technicians: string[]; equipment: string[] }>;
  /** Orders queued, with how many times each was queued. */
  queued: Map<string, number>;
  reserved: Map<string, { technicianId: string; equipmentId: string }>;
  confirmed: Set<string>;
  left: Set<string>;
  /** Queued, not reserved, not left. */
  waiting: Set<string>;
  resourceTypes: Map<string, ResourceType>;
  unavailable: Set<string>;
}

/**
 * Replays the plant's log independently of the service's deciders and throws on any double
 * booking: a ResourceAllocated while another order holds the resource, or a ResourceReleased by
 * an order that does not hold it.
 */
export function replayAllocations(events: RecordedEvent[]): AllocationReport {
  const report: AllocationReport = {
    holders: new Map(),
    holdings: new Map(),
    queued: new Map(),
    reserved: new Map(),
    confirmed: new Set(),
    left: new Set(),
    waiting: new Set(),
    resourceTypes: new Map(),
    unavailable: new Set(),
  };
  for (const event of events) {
    const { category, id } = parseStreamName(event.stream);
    if (category !== 'resource') continue;
    const data = event.data as Record<string, string>;
    if (id === ALLOCATION_QUEUE_ID) {
      const orderId = data.orderId!;
      if (event.type === 'OrderQueuedForResources') report.queued.set(orderId, (report.queued.get(orderId) ?? 0) + 1);
      if (event.type === 'OrderResourcesReserved') {
        if (report.reserved.has(orderId)) throw new Error(`order ${orderId} was reserved resources twice`);
        report.reserved.set(orderId, { technicianId: data.technicianId!, equipmentId: data.equipmentId! });
      }
      if (event.type === 'OrderResourcesConfirmed') report.confirmed.add(orderId);
      if (event.type === 'OrderLeftResourceQueue') report.left.add(orderId);
      continue;
    }
    const holder = report.holders.get(id) ?? null;
    switch (event.type) {
      case 'ResourceRegistered':
        report.resourceTypes.set(id, data.resourceType as ResourceType);
        if (!report.holders.has(id)) report.holders.set(id, null);
        break;
      case 'ResourceMarkedUnavailable':
        report.unavailable.add(id);
        break;
      case 'ResourceMarkedAvailable':
        report.unavailable.delete(id);
        break;
      case 'ResourceAllocated':
        if (holder !== null) throw new Error(`double booking: ${id} allocated to ${data.orderId} while ${holder} holds it (${event.eventId})`);
        report.holders.set(id, data.orderId!);
        break;
      case 'ResourceReleased':
        if (holder !== data.orderId) throw new Error(`${id} released by ${data.orderId} but held by ${holder ?? 'nobody'} (${event.eventId})`);
        report.holders.set(id, null);
        break;
      default:
        throw new Error(`unexpected event ${event.type} on ${event.stream}`);
    }
  }
  for (const [resourceId, holder] of report.holders) {
    if (holder === null) continue;
    const holding = report.holdings.get(holder) ?? { technicians: [], equipment: [] };
    if (report.resourceTypes.get(resourceId) === 'Technician') holding.technicians.push(resourceId);
    else holding.equipment.push(resourceId);
    report.holdings.set(holder, holding);
  }
  for (const orderId of report.queued.keys()) {
    if (!report.reserved.has(orderId) && !report.left.has(orderId)) report.waiting.add(orderId);
  }
  return report;
}

/** Each order holding resources holds exactly one technician and one equipment, those the queue reserved and confirmed. */
export function expectWholeAllocations(report: AllocationReport): void {
  for (const [orderId, holding] of report.holdings) {
    expect(holding.technicians, `technicians of ${orderId}`).toHaveLength(1);
    expect(holding.equipment, `equipment of ${orderId}`).toHaveLength(1);
    expect(report.reserved.get(orderId)).toEqual({ technicianId: holding.technicians[0], equipmentId: holding.equipment[0] });
    expect(report.confirmed.has(orderId), `${orderId} confirmed`).toBe(true);
    expect(report.left.has(orderId), `${orderId} holds resources after leaving`).toBe(false);
  }
  for (const orderId of report.reserved.keys()) {
    if (!report.left.has(orderId)) expect(report.holdings.has(orderId), `${orderId} reserved but holds nothing`).toBe(true);
  }
  for (const [orderId, times] of report.queued) expect(times, `${orderId} queued`).toBe(1);
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

export function resourceStreamOf(plantId: string, resourceId: string): string {
  return streamName(plantId, 'resource', resourceId);
}

export function queueStreamOf(plantId: string): string {
  return queueStream(plantId);
}
