// A made-up but well-formed history for tests and the benchmark: per plant, resources registered,
// then incidents that run every way an order can go (approved and completed with resources,
// rejected, escalated and expired, waiting for resources then cancelled, approved and completed
// without an allocation, still pending), each with its readings in the telemetry stream. Events are
// appended one per append, as the services do; incidents run concurrently, each one in order.
import { streamName, telemetrySubject, type EventEnvelope, type TelemetryReading } from '@mes/contracts';
import type { EventStore, NewEvent } from '@mes/platform';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

export interface Append {
  stream: string;
  event: NewEvent;
}

export interface SyntheticIncident {
  appends: Append[];
  readings: EventEnvelope<'MachineReadingRecorded', TelemetryReading>[];
}

export const SYNTHETIC_OUTCOMES = ['completedWithResources', 'rejected', 'expired', 'cancelledWhileWaiting', 'completedWithoutResources', 'pending'] as const;

const RESOURCES = ['T-01', 'T-02', 'EQ-01', 'EQ-02'] as const;

function at(base: number, minutes: number): string {
  return new Date(base + minutes * 60_000).toISOString();
}

/** The resources of a plant, registered (and one of them out of service for a while). */
export function syntheticResources(plantId: string, prefix: string, base = Date.parse('2026-01-01T00:00:00.000Z')): Append[] {
  const id = (resourceId: string) => `${prefix}${plantId}-${resourceId}`;
  const actor = { kind: 'service' as const, id: 'resources' };
  const appends: Append[] = RESOURCES.map((resourceId, i) => ({
    stream: streamName(plantId, 'resource', id(resourceId)),
    event: {
      eventId: `${prefix}${plantId}-reg-${resourceId}`,
      type: 'ResourceRegistered',
      version: 1,
      occurredAt: at(base, i),
      correlationId: `${prefix}${plantId}-registration`,
      causationId: null,
      actor,
      data: { resourceId: id(resourceId), plantId, resourceType: resourceId.startsWith('T') ? 'Technician' : 'Equipment', name: `Resource ${resourceId}`, registeredAt: at(base, i) },
    },
  }));
  const t2 = streamName(plantId, 'resource', id('T-02'));
  appends.push(
    { stream: t2, event: { eventId: `${prefix}${plantId}-out-T-02`, type: 'ResourceMarkedUnavailable', version: 1, occurredAt: at(base, 10), correlationId: `${prefix}${plantId}-registration`, causationId: null, actor, data: { resourceId: id('T-02'), reason: 'on leave', at: at(base, 10) } } },
    { stream: t2, event: { eventId: `${prefix}${plantId}-back-T-02`, type: 'ResourceMarkedAvailable', version: 1, occurredAt: at(base, 20), correlationId: `${prefix}${plantId}-registration`, causationId: null, actor, data: { resourceId: id('T-02'), at: at(base, 20) } } },
  );
  return appends;
}

