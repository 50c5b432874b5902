// The audit trail (CONTRACT §5): events of the log as entries a person reads, oldest first, each
// with its time, type, actor and data, and one line in words. Pure.
import { parseDomainEvent, type Actor, type DomainEvent, type EventEnvelope, type Person } from '@mes/contracts';

export interface AuditEntry {
  /** When it happened (the event's occurredAt, UTC). */
  time: string;
  eventType: string;
  actor: Actor;
  /** One line in words, e.g. `approved by Alice Novak <alice@plant1.example>: "Go ahead"`. */
  summary: string;
  data: unknown;
  stream: string;
  eventId: string;
  /** Position in the log, as a decimal string (JSON has no 64-bit integers). */
  position: string;
  correlationId: string;
  causationId: string | null;
}

export type AuditableEvent = EventEnvelope & { position: bigint };

export function describeActor(actor: Actor): string {
  switch (actor.kind) {
    case 'person':
      return actor.name ? `${actor.name} <${actor.id}>` : actor.id;
    case 'service':
      return `service ${actor.id}`;
    case 'device':
      return `machine ${actor.id}`;
    case 'client':
      return `API client ${actor.id}`;
    default: {
      const _exhaustive: never = actor.kind;
      return _exhaustive;
    }
  }
}

const person = (p: Person) => `${p.name} <${p.email}>`;
const statedBy = (name: string | undefined) => (name === undefined ? '' : ` (stated: for ${name})`);
const quoted = (comment: string | undefined) => (comment === undefined || comment === '' ? '' : `: "${comment}"`);

