// The saga that runs one incident from a rule match to its outcome (STYLE.md item 8): inputs (start,
// events observed from other services, timeouts) decide workflow events; what to do next (commands to
// send, timeouts to schedule, the machine to free) is a pure function of the resulting state, so it
// can be done again safely after a crash.
// One file over 300 lines on purpose: the saga's states and transitions read as one whole.
import { orderIdForWorkflow } from '@mes/contracts';
import type {
  ApprovalDecided,
  ApprovalPolicy,
  DomainEvent,
  ReadingSummary,
  WorkflowCompleted,
  WorkflowOutcome,
  WorkflowStarted,
  WorkflowStepRecorded,
  WorkflowTimeoutScheduled,
} from '@mes/contracts';
import { domainEventDecoder, type Decider } from '@mes/platform/decider';

export type { ApprovalPolicy };

/** A new incident: it runs under the plant's newest configuration version (CONTRACT §3), recorded with it. */
export interface StartWorkflow {
  type: 'StartWorkflow';
  workflowId: string;
  plantId: string;
  machineId: string;
  ruleIndex: number;
  reason: string;
  trigger: ReadingSummary;
  /** The plant's configuration version whose rule matched; null when none is recorded. */
  configVersion: number | null;
  /** That version's approval policy: the workflow keeps it to its end. */
  policy: ApprovalPolicy;
  at: string;
}

/**
 * An event of another service that belongs to this workflow (same correlation id). `policy` is the
 * service's current one, used only by a workflow that recorded none (started by WorkflowStarted v1).
 */
export interface ObserveEvent {
  type: 'ObserveEvent';
  event: DomainEvent;
  policy: ApprovalPolicy;
  at: string;
}

/** A timeout fell due; `policy` as in ObserveEvent. */
export interface FireTimeout {
  type: 'FireTimeout';
  timeoutId: string;
  policy: ApprovalPolicy;
  at: string;
}

export type WorkflowInput = StartWorkflow | ObserveEvent | FireTimeout;

export type WorkflowEvent = WorkflowStarted | WorkflowStepRecorded | WorkflowTimeoutScheduled | WorkflowCompleted;

export type WorkflowPhase =
  /** Asked maintenance for an order. */
  | 'OpeningOrder'
  /** Asked approvals for a decision by the approver of `level`; a timeout is scheduled. */
  | 'AwaitingDecision'
  /** The approver decided; asked maintenance to record it on the order. */
  | 'RecordingDecision'
  /** Nobody decided in time: asked approvals to expire the request. */
  | 'ExpiringApproval'
  /** The approval expired: asked maintenance to expire the order. */
  | 'ExpiringOrder'
  /** Approved: asked resources for a technician and equipment. */
  | 'AwaitingResources'
  | 'ResourcesAllocated'
  | 'Completed';

export type Decision = NonNullable<WorkflowStepRecorded['data']['decision']>;

export interface WorkflowState {
  workflowId: string;
  plantId: string;
  machineId: string;
  orderId: string;
  reason: string;
  trigger: ReadingSummary;
  /** The configuration version it runs under; null when unknown. */
  configVersion: number | null;
  /** The approval policy it runs under, from its start; null when started by WorkflowStarted v1. */
  policy: ApprovalPolicy | null;
  phase: WorkflowPhase;
  /** Current approval level and its request, once approval was asked for. */
  level: number;
  approvalId: string | null;
  /** Timeouts scheduled, by id, with when they are due. */
  timeouts: Readonly<Record<string, { dueAt: string; level: number }>>;
  decision: Decision | null;
  outcome: WorkflowOutcome | null;
}

/** Ids derived from the workflow id, so every retry names the same order, approval and timeout. */
export const workflowIds = {
  order: orderIdForWorkflow,
  approval: (workflowId: string, level: number) => `AP_${suffixOf(workflowId)}_${level}`,
  timeout: (workflowId: string, level: number) => `TO_${suffixOf(workflowId)}_${level}`,
};

function suffixOf(workflowId: string): string {
  return workflowId.startsWith('WF_') ? workflowId.slice(3) : workflowId;
}

function plusMs(iso: string, ms: number): string {
  return new Date(Date.parse(iso) + ms).toISOString();
}

function step(state: WorkflowState, at: string, name: string, extra: Partial<WorkflowStepRecorded['data']> = {}): WorkflowStepRecorded {
  return { type: 'WorkflowStepRecorded', version: 1, data: { workflowId: state.workflowId, step: name, at, ...extra } };
}

function completed(state: WorkflowState, at: string, outcome: WorkflowOutcome): WorkflowCompleted {
  return { type: 'WorkflowCompleted', version: 1, data: { workflowId: state.workflowId, outcome, at } };
}

