// What each event of an audit trail changed, old -> new, and why (EU GMP Annex 11 §9): the status
// before an event is not in the event itself, so it is folded from the events before it in the
// same history (an order's, its approval requests', the resources it held, its machine's, its
// workflow's). Pure.
import { describeConfigChange, type DomainEvent } from '@mes/contracts';

/** One status or value that an event changed. */
export interface AuditChange {
  /** What changed, e.g. `order MO_1`, `approval request AP_1_0`, `resource T-01`, `machine M-1`. */
  subject: string;
  /** Before the event; null when the subject did not exist before it (or its history holds no earlier state). */
  from: string | null;
  to: string;
}

/** What an event changed (null: no status or value, e.g. an email sent) and why (null: no reason of its own). */
export interface ChangeAndReason {
  change: AuditChange | null;
  why: string | null;
}

interface ResourceFold {
  holder: string | null;
  unavailable: boolean;
}

interface WorkflowFold {
  phase: string;
  /** Due time of each approval level's timeout. */
  dueAt: Map<number, string>;
}

/** What the events so far left behind; each map is copied, never changed in place. */
export interface AuditFold {
  orders: ReadonlyMap<string, string>;
  approvals: ReadonlyMap<string, { status: string; decideBy: string | null }>;
  resources: ReadonlyMap<string, ResourceFold>;
  machines: ReadonlyMap<string, string>;
  workflows: ReadonlyMap<string, WorkflowFold>;
  configs: ReadonlyMap<string, number>;
}

export const EMPTY_AUDIT_FOLD: AuditFold = { orders: new Map(), approvals: new Map(), resources: new Map(), machines: new Map(), workflows: new Map(), configs: new Map() };

const WORKFLOW_PHASE_OF_STEP: Readonly<Record<string, string>> = {
  'approval-requested': 'AwaitingDecision',
  'approval-escalated': 'AwaitingDecision',
  'decision-received': 'RecordingDecision',
  'approval-expiring': 'ExpiringApproval',
  'approval-expired': 'ExpiringOrder',
  'awaiting-resources': 'AwaitingResources',
  'resources-allocated': 'ResourcesAllocated',
};

const quotedComment = (comment: string | undefined) => (comment === undefined || comment.trim() === '' ? 'no comment' : `comment: "${comment}"`);
const resourceStatus = (resource: ResourceFold | undefined): string | null =>
  resource === undefined ? null : resource.holder !== null ? `Allocated (order ${resource.holder})` : resource.unavailable ? 'Unavailable' : 'Available';
const condition = (c: { machineStatus: string; qualityTrend: string; productionBand: string }) => `${c.machineStatus}, quality ${c.qualityTrend}, output ${c.productionBand}`;
const with_ = <K, V>(map: ReadonlyMap<K, V>, key: K, value: V): Map<K, V> => new Map(map).set(key, value);

function statusChange(subject: string, from: string | null | undefined, to: string): AuditChange {
  return { subject, from: from ?? null, to };
}

function notDecidedBy(decideBy: string | null | undefined): string {
  return decideBy ? `nobody decided by the decide-by time ${decideBy}` : 'nobody decided in time';
}

