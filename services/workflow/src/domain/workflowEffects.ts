// What a workflow must have done in its current state (STYLE.md item 8): a pure function of the
// state, so it can be done again safely after a crash or a redelivery; each effect is idempotent
// (deterministic command ids, timer ids, a release that only frees what this workflow holds).
import { workflowIds, type Decision, type WorkflowState } from './maintenanceWorkflow.js';

/** What the workflow must have done in its current state; each effect is idempotent. */
export type WorkflowEffect =
  | { kind: 'openOrder'; commandId: string }
  /** `decideBy`: when this level's timeout escalates or expires the request. */
  | { kind: 'requestApproval'; commandId: string; level: number; approvalId: string; decideBy?: string; supersedesApprovalId?: string }
  | { kind: 'scheduleTimeout'; timeoutId: string; dueAt: string; level: number }
  | { kind: 'recordDecision'; commandId: string; decision: Decision; approvalId: string }
  | { kind: 'expireApproval'; commandId: string; approvalId: string }
  | { kind: 'expireOrder'; commandId: string }
  | { kind: 'allocateResources'; commandId: string }
  /** Give back what the order holds, or take it out of the waiting queue. */
  | { kind: 'releaseResources'; commandId: string }
  /** The order ended while its approval was pending: its requests need no decision any more. */
  | { kind: 'withdrawApprovals'; commandId: string; reason: string }
  | { kind: 'releaseMachine' };

export function workflowEffects(state: WorkflowState | null): WorkflowEffect[] {
  if (state === null) return [];
  const wf = state.workflowId;
  switch (state.phase) {
    case 'OpeningOrder':
      return [{ kind: 'openOrder', commandId: `${wf}/open-order` }];
    case 'AwaitingDecision': {
      const approvalId = state.approvalId ?? workflowIds.approval(wf, state.level);
      const timeoutId = workflowIds.timeout(wf, state.level);
      const timeout = state.timeouts[timeoutId];
      const effects: WorkflowEffect[] = [
        {
          kind: 'requestApproval',
          commandId: `${wf}/request-approval/${state.level}`,
          level: state.level,
          approvalId,
          ...(timeout ? { decideBy: timeout.dueAt } : {}),
          ...(state.level > 0 ? { supersedesApprovalId: workflowIds.approval(wf, state.level - 1) } : {}),
        },
      ];
      if (timeout) effects.push({ kind: 'scheduleTimeout', timeoutId, dueAt: timeout.dueAt, level: state.level });
      return effects;
    }
    case 'RecordingDecision':
      return state.decision && state.approvalId ? [{ kind: 'recordDecision', commandId: `${wf}/record-decision`, decision: state.decision, approvalId: state.approvalId }] : [];
    case 'ExpiringApproval':
      return state.approvalId ? [{ kind: 'expireApproval', commandId: `${wf}/expire-approval`, approvalId: state.approvalId }] : [];
    case 'ExpiringOrder':
      return [{ kind: 'expireOrder', commandId: `${wf}/expire-order` }];
    case 'AwaitingResources':
      return [{ kind: 'allocateResources', commandId: `${wf}/allocate-resources` }];
    case 'ResourcesAllocated':
      return [];
    case 'Completed': {
      const effects: WorkflowEffect[] = [];
      // A cancelled order may have been waiting for a decision; asking approvals is harmless if not.
      if (state.outcome === 'Cancelled' && state.approvalId !== null && state.decision === null) {
        effects.push({ kind: 'withdrawApprovals', commandId: `${wf}/withdraw-approvals`, reason: 'order cancelled' });
      }
      // Only an order that was approved can hold resources or wait for them.
      if (state.outcome === 'Completed' || state.outcome === 'Cancelled') effects.push({ kind: 'releaseResources', commandId: `${wf}/release-resources` });
      effects.push({ kind: 'releaseMachine' });
      return effects;
    }
    default: {
      const _exhaustive: never = state.phase;
      return _exhaustive;
    }
  }
}