/** The approval request at `level` and its timeout. */
function askApprover(state: WorkflowState, level: number, at: string, policy: ApprovalPolicy): WorkflowEvent[] {
  const timeoutId = workflowIds.timeout(state.workflowId, level);
  return [
    step(state, at, level === 0 ? 'approval-requested' : 'approval-escalated', {
      level,
      approvalId: workflowIds.approval(state.workflowId, level),
      detail: `asked ${policy.approvers[level]?.email ?? 'the next approver'}`,
    }),
    {
      type: 'WorkflowTimeoutScheduled',
      version: 1,
      data: { workflowId: state.workflowId, timeoutId, dueAt: plusMs(at, policy.approvalTimeoutMs), purpose: 'approvalTimeout' },
    },
  ];
}

/** The level of one of this workflow's approval requests, up to the current level; undefined for any other id. */
function levelOfApproval(state: WorkflowState, approvalId: string): number | undefined {
  for (let level = 0; level <= state.level; level++) if (workflowIds.approval(state.workflowId, level) === approvalId) return level;
  return undefined;
}

/**
 * The approvals service records at most one decision per order, and only before the request's
 * decide-by time and before any escalation or expiry of it is recorded: a decision it recorded is
 * final, even when this workflow's timer fired meanwhile and it already asked for the next level
 * or for the expiry (those then change nothing there).
 */
/** An input that changes nothing, with why: a trace can then say why nothing happened. */
export interface Ignored {
  ignored: string;
}

const ignore = (reason: string): Ignored => ({ ignored: reason });

/** What an input decides: events, or nothing and why. */
export type WorkflowDecision = WorkflowEvent[] | Ignored;

function receiveDecision(state: WorkflowState, decided: ApprovalDecided['data'], at: string): WorkflowDecision {
  const level = levelOfApproval(state, decided.approvalId);
  if (level === undefined) return ignore(`decision on ${decided.approvalId}, which this workflow never asked for`);
  const decision: Decision = {
    decision: decided.decision,
    approver: decided.approver,
    decidedAt: decided.decidedAt,
    ...(decided.comment === undefined ? {} : { comment: decided.comment }),
  };
  return [step(state, at, 'decision-received', { level, approvalId: workflowIds.approval(state.workflowId, level), decision, detail: `${decision.decision} by ${decision.approver.email}` })];
}

/** The one event type a phase waits for (besides cancellation and completion). */
function notAwaited(state: WorkflowState, event: DomainEvent, awaited: string): Ignored {
  return ignore(`${event.type} is not what the workflow waits for in ${state.phase} (${awaited})`);
}

/**
 * The only event types of other services that can change a workflow (what `observe` acts on);
 * every other one is ignored in every phase, so the service need not read the workflow for it.
 */
export const OBSERVED_EVENT_TYPES: ReadonlySet<DomainEvent['type']> = new Set<DomainEvent['type']>([
  'MaintenanceOrderOpened',
  'MaintenanceOrderApproved',
  'MaintenanceOrderRejected',
  'MaintenanceOrderExpired',
  'MaintenanceOrderResourcesAllocated',
  'MaintenanceOrderCompleted',
  'MaintenanceOrderCancelled',
  'ApprovalDecided',
  'ApprovalExpired',
]);

function observe(state: WorkflowState, input: ObserveEvent): WorkflowDecision {
  const { event, at } = input;
  // Cancellation and completion end the workflow whatever it was waiting for.
  if (event.type === 'MaintenanceOrderCancelled') return [completed(state, at, 'Cancelled')];
  if (event.type === 'MaintenanceOrderCompleted') return [completed(state, at, 'Completed')];

  switch (state.phase) {
    case 'OpeningOrder':
      return event.type === 'MaintenanceOrderOpened' ? askApprover(state, 0, at, policyOf(state, input)) : notAwaited(state, event, 'MaintenanceOrderOpened');
    case 'AwaitingDecision':
    case 'ExpiringApproval':
      if (event.type === 'ApprovalDecided') return receiveDecision(state, event.data, at);
      if (state.phase === 'ExpiringApproval' && event.type === 'ApprovalExpired') {
        return event.data.approvalId === state.approvalId ? [step(state, at, 'approval-expired', { approvalId: event.data.approvalId })] : ignore(`expiry of ${event.data.approvalId}, not of the current request ${state.approvalId ?? 'none'}`);
      }
      return notAwaited(state, event, state.phase === 'AwaitingDecision' ? 'ApprovalDecided' : 'ApprovalDecided or ApprovalExpired');
    case 'RecordingDecision':
      if (event.type === 'MaintenanceOrderApproved') return [step(state, at, 'awaiting-resources')];
      if (event.type === 'MaintenanceOrderRejected') return [completed(state, at, 'Rejected')];
      return notAwaited(state, event, 'MaintenanceOrderApproved or MaintenanceOrderRejected');
    case 'ExpiringOrder':
      return event.type === 'MaintenanceOrderExpired' ? [completed(state, at, 'Expired')] : notAwaited(state, event, 'MaintenanceOrderExpired');
    case 'AwaitingResources':
      return event.type === 'MaintenanceOrderResourcesAllocated' ? [step(state, at, 'resources-allocated')] : notAwaited(state, event, 'MaintenanceOrderResourcesAllocated');
    case 'ResourcesAllocated':
    case 'Completed':
      return notAwaited(state, event, 'MaintenanceOrderCompleted or MaintenanceOrderCancelled');
    default: {
      const _exhaustive: never = state.phase;
      return _exhaustive;
    }
  }
}