/** What `event` changed and why, given what the events before it left (`fold`), and the fold after it. */
export function foldAuditEvent(fold: AuditFold, event: DomainEvent): { fold: AuditFold; result: ChangeAndReason } {
  const order = (orderId: string, to: string, why: string | null): { fold: AuditFold; result: ChangeAndReason } => ({
    fold: { ...fold, orders: with_(fold.orders, orderId, to) },
    result: { change: statusChange(`order ${orderId}`, fold.orders.get(orderId), to), why },
  });
  const approval = (approvalId: string, to: string, why: string | null, decideBy?: string): { fold: AuditFold; result: ChangeAndReason } => {
    const before = fold.approvals.get(approvalId);
    return {
      fold: { ...fold, approvals: with_(fold.approvals, approvalId, { status: to, decideBy: decideBy ?? before?.decideBy ?? null }) },
      result: { change: statusChange(`approval request ${approvalId}`, before?.status, to), why },
    };
  };
  const resource = (resourceId: string, next: ResourceFold, why: string | null): { fold: AuditFold; result: ChangeAndReason } => ({
    fold: { ...fold, resources: with_(fold.resources, resourceId, next) },
    result: { change: statusChange(`resource ${resourceId}`, resourceStatus(fold.resources.get(resourceId)), resourceStatus(next)!), why },
  });
  const workflow = (workflowId: string, next: WorkflowFold, why: string | null): { fold: AuditFold; result: ChangeAndReason } => {
    const before = fold.workflows.get(workflowId);
    return {
      fold: { ...fold, workflows: with_(fold.workflows, workflowId, next) },
      result: { change: before?.phase === next.phase ? null : statusChange(`workflow ${workflowId}`, before?.phase, next.phase), why },
    };
  };
  const unchanged = (why: string | null = null) => ({ fold, result: { change: null, why } });

  switch (event.type) {
    case 'MachineReadingRecorded':
      return unchanged();
    case 'MachineStatusChanged': {
      const { data } = event;
      const to = condition(data.current);
      return {
        fold: { ...fold, machines: with_(fold.machines, data.machineId, to) },
        result: {
          change: statusChange(`machine ${data.machineId}`, data.previous ? condition(data.previous) : fold.machines.get(data.machineId), to),
          why: `reading at ${data.reading.timestamp}: ${data.reading.machineStatus}, quality ${data.reading.qualityTrend}, output ${data.reading.productionActual} of ${data.reading.productionTarget}`,
        },
      };
    }

    case 'MaintenanceOrderOpened':
      return order(event.data.orderId, 'PendingApproval', event.data.reason);
    case 'MaintenanceOrderApprovalRequested':
      return unchanged(`approval asked of ${event.data.approver.name} <${event.data.approver.email}> (level ${event.data.level})`);
    case 'MaintenanceOrderApproved':
    case 'MaintenanceOrderRejected': {
      const { data } = event;
      const who = data.decidedByName ? `${data.decidedByName} <${data.decidedBy}>` : data.decidedBy;
      return order(data.orderId, event.type === 'MaintenanceOrderApproved' ? 'Approved' : 'Rejected', `decision of ${who}, ${quotedComment(data.comment)}`);
    }
    case 'MaintenanceOrderExpired':
      return order(event.data.orderId, 'Expired', 'no approver decided in time');
    case 'MaintenanceOrderAwaitingResources':
      return order(event.data.orderId, 'AwaitingResources', `approved, but no ${event.data.missing.join(' or ').toLowerCase()} is free`);
    case 'MaintenanceOrderResourcesAllocated':
      return order(event.data.orderId, 'ResourcesAllocated', `technician ${event.data.technicianId} and equipment ${event.data.equipmentId} allocated`);
    case 'MaintenanceOrderCompleted': {
      const { data } = event;
      const reported = `work reported done by ${data.completedBy}${data.statedBy === undefined ? '' : `, stated by ${data.statedBy}`}`;
      return order(data.orderId, 'Completed', data.reason === undefined ? reported : `${data.reason} (${reported})`);
    }
    case 'MaintenanceOrderCancelled': {
      const { data } = event;
      return order(data.orderId, 'Cancelled', data.statedBy === undefined ? data.reason : `${data.reason} (stated by ${data.statedBy})`);
    }

    case 'ApprovalRequested': {
      const { data } = event;
      const why = data.level === 0 ? `order ${data.orderId} needs approval; asked ${data.approver.name} <${data.approver.email}>, decide by ${data.decideBy}` : `escalated to level ${data.level}: asked ${data.approver.name} <${data.approver.email}>, decide by ${data.decideBy}`;
      return approval(data.approvalId, 'Pending', why, data.decideBy);
    }
    case 'ApprovalEmailSent':
      return unchanged();
    case 'ApprovalDecided':
      return approval(event.data.approvalId, event.data.decision === 'approved' ? 'Approved' : 'Rejected', quotedComment(event.data.comment));
    case 'ApprovalEscalated':
      return approval(event.data.approvalId, 'Superseded', `${notDecidedBy(fold.approvals.get(event.data.approvalId)?.decideBy)}; escalated to ${event.data.nextApprover.name} <${event.data.nextApprover.email}>`);
    case 'ApprovalExpired':
      return approval(event.data.approvalId, 'Expired', `${notDecidedBy(fold.approvals.get(event.data.approvalId)?.decideBy)}, and no approver is left`);
    case 'ApprovalWithdrawn':
      return approval(event.data.approvalId, 'Superseded', `no decision needed any more: ${event.data.reason}`);
    case 'ApprovalSignatureFailed':
      // A refused signature changes nothing; the entry records the attempt and why it failed.
      return unchanged(`${event.data.decision === 'approved' ? 'approval' : 'rejection'} by ${event.data.approver.email} refused: wrong PIN (${event.data.consecutiveWrongPins} in a row) from ${event.data.clientAddress}`);
    case 'ApproverSigningLocked':
      return {
        fold,
        result: {
          change: statusChange(`signing by ${event.data.approver.email}`, 'allowed', `locked until ${event.data.lockedUntil}`),
          why: `${event.data.wrongPins} wrong PINs in a row`,
        },
      };

    case 'ResourceRegistered': {
      const before = fold.resources.get(event.data.resourceId);
      return resource(event.data.resourceId, before ?? { holder: null, unavailable: false }, `in the configuration of plant ${event.data.plantId}`);
    }
    case 'ResourceMarkedUnavailable': {
      const before = fold.resources.get(event.data.resourceId) ?? { holder: null, unavailable: false };
      return resource(event.data.resourceId, { ...before, unavailable: true }, event.data.reason);
    }
    case 'ResourceMarkedAvailable': {
      const before = fold.resources.get(event.data.resourceId) ?? { holder: null, unavailable: true };
      return resource(event.data.resourceId, { ...before, unavailable: false }, 'back in the plant configuration');
    }
    case 'ResourceAllocated': {
      // The resource refuses an allocation unless it is free and available: that is the state before.
      const before = fold.resources.get(event.data.resourceId) ?? { holder: null, unavailable: false };
      const next = { ...before, holder: event.data.orderId };
      return {
        fold: { ...fold, resources: with_(fold.resources, event.data.resourceId, next) },
        result: { change: statusChange(`resource ${event.data.resourceId}`, resourceStatus(before), resourceStatus(next)!), why: `order ${event.data.orderId} approved and waiting for it` },
      };
    }
    case 'ResourceReleased': {
      const before = fold.resources.get(event.data.resourceId) ?? { holder: event.data.orderId, unavailable: false };
      const orderStatus = fold.orders.get(event.data.orderId);
      return resource(event.data.resourceId, { ...before, holder: null }, `order ${event.data.orderId} ${orderStatus === undefined ? 'ended' : `is ${orderStatus}`}`);
    }
    case 'OrderQueuedForResources':
    case 'OrderResourcesReserved':
    case 'OrderResourcesConfirmed':
    case 'OrderLeftResourceQueue':
    case 'ResourceWithdrawnFromAllocation':
    case 'ResourceReturnedToAllocation':
      return unchanged();

    case 'WorkflowStarted': {
      const { data } = event;
      const version = data.configVersion === null ? 'configuration version unknown' : `configuration version ${data.configVersion} of plant ${data.plantId}`;
      return workflow(data.workflowId, { phase: 'OpeningOrder', dueAt: new Map() }, `rule ${data.ruleIndex + 1} matched: ${data.reason} (${version})`);
    }
    case 'WorkflowStepRecorded': {
      const { data } = event;
      const before = fold.workflows.get(data.workflowId) ?? { phase: 'OpeningOrder', dueAt: new Map<number, string>() };
      const stepPhase = WORKFLOW_PHASE_OF_STEP[data.step];
      // Which approver is awaited is part of the state: an escalation changes it.
      const phase = stepPhase === undefined ? before.phase : stepPhase === 'AwaitingDecision' && data.level !== undefined ? `AwaitingDecision (level ${data.level})` : stepPhase;
      const previousLevelDue = data.level === undefined ? undefined : before.dueAt.get(data.level - 1);
      const why =
        data.step === 'approval-escalated' ? notDecidedBy(previousLevelDue) :
        data.step === 'approval-expiring' ? notDecidedBy(data.level === undefined ? undefined : before.dueAt.get(data.level)) :
        data.step === 'decision-received' && data.decision ? `${data.decision.decision} by ${data.decision.approver.name} <${data.decision.approver.email}>, ${quotedComment(data.decision.comment)}` :
        data.step === 'approval-requested' ? 'the order is open' :
        data.step === 'awaiting-resources' ? 'the order is approved' :
        data.step === 'resources-allocated' ? 'technician and equipment allocated' :
        data.step === 'approval-expired' ? 'the last approval request expired' :
        (data.detail ?? null);
      return workflow(data.workflowId, { ...before, phase }, why);
    }
    case 'WorkflowTimeoutScheduled': {
      const { data } = event;
      const before = fold.workflows.get(data.workflowId) ?? { phase: 'OpeningOrder', dueAt: new Map<number, string>() };
      // Timeout ids end with their approval level (workflowIds.timeout); else it is the level just asked for.
      const level = /_(\d+)$/.exec(data.timeoutId)?.[1];
      const dueAt = new Map(before.dueAt).set(level === undefined ? before.dueAt.size : Number(level), data.dueAt);
      return { fold: { ...fold, workflows: with_(fold.workflows, data.workflowId, { ...before, dueAt }) }, result: { change: null, why: null } };
    }
    case 'WorkflowCompleted': {
      const { data } = event;
      const before = fold.workflows.get(data.workflowId) ?? { phase: 'OpeningOrder', dueAt: new Map<number, string>() };
      return workflow(data.workflowId, { ...before, phase: `Completed (${data.outcome})` }, `the order ended ${data.outcome}`);
    }

    case 'PlantConfigVersionRecorded': {
      const { data } = event;
      const before = fold.configs.get(data.plantId) ?? (data.version > 1 ? data.version - 1 : undefined);
      const changes = data.changes.map(describeConfigChange);
      const shown = changes.length > 5 ? [...changes.slice(0, 5), `and ${changes.length - 5} more`] : changes;
      return {
        fold: { ...fold, configs: with_(fold.configs, data.plantId, data.version) },
        result: {
          change: statusChange(`configuration of plant ${data.plantId}`, before === undefined ? null : `version ${before}`, `version ${data.version}`),
          why: `${data.via} from ${data.source}: ${shown.length === 0 ? 'no changes' : shown.join('; ')}`,
        },
      };
    }
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}