/** The sentence for one event; the event's type alone when this build does not know it. */
export function describeEvent(event: DomainEvent): string {
  switch (event.type) {
    case 'MachineReadingRecorded': {
      const r = event.data;
      return `reading of ${r.machineId}: ${r.machineStatus}, quality ${r.qualityTrend}, output ${r.productionActual}/${r.productionTarget} at ${r.timestamp}`;
    }
    case 'MachineStatusChanged': {
      const { data } = event;
      const r = data.reading;
      const before = data.previous ? `${data.previous.machineStatus}/${data.previous.qualityTrend}/${data.previous.productionBand}` : 'unknown';
      return `condition of ${data.machineId} changed from ${before} to ${data.current.machineStatus}/${data.current.qualityTrend}/${data.current.productionBand} (reading at ${r.timestamp}: ${r.machineStatus}, quality ${r.qualityTrend}, output ${r.productionActual}/${r.productionTarget})`;
    }
    case 'WorkflowStarted': {
      const { data } = event;
      return `workflow ${data.workflowId} started for ${data.machineId} by rule ${data.ruleIndex + 1} "${data.reason}" (trigger: ${data.triggeredBy.machineStatus}, quality ${data.triggeredBy.qualityTrend}, output ${data.triggeredBy.productionActual}/${data.triggeredBy.productionTarget} at ${data.triggeredBy.timestamp})`;
    }
    case 'WorkflowStepRecorded': {
      const { data } = event;
      const decision = data.decision ? ` (${data.decision.decision} by ${person(data.decision.approver)})` : '';
      return `workflow step ${data.step}${decision}${data.detail ? `: ${data.detail}` : ''}`;
    }
    case 'WorkflowTimeoutScheduled':
      return `${event.data.purpose} scheduled for ${event.data.dueAt}`;
    case 'WorkflowCompleted':
      return `workflow ended ${event.data.outcome}`;
    case 'MaintenanceOrderOpened': {
      const { data } = event;
      return `order ${data.orderId} opened for machine ${data.machineId} (plant ${data.plantId}): ${data.reason}`;
    }
    case 'MaintenanceOrderApprovalRequested':
      return `approval ${event.data.approvalId} requested from ${person(event.data.approver)} (level ${event.data.level})`;
    case 'MaintenanceOrderApproved':
    case 'MaintenanceOrderRejected': {
      const { data } = event;
      const who = data.decidedByName ? `${data.decidedByName} <${data.decidedBy}>` : data.decidedBy;
      return `order ${event.type === 'MaintenanceOrderApproved' ? 'approved' : 'rejected'} by ${who} at ${data.decidedAt}${quoted(data.comment)}`;
    }
    case 'MaintenanceOrderExpired':
      return `order expired without a decision at ${event.data.expiredAt}`;
    case 'MaintenanceOrderAwaitingResources':
      return `order waits for resources: no ${event.data.missing.join(' or ')} free`;
    case 'MaintenanceOrderResourcesAllocated':
      return `technician ${event.data.technicianId} and equipment ${event.data.equipmentId} allocated`;
    case 'MaintenanceOrderCompleted':
      return `order completed by ${event.data.completedBy}${statedBy(event.data.statedBy)}${event.data.reason === undefined ? '' : `: ${event.data.reason}`}`;
    case 'MaintenanceOrderCancelled':
      return `order cancelled by ${event.data.cancelledBy}${statedBy(event.data.statedBy)}: ${event.data.reason}`;
    case 'ApprovalRequested': {
      const { data } = event;
      return `approval ${data.approvalId} requested from ${person(data.approver)} (level ${data.level}), decide by ${data.decideBy}`;
    }
    case 'ApprovalEmailSent':
      return `approval email sent to ${event.data.to}${event.data.messageId ? ` (${event.data.messageId})` : ''}`;
    case 'ApprovalDecided': {
      const { data } = event;
      return `${data.decision} by ${person(data.approver)} at ${data.decidedAt}${quoted(data.comment)} (from ${data.clientAddress || 'unknown address'}${data.userAgent ? `, ${data.userAgent}` : ''})`;
    }
    case 'ApprovalEscalated':
      return `approval ${event.data.approvalId} not decided in time; escalated to ${person(event.data.nextApprover)} (level ${event.data.level})`;
    case 'ApprovalExpired':
      return `approval ${event.data.approvalId} expired without a decision`;
    case 'ApprovalWithdrawn':
      return `approval ${event.data.approvalId} withdrawn, no decision needed: ${event.data.reason}`;
    case 'ApprovalSignatureFailed': {
      const { data } = event;
      return `signature as ${person(data.approver)} refused: wrong PIN (${data.consecutiveWrongPins} in a row); approval ${data.approvalId} not ${data.decision} (from ${data.clientAddress || 'unknown address'})`;
    }
    case 'ApproverSigningLocked':
      return `signing by ${person(event.data.approver)} locked until ${event.data.lockedUntil} after ${event.data.wrongPins} wrong PINs in a row`;
    case 'ResourceRegistered':
      return `${event.data.resourceType.toLowerCase()} ${event.data.resourceId} (${event.data.name}) registered in plant ${event.data.plantId}`;
    case 'ResourceMarkedUnavailable':
      return `resource ${event.data.resourceId} unavailable: ${event.data.reason}`;
    case 'ResourceMarkedAvailable':
      return `resource ${event.data.resourceId} available again`;
    case 'ResourceAllocated':
      return `resource ${event.data.resourceId} allocated to order ${event.data.orderId}`;
    case 'ResourceReleased':
      return `resource ${event.data.resourceId} released by order ${event.data.orderId}`;
    case 'OrderQueuedForResources':
      return `order ${event.data.orderId} queued for a technician and equipment`;
    case 'OrderResourcesReserved':
      return `technician ${event.data.technicianId} and equipment ${event.data.equipmentId} reserved for order ${event.data.orderId}`;
    case 'OrderResourcesConfirmed':
      return `technician ${event.data.technicianId} and equipment ${event.data.equipmentId} booked for order ${event.data.orderId}`;
    case 'OrderLeftResourceQueue':
      return `order ${event.data.orderId} left the resource queue`;
    case 'ResourceWithdrawnFromAllocation':
      return `resource ${event.data.resourceId} withdrawn from allocation`;
    case 'ResourceReturnedToAllocation':
      return `resource ${event.data.resourceId} returned to allocation`;
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

export function toAuditEntry(event: AuditableEvent): AuditEntry {
  let summary: string;
  try {
    summary = describeEvent(parseDomainEvent(event.type, event.version, event.data));
  } catch (err) {
    // An event this build cannot read still belongs in the history, as it was stored.
    summary = `${event.type} v${event.version} (${(err as Error).message})`;
  }
  return {
    time: event.occurredAt,
    eventType: event.type,
    actor: event.actor,
    summary,
    data: event.data,
    stream: event.stream,
    eventId: event.eventId,
    position: event.position.toString(),
    correlationId: event.correlationId,
    causationId: event.causationId,
  };
}

/** Log order (oldest first), each event once however many reads found it. */
export function auditTrail(events: Iterable<AuditableEvent>): AuditEntry[] {
  const unique = new Map<string, AuditableEvent>();
  for (const event of events) if (!unique.has(event.eventId)) unique.set(event.eventId, event);
  return [...unique.values()].sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0)).map(toAuditEntry);
}

/** One line for a person: time, type, actor, what happened. */
export function formatAuditLine(entry: AuditEntry): string {
  return `${entry.time}  ${entry.eventType.padEnd(34)}  ${describeActor(entry.actor).padEnd(40)}  ${entry.summary}`;
}