/**
 * The policy an input is decided under: the one the workflow started with (its configuration
 * version), so a reload changes nothing for it; the service's current one only for a workflow
 * started before versions were recorded.
 */
export function policyOf(state: WorkflowState, input: ObserveEvent | FireTimeout): ApprovalPolicy {
  return state.policy ?? input.policy;
}

function fireTimeout(state: WorkflowState, input: FireTimeout): WorkflowDecision {
  const timeout = state.timeouts[input.timeoutId];
  if (!timeout) return ignore(`timeout ${input.timeoutId} was never scheduled by this workflow`);
  // A timeout of a level that is no longer awaited is stale: the approver decided, or it escalated.
  if (state.phase !== 'AwaitingDecision') return ignore(`timeout ${input.timeoutId} is stale: the workflow is ${state.phase}`);
  if (timeout.level !== state.level) return ignore(`timeout ${input.timeoutId} is of level ${timeout.level}; the request was escalated to level ${state.level}`);
  const next = state.level + 1;
  const policy = policyOf(state, input);
  if (next < policy.approvers.length) return askApprover(state, next, input.at, policy);
  return [step(state, input.at, 'approval-expiring', { level: state.level, approvalId: state.approvalId ?? undefined, detail: 'no approver decided in time' })];
}

/** The saga's decision for an input, saying why when it changes nothing. */
export function decideWorkflow(input: WorkflowInput, state: WorkflowState | null): WorkflowDecision {
  if (input.type === 'StartWorkflow') {
    if (state !== null) return ignore(`workflow ${input.workflowId} has started already (a redelivered trigger)`);
    return [
      {
        type: 'WorkflowStarted',
        version: 2,
        data: {
          workflowId: input.workflowId,
          plantId: input.plantId,
          machineId: input.machineId,
          ruleIndex: input.ruleIndex,
          reason: input.reason,
          triggeredBy: input.trigger,
          startedAt: input.at,
          configVersion: input.configVersion,
          policy: input.policy,
        },
      },
    ];
  }
  if (state === null) return ignore('no workflow with this id was started');
  if (state.phase === 'Completed') return ignore(`the workflow ended ${state.outcome ?? ''}`.trim());
  return input.type === 'ObserveEvent' ? observe(state, input) : fireTimeout(state, input);
}

/** Why an input changed nothing, or undefined when it decided events. */
export function ignoredBecause(decision: WorkflowDecision): string | undefined {
  return Array.isArray(decision) ? undefined : decision.ignored;
}

export const maintenanceWorkflowDecider: Decider<WorkflowInput, WorkflowEvent, WorkflowState | null> = {
  initialState: null,
  decode: domainEventDecoder('WorkflowStarted', 'WorkflowStepRecorded', 'WorkflowTimeoutScheduled', 'WorkflowCompleted'),

  decide(input, state) {
    const decision = decideWorkflow(input, state);
    return Array.isArray(decision) ? decision : [];
  },

  evolve(state, event) {
    if (event.type === 'WorkflowStarted') {
      const d = event.data;
      return {
        workflowId: d.workflowId,
        plantId: d.plantId,
        machineId: d.machineId,
        orderId: workflowIds.order(d.workflowId),
        reason: d.reason,
        trigger: d.triggeredBy,
        configVersion: d.configVersion,
        policy: d.policy,
        phase: 'OpeningOrder',
        level: 0,
        approvalId: null,
        timeouts: {},
        decision: null,
        outcome: null,
      };
    }
    if (state === null) return state;
    switch (event.type) {
      case 'WorkflowTimeoutScheduled':
        return { ...state, timeouts: { ...state.timeouts, [event.data.timeoutId]: { dueAt: event.data.dueAt, level: state.level } } };
      case 'WorkflowCompleted':
        return { ...state, phase: 'Completed', outcome: event.data.outcome };
      case 'WorkflowStepRecorded': {
        const d = event.data;
        switch (d.step) {
          case 'approval-requested':
          case 'approval-escalated':
            return { ...state, phase: 'AwaitingDecision', level: d.level ?? state.level, approvalId: d.approvalId ?? state.approvalId };
          case 'decision-received':
            // The decided request may be of an earlier level than the one last asked for (see receiveDecision).
            return { ...state, phase: 'RecordingDecision', decision: d.decision ?? null, approvalId: d.approvalId ?? state.approvalId, level: d.level ?? state.level };
          case 'approval-expiring':
            return { ...state, phase: 'ExpiringApproval' };
          case 'approval-expired':
            return { ...state, phase: 'ExpiringOrder' };
          case 'awaiting-resources':
            return { ...state, phase: 'AwaitingResources' };
          case 'resources-allocated':
            return { ...state, phase: 'ResourcesAllocated' };
          default:
            return state;
        }
      }
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  },
};
