// What a workflow does, carried out: each effect of its state becomes a command to the service
// that handles it (deterministic command id, so a repeat is dropped by the command stream), a timer,
// or the release of its machine. Every effect is idempotent, so doing them again after a crash or a
// redelivery is safe.
import { type Actor, type ApprovalPolicy } from '@mes/contracts';
import { buildCommand, sendCommand, type CommandMetadata, type Logger } from '@mes/platform';
import type { NatsConnection } from '@nats-io/transport-node';
import type { WorkflowState } from '../domain/maintenanceWorkflow.js';
import type { WorkflowEffect } from '../domain/workflowEffects.js';
import type { OpenWorkflowClaims } from './openWorkflowClaims.js';
import { scheduleTimer } from './workflowTimers.js';

export const WORKFLOW_ACTOR: Actor = { kind: 'service', id: 'workflow' };

export interface CommandEffectsDeps {
  nc: NatsConnection;
  claims: OpenWorkflowClaims;
  /** The approval policy the workflow runs under (its configuration version's). */
  policyOf(state: WorkflowState): ApprovalPolicy;
  now: () => Date;
  logger: Logger;
}

export type EffectRunner = (state: WorkflowState, effects: readonly WorkflowEffect[]) => Promise<void>;

export function commandEffects(deps: CommandEffectsDeps): EffectRunner {
  const { nc, now } = deps;
  /** The metadata of a command this workflow sends: deterministic id, correlated by the workflow id. */
  const from = (state: WorkflowState, commandId: string): CommandMetadata => ({
    commandId,
    correlationId: state.workflowId,
    plantId: state.plantId,
    issuedAt: now().toISOString(),
    actor: WORKFLOW_ACTOR,
  });

  return async (state, effects) => {
    const policy = deps.policyOf(state);
    for (const effect of effects) {
      switch (effect.kind) {
        case 'openOrder':
          await sendCommand(nc, buildCommand('OpenMaintenanceOrder', from(state, effect.commandId), {
            orderId: state.orderId,
            machineId: state.machineId,
            workflowId: state.workflowId,
            reason: state.reason,
            trigger: state.trigger,
          }));
          break;
        case 'requestApproval': {
          const approver = policy.approvers[effect.level];
          if (!approver) throw new Error(`workflow ${state.workflowId} of plant ${state.plantId} has no approver at level ${effect.level} (configuration version ${state.configVersion ?? 'unknown'})`);
          await sendCommand(nc, buildCommand('RequestApproval', from(state, effect.commandId), {
            approvalId: effect.approvalId,
            orderId: state.orderId,
            machineId: state.machineId,
            approver,
            level: effect.level,
            // The decide-by time: when this level escalates or expires.
            expiresAt: effect.decideBy ?? new Date(now().getTime() + policy.approvalTimeoutMs).toISOString(),
            ...(effect.supersedesApprovalId ? { supersedesApprovalId: effect.supersedesApprovalId } : {}),
          }));
          break;
        }
        case 'scheduleTimeout':
          await scheduleTimer(nc, { timeoutId: effect.timeoutId, workflowId: state.workflowId, plantId: state.plantId, dueAt: effect.dueAt });
          break;
        case 'recordDecision':
          await sendCommand(nc, buildCommand('RecordOrderDecision', from(state, effect.commandId), {
            orderId: state.orderId,
            approvalId: effect.approvalId,
            decision: effect.decision.decision,
            approver: effect.decision.approver,
            decidedAt: effect.decision.decidedAt,
            ...(effect.decision.comment === undefined ? {} : { comment: effect.decision.comment }),
          }));
          break;
        case 'expireApproval':
          await sendCommand(nc, buildCommand('ExpireApproval', from(state, effect.commandId), { approvalId: effect.approvalId, orderId: state.orderId }));
          break;
        case 'expireOrder':
          await sendCommand(nc, buildCommand('ExpireMaintenanceOrder', from(state, effect.commandId), { orderId: state.orderId }));
          break;
        case 'allocateResources':
          await sendCommand(nc, buildCommand('AllocateResources', from(state, effect.commandId), { orderId: state.orderId, machineId: state.machineId }));
          break;
        case 'withdrawApprovals':
          await sendCommand(nc, buildCommand('WithdrawApprovals', from(state, effect.commandId), { orderId: state.orderId, reason: effect.reason }));
          break;
        case 'releaseResources':
          await sendCommand(nc, buildCommand('ReleaseResources', from(state, effect.commandId), { orderId: state.orderId }));
          break;
        case 'releaseMachine':
          if (await deps.claims.release(state.plantId, state.machineId, state.workflowId)) {
            deps.logger.info({ workflowId: state.workflowId, machineId: state.machineId, outcome: state.outcome }, 'workflow completed; machine free for the next incident');
          }
          break;
        default: {
          const _exhaustive: never = effect;
          throw new Error(`unknown effect ${JSON.stringify(_exhaustive)}`);
        }
      }
    }
  };
}
