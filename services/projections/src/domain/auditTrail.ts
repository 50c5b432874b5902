// The audit trail (CONTRACT §5; 21 CFR 11.10(e), EU GMP Annex 11 §9): events of the log as entries a
// person reads, oldest first, each with its time (UTC), type, who caused it, what it changed (old ->
// new), why, the hash chain link the store gave it, its data, and one line in words. Pure.
import { describeConfigChange, parseDomainEvent, type Actor, type DomainEvent, type EventEnvelope, type Person } from '@mes/contracts';
import { EMPTY_AUDIT_FOLD, foldAuditEvent, type AuditChange, type AuditFold, type ChangeAndReason } from './auditChanges.js';

export type { AuditChange } from './auditChanges.js';

export interface AuditEntry {
  /** When it happened: the event's occurredAt, as an ISO-8601 instant in UTC (`...Z`). */
  time: string;
  /** The zone `time` is in, named for readers: always UTC. */
  timeZone: 'UTC';
  eventType: string;
  /** The version of the event's schema it was stored with. */
  eventVersion: number;
  actor: Actor;
  /** The actor in words, e.g. `Alice Novak <alice@plant1.example>`, `API client erp`, `service workflow`. */
  who: string;
  /** The status or value the event changed, old -> new; null when it changed none (e.g. an email sent). */
  change: AuditChange | null;
  /** Why, in words: the rule's reason, the approver's comment, the cancel reason, ...; null when the event has none of its own. */
  why: string | null;
  /** One line in words, e.g. `approved by Alice Novak <alice@plant1.example>: "Go ahead"`. */
  summary: string;
  data: unknown;
  stream: string;
  eventId: string;
  /** Position in the log, as a decimal string (JSON has no 64-bit integers). */
  position: string;
  correlationId: string;
  causationId: string | null;
  /** Tamper evidence (CONTRACT §5): the event's chain hash and its stream's previous one; null when stored without. */
  hash: string | null;
  previousHash: string | null;
}

/** A stored event; `hash` and `previousHash` where the store chained it. */
export type AuditableEvent = EventEnvelope & { position: bigint; hash?: string; previousHash?: string };

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
      const version = data.configVersion === null ? 'configuration version unknown' : `configuration version ${data.configVersion}`;
      const policy = data.policy === null ? '' : `; approvers in order: ${data.policy.approvers.map((a) => a.email).join(', ')}, ${formatDuration(data.policy.approvalTimeoutMs)} each`;
      return `workflow ${data.workflowId} started for ${data.machineId} by rule ${data.ruleIndex + 1} "${data.reason}" under ${version}${policy} (trigger: ${data.triggeredBy.machineStatus}, quality ${data.triggeredBy.qualityTrend}, output ${data.triggeredBy.productionActual}/${data.triggeredBy.productionTarget} at ${data.triggeredBy.timestamp})`;
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
    case 'PlantConfigVersionRecorded': {
      const { data } = event;
      return `configuration version ${data.version} of plant ${data.plantId} recorded (${data.via}, ${data.source}): ${data.changes.length === 0 ? 'no changes' : data.changes.map(describeConfigChange).join('; ')}`;
    }
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

/** `PT30M`-like durations in words: `30 min`, `1 h 30 min`, `45 s`. */
function formatDuration(ms: number): string {
  const parts: string[] = [];
  const days = Math.floor(ms / 86_400_000);
  const hours = Math.floor((ms % 86_400_000) / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  if (days > 0) parts.push(`${days} d`);
  if (hours > 0) parts.push(`${hours} h`);
  if (minutes > 0) parts.push(`${minutes} min`);
  if (seconds > 0) parts.push(`${seconds} s`);
  return parts.join(' ');
}

function utc(iso: string): string {
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? iso : time.toISOString();
}

function entryOf(event: AuditableEvent, summary: string, { change, why }: ChangeAndReason): AuditEntry {
  return {
    time: utc(event.occurredAt),
    timeZone: 'UTC',
    eventType: event.type,
    eventVersion: event.version,
    actor: event.actor,
    who: describeActor(event.actor),
    change,
    why,
    summary,
    data: event.data,
    stream: event.stream,
    eventId: event.eventId,
    position: event.position.toString(),
    correlationId: event.correlationId,
    causationId: event.causationId,
    hash: typeof event.hash === 'string' ? event.hash : null,
    previousHash: typeof event.previousHash === 'string' ? event.previousHash : null,
  };
}

/** The entry of one event and the fold after it; an event this build cannot read still belongs in the history, as it was stored. */
function foldEntry(fold: AuditFold, event: AuditableEvent): { fold: AuditFold; entry: AuditEntry } {
  let parsed: DomainEvent;
  try {
    parsed = parseDomainEvent(event.type, event.version, event.data);
  } catch (err) {
    return { fold, entry: entryOf(event, `${event.type} v${event.version} (${(err as Error).message})`, { change: null, why: null }) };
  }
  const folded = foldAuditEvent(fold, parsed);
  return { fold: folded.fold, entry: entryOf(event, describeEvent(parsed), folded.result) };
}

/** One event as an entry, without the events before it (its old status unknown). */
export function toAuditEntry(event: AuditableEvent): AuditEntry {
  return foldEntry(EMPTY_AUDIT_FOLD, event).entry;
}

const byPosition = (a: AuditableEvent, b: AuditableEvent) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0);

/**
 * Log order (oldest first), each event once however many reads found it. `context` holds events
 * read only for what they left behind (e.g. a resource's events of other orders): they are folded
 * in log order to know each status before an entry, but are not entries themselves.
 */
export function auditTrail(events: Iterable<AuditableEvent>, context: Iterable<AuditableEvent> = []): AuditEntry[] {
  const shown = new Set<string>();
  const unique = new Map<string, AuditableEvent>();
  for (const event of events) {
    shown.add(event.eventId);
    if (!unique.has(event.eventId)) unique.set(event.eventId, event);
  }
  for (const event of context) if (!unique.has(event.eventId)) unique.set(event.eventId, event);
  let fold = EMPTY_AUDIT_FOLD;
  const entries: AuditEntry[] = [];
  for (const event of [...unique.values()].sort(byPosition)) {
    const next = foldEntry(fold, event);
    fold = next.fold;
    if (shown.has(event.eventId)) entries.push(next.entry);
  }
  return entries;
}

/** `2026-11-25 10:00:00.000 UTC`: the entry's time with its zone named. */
export function formatAuditTime(entry: Pick<AuditEntry, 'time'>): string {
  return /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(entry.time) ? `${entry.time.slice(0, -1).replace('T', ' ')} UTC` : entry.time;
}

/** `order MO_1: PendingApproval -> Approved`. */
export function formatAuditChange(change: AuditChange): string {
  return `${change.subject}: ${change.from ?? '(new)'} -> ${change.to}`;
}

/**
 * An entry for a person: the first line its time, type, actor and what happened; then what changed,
 * why, and its link in the hash chain, indented.
 */
export function formatAuditLine(entry: AuditEntry): string {
  const lines = [`${formatAuditTime(entry)}  ${entry.eventType.padEnd(34)}  ${entry.who.padEnd(40)}  ${entry.summary}`];
  if (entry.change) lines.push(`    changed: ${formatAuditChange(entry.change)}`);
  if (entry.why !== null) lines.push(`    why: ${entry.why}`);
  lines.push(entry.hash === null ? '    hash: none (stored without one)' : `    hash: ${entry.hash}  previous: ${entry.previousHash ?? 'none'}`);
  return lines.join('\n');
}
