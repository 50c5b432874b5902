// Commands the workflow (or another service) sends to approvals over the command bus. Each is
// handled against the order's approval stream, keeping the workflow's correlation id, so the saga
// can route the resulting events back to its instance.
import { streamName, type Command, type SignatureMethod } from '@mes/contracts';
import { handleCommand, type AggregateCache, type EventStore, type Logger } from '@mes/platform';
import { derivedEventId } from '@mes/platform/decider';
import { approvalRequestDecider, type ApprovalState } from '../domain/approvalRequest.js';

/** One stream per order's approval process, holding one request per escalation level. */
export function approvalStream(plantId: string, orderId: string): string {
  return streamName(plantId, 'approval', orderId);
}

export interface ApprovalCommandDeps {
  store: EventStore;
  /** The approval processes this process decided last (shared with the links and the outbox). */
  approvals?: AggregateCache<ApprovalState>;
  now: () => Date;
  logger: Logger;
  /** How a plant's approvers sign (CONTRACT §3 `signature`); a request records it when it is made. Default: `link`. */
  signatureMethodOf?: (plantId: string) => SignatureMethod;
}

/** Throws DomainError for a refusal (the command bus acks and logs it); any other error is retried. */
export async function handleApprovalCommand(deps: ApprovalCommandDeps, command: Command): Promise<void> {
  switch (command.type) {
    case 'RequestApproval':
    case 'ExpireApproval':
    case 'RecordApprovalDecision':
    case 'WithdrawApprovals': {
      const result = await handleCommand(
        // Ids from the command id: a command redelivered after its append but before its ack appends nothing new.
        { store: deps.store, now: deps.now, eventId: (index) => derivedEventId(`command/${command.commandId}`, index) },
        approvalRequestDecider,
        approvalStream(command.plantId, command.orderId),
        command.type === 'RequestApproval' ? { ...command, signatureMethod: deps.signatureMethodOf?.(command.plantId) ?? 'link' } : command,
        { correlationId: command.correlationId, causationId: command.commandId, actor: command.actor },
        // The first request of an order starts its approval stream (a repeat is refused by the stream and read after all).
        { ...(deps.approvals === undefined ? {} : { cache: deps.approvals }), startsStream: command.type === 'RequestApproval' && command.level === 0 },
      );
      deps.logger.info(
        { command: command.type, commandId: command.commandId, orderId: command.orderId, recorded: result.events.map((e) => e.type) },
        result.events.length === 0 ? 'approval command changed nothing (already handled)' : 'approval command handled',
      );
      return;
    }
    default:
      deps.logger.warn({ command: command.type, commandId: command.commandId }, 'not a command for the approvals service; ignored');
  }
}
