// Maps the commands other services send to the MaintenanceOrder decider's commands.
import type { Command } from '@mes/contracts';
import type { OrderCommand } from '../domain/maintenanceOrder.js';

export type MaintenanceCommand = Extract<
  Command,
  {
    type:
      | 'OpenMaintenanceOrder'
      | 'RecordOrderDecision'
      | 'ExpireMaintenanceOrder'
      | 'CompleteMaintenanceOrder'
      | 'CancelMaintenanceOrder'
      | 'RecordOrderResourcesAllocated'
      | 'MarkOrderAwaitingResources';
  }
>;

export function isMaintenanceCommand(command: Command): command is MaintenanceCommand {
  return [
    'OpenMaintenanceOrder',
    'RecordOrderDecision',
    'ExpireMaintenanceOrder',
    'CompleteMaintenanceOrder',
    'CancelMaintenanceOrder',
    'RecordOrderResourcesAllocated',
    'MarkOrderAwaitingResources',
  ].includes(command.type);
}

export function toOrderCommand(command: MaintenanceCommand): OrderCommand {
  switch (command.type) {
    case 'RecordOrderDecision': {
      const decision = {
        orderId: command.orderId,
        issuedAt: command.issuedAt,
        actor: command.actor,
        approvalId: command.approvalId,
        decidedBy: command.approver.email,
        decidedByName: command.approver.name,
        decidedAt: command.decidedAt,
        ...(command.comment === undefined ? {} : { comment: command.comment }),
      };
      return command.decision === 'approved' ? { ...decision, type: 'ApproveMaintenanceOrder' } : { ...decision, type: 'RejectMaintenanceOrder' };
    }
    case 'OpenMaintenanceOrder':
    case 'ExpireMaintenanceOrder':
    case 'CompleteMaintenanceOrder':
    case 'CancelMaintenanceOrder':
    case 'RecordOrderResourcesAllocated':
    case 'MarkOrderAwaitingResources':
      return command;
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}