/** Incident `index` of a plant: its events in the order the services would append them, and its readings. */
export function syntheticIncident(plantId: string, index: number, prefix = 'S', readingsPerIncident = 3, base = Date.parse('2026-01-01T00:00:00.000Z')): SyntheticIncident {
  const outcome = SYNTHETIC_OUTCOMES[index % SYNTHETIC_OUTCOMES.length]!;
  const machineId = `${prefix}M-${index % 50}`;
  const workflowId = `WF_${prefix}${plantId}_${index}`;
  const orderId = `MO_${prefix}${plantId}_${index}`;
  const t0 = base + index * 3_600_000;
  const alice = { email: 'alice@plant1.example', name: 'Alice Novak' };
  const bob = { email: 'bob@plant1.example', name: 'Bob Ito' };
  const workflow = { kind: 'service' as const, id: 'workflow' };
  const appends: Append[] = [];
  let n = 0;
  const add = (category: 'machine' | 'workflow' | 'order' | 'approval' | 'resource', id: string, type: string, data: unknown, minutes: number, actor: EventEnvelope['actor'] = workflow, correlationId = workflowId) => {
    appends.push({
      stream: streamName(plantId, category, id),
      event: { eventId: `${workflowId}-${n++}`, type, version: 1, occurredAt: at(t0, minutes), correlationId, causationId: null, actor, data },
    });
  };

  const readings = Array.from({ length: readingsPerIncident }, (_, r) => {
    const reading: TelemetryReading = {
      plantId,
      machineId,
      machineStatus: r === readingsPerIncident - 1 ? 'Fault' : 'Running',
      qualityTrend: r % 2 === 0 ? 'Stable' : 'Declining',
      productionTarget: 100,
      productionActual: 50 + ((index * 7 + r * 13) % 60) + 0.25,
      timestamp: at(t0, r / 10),
      timestampSource: 'device',
      messageId: `${prefix}${plantId}-${index}-${r}`,
      receivedAt: at(t0, r / 10 + 0.01),
    };
    const eventId = `${prefix}R-${plantId}-${index}-${r}`;
    return { eventId, type: 'MachineReadingRecorded' as const, version: 1, stream: streamName(plantId, 'machine', machineId), occurredAt: reading.timestamp, correlationId: eventId, causationId: null, actor: { kind: 'device' as const, id: machineId }, data: reading };
  });
  const trigger = readings.at(-1)!.data;
  const summary = { machineStatus: trigger.machineStatus, qualityTrend: trigger.qualityTrend, productionTarget: trigger.productionTarget, productionActual: trigger.productionActual, timestamp: trigger.timestamp };

  const device = { kind: 'device' as const, id: machineId };
  add('machine', machineId, 'MachineStatusChanged', {
    plantId, machineId,
    previous: { machineStatus: 'Running', qualityTrend: 'Stable', productionBand: 'onTarget' },
    current: { machineStatus: 'Fault', qualityTrend: trigger.qualityTrend, productionBand: 'below80' },
    reading: trigger,
  }, 1, device, readings.at(-1)!.eventId);
  appends.at(-1)!.event.eventId = `${workflowId}-trigger`;
  add('workflow', workflowId, 'WorkflowStarted', { workflowId, plantId, machineId, ruleIndex: 0, reason: 'Machine fault', triggeredBy: summary, startedAt: at(t0, 1) }, 1);
  appends.at(-1)!.event.causationId = `${workflowId}-trigger`;
  add('order', orderId, 'MaintenanceOrderOpened', { orderId, plantId, machineId, workflowId, reason: 'Machine fault', trigger: summary, openedAt: at(t0, 2) }, 2);
  add('approval', orderId, 'ApprovalRequested', { approvalId: `${orderId}_A0`, orderId, plantId, machineId, approver: alice, level: 0, requestedAt: at(t0, 3), expiresAt: at(t0, 60 * 24) }, 3);
  add('order', orderId, 'MaintenanceOrderApprovalRequested', { orderId, approvalId: `${orderId}_A0`, approver: alice, level: 0, requestedAt: at(t0, 3) }, 3);
  add('approval', orderId, 'ApprovalEmailSent', { approvalId: `${orderId}_A0`, to: alice.email, sentAt: at(t0, 4) }, 4, { kind: 'service', id: 'approvals' });
  add('workflow', workflowId, 'WorkflowTimeoutScheduled', { workflowId, timeoutId: `${workflowId}_T0`, dueAt: at(t0, 33), purpose: 'approvalTimeout' }, 4);

  const decide = (decision: 'approved' | 'rejected', minutes: number) => {
    add('approval', orderId, 'ApprovalDecided', { approvalId: `${orderId}_A0`, orderId, decision, approver: alice, decidedAt: at(t0, minutes), ...(index % 4 === 0 ? {} : { comment: `decided ${index}` }), clientAddress: '127.0.0.1', userAgent: 'synthetic' }, minutes, { kind: 'person', id: alice.email, name: alice.name });
    add('order', orderId, decision === 'approved' ? 'MaintenanceOrderApproved' : 'MaintenanceOrderRejected', { orderId, approvalId: `${orderId}_A0`, decidedBy: alice.email, decidedByName: alice.name, decidedAt: at(t0, minutes), ...(index % 4 === 0 ? {} : { comment: `decided ${index}` }) }, minutes + 1);
  };
  const resources = [`${prefix}${plantId}-T-0${(index % 2) + 1}`, `${prefix}${plantId}-EQ-0${(index % 2) + 1}`];
  const allocate = (minutes: number) => {
    for (const resourceId of resources) add('resource', resourceId, 'ResourceAllocated', { resourceId, orderId, at: at(t0, minutes) }, minutes, { kind: 'service', id: 'resources' });
    add('order', orderId, 'MaintenanceOrderResourcesAllocated', { orderId, technicianId: resources[0], equipmentId: resources[1], allocatedAt: at(t0, minutes) }, minutes);
  };
  const release = (minutes: number) => {
    for (const resourceId of resources) add('resource', resourceId, 'ResourceReleased', { resourceId, orderId, at: at(t0, minutes) }, minutes, { kind: 'service', id: 'resources' });
  };
  const end = (result: 'Completed' | 'Rejected' | 'Expired' | 'Cancelled', minutes: number) =>
    add('workflow', workflowId, 'WorkflowCompleted', { workflowId, outcome: result, at: at(t0, minutes) }, minutes);

  switch (outcome) {
    case 'completedWithResources':
      decide('approved', 10);
      allocate(12);
      add('order', orderId, 'MaintenanceOrderCompleted', { orderId, completedAt: at(t0, 50), completedBy: 'dana@plant1.example' }, 50, { kind: 'person', id: 'dana@plant1.example' });
      release(51);
      end('Completed', 51);
      break;
    case 'rejected':
      decide('rejected', 10);
      end('Rejected', 11);
      break;
    case 'expired':
      add('approval', orderId, 'ApprovalEscalated', { approvalId: `${orderId}_A0`, orderId, nextApprover: bob, level: 1, escalatedAt: at(t0, 33) }, 33);
      add('approval', orderId, 'ApprovalRequested', { approvalId: `${orderId}_A1`, orderId, plantId, machineId, approver: bob, level: 1, requestedAt: at(t0, 33), expiresAt: at(t0, 60 * 24) }, 33);
      add('order', orderId, 'MaintenanceOrderApprovalRequested', { orderId, approvalId: `${orderId}_A1`, approver: bob, level: 1, requestedAt: at(t0, 33) }, 33);
      add('approval', orderId, 'ApprovalExpired', { approvalId: `${orderId}_A1`, orderId, expiredAt: at(t0, 63) }, 63);
      add('order', orderId, 'MaintenanceOrderExpired', { orderId, expiredAt: at(t0, 63) }, 63);
      end('Expired', 63);
      break;
    case 'cancelledWhileWaiting':
      decide('approved', 10);
      add('order', orderId, 'MaintenanceOrderAwaitingResources', { orderId, since: at(t0, 12), missing: ['Technician'] }, 12);
      add('order', orderId, 'MaintenanceOrderCancelled', { orderId, cancelledAt: at(t0, 40), cancelledBy: 'api', reason: 'machine replaced' }, 40, { kind: 'service', id: 'api' });
      end('Cancelled', 40);
      break;
    case 'completedWithoutResources':
      decide('approved', 10);
      add('order', orderId, 'MaintenanceOrderCompleted', { orderId, completedAt: at(t0, 30), completedBy: 'api' }, 30, { kind: 'service', id: 'api' });
      end('Completed', 30);
      break;
    case 'pending':
      break;
    default: {
      const _exhaustive: never = outcome;
      throw new Error(`unknown outcome ${String(_exhaustive)}`);
    }
  }
  return { appends, readings };
}

export interface WriteHistoryOptions {
  plants: string[];
  incidents: number;
  /** Makes every id unique to this run (several histories in one log). Default `S`. */
  prefix?: string;
  readingsPerIncident?: number;
  /** Incidents in flight at once. Default 32. */
  concurrency?: number;
  /** First incident index (to write a history in several parts). Default 0. */
  from?: number;
  /** Whether to register the plants' resources first. Default true. */
  registerResources?: boolean;
}

export interface WrittenHistory {
  events: number;
  readings: number;
}

async function appendAll(store: EventStore, appends: Append[]): Promise<void> {
  for (const { stream, event } of appends) await store.appendToStream(stream, [event], { expectedRevision: 'any' });
}

/** Appends the history to the event store and publishes its readings to MES_TELEMETRY. */
export async function writeSyntheticHistory(store: EventStore, nc: NatsConnection, options: WriteHistoryOptions): Promise<WrittenHistory> {
  const prefix = options.prefix ?? 'S';
  const js = jetstream(nc);
  let events = 0;
  let readings = 0;
  if (options.registerResources ?? true) {
    for (const plantId of options.plants) {
      const appends = syntheticResources(plantId, prefix);
      await appendAll(store, appends);
      events += appends.length;
    }
  }
  const work: [string, number][] = [];
  const from = options.from ?? 0;
  for (let index = from; index < from + options.incidents; index++) for (const plantId of options.plants) work.push([plantId, index]);
  let next = 0;
  const worker = async () => {
    while (next < work.length) {
      const [plantId, index] = work[next++]!;
      const incident = syntheticIncident(plantId, index, prefix, options.readingsPerIncident);
      await Promise.all(incident.readings.map((reading) => js.publish(telemetrySubject(plantId, reading.data.machineId), JSON.stringify(reading), { msgID: reading.eventId })));
      readings += incident.readings.length;
      await appendAll(store, incident.appends);
      events += incident.appends.length;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 32 }, worker));
  return { events, readings };
}

