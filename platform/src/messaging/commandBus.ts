// Commands between services travel on JetStream, deduplicated by their `commandId` (`Nats-Msg-Id`),
// so a retried or repeated send never runs a command twice within the stream's duplicate window.
import {
  COMMAND_TARGETS,
  COMMANDS_STREAM,
  CommandSchema,
  commandSubject,
  serviceCommandsFilter,
  type Actor,
  type Command,
  type CommandOfType,
  type CommandType,
  type ServiceName,
} from '@mes/contracts';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { DomainError } from '../domain/decider.js';
import { JetStreamAckPublisher, type PubAck } from '../nats/jetStreamAckPublisher.js';
import { inSpan, withActiveTraceContext } from '../runtime/traceContext.js';
import { startDurableWorker, type DurableWorker } from './durableWorker.js';
import { consumerSpanAttributes } from './consumerSpans.js';

/** What every command carries besides its own fields. */
export interface CommandMetadata {
  /** Deterministic where a repeat must be recognised, e.g. `${workflowId}/open-order`. */
  commandId: string;
  correlationId: string;
  causationId?: string | null;
  plantId: string;
  issuedAt: string;
  actor: Actor;
}

/** A command of `type` with its metadata and its own fields, type-checked against the contract. */
export function buildCommand<Type extends CommandType>(
  type: Type,
  metadata: CommandMetadata,
  fields: Omit<CommandOfType<Type>, keyof CommandMetadata | 'type' | 'version'>,
): CommandOfType<Type> {
  const { causationId, ...rest } = metadata;
  return { type, version: 1, ...rest, ...(causationId == null ? {} : { causationId }), ...fields } as CommandOfType<Type>;
}

/** One windowed publisher per connection for commands: no request (and no round trip awaited in turn) per send. */
const commandPublishers = new WeakMap<NatsConnection, JetStreamAckPublisher>();
const encoder = new TextEncoder();

function commandPublisher(nc: NatsConnection): JetStreamAckPublisher {
  let publisher = commandPublishers.get(nc);
  if (publisher === undefined) {
    publisher = new JetStreamAckPublisher(nc, undefined);
    commandPublishers.set(nc, publisher);
    // Its pending sends are abandoned with the connection.
    void nc.closed().then(() => publisher?.stop());
  }
  return publisher;
}

/** Sends a command to the service that handles it. Resolves once JetStream stored it (or had it already). */
export async function sendCommand(nc: NatsConnection, command: Command): Promise<PubAck> {
  // Its handling continues the trace of the span sending it (none while tracing is off).
  const checked = CommandSchema.parse(withActiveTraceContext(command));
  const subject = commandSubject(checked.plantId, COMMAND_TARGETS[checked.type], checked.type);
  return commandPublisher(nc).publish(subject, encoder.encode(JSON.stringify(checked)), { msgId: checked.commandId });
}

export interface CommandHandlerOptions {
  nc: NatsConnection;
  service: ServiceName;
  /** One durable consumer per plant, so PLANTS can narrow an instance (no multi-filter consumers on nats-server 2.9). */
  plants: readonly string[];
  logger: Logger;
  /** Handles one command; a DomainError is a refusal (logged, not retried); any other error is retried. */
  handle(command: Command): Promise<void>;
  /**
   * Commands of one key are handled in the order they were sent, one at a time; other keys
   * concurrently. Default: the aggregate the command is about (its order, else its resource).
   */
  keyOf?(command: { orderId?: unknown; resourceId?: unknown; commandId?: unknown }): string;
  /** Most commands handled at once over all keys (default 64). */
  concurrency?: number;
}

/** The aggregate a command is about, read from its JSON without validating the rest. */
function aggregateOf(command: { orderId?: unknown; resourceId?: unknown; commandId?: unknown }): string {
  if (typeof command.orderId === 'string') return `order:${command.orderId}`;
  if (typeof command.resourceId === 'string') return `resource:${command.resourceId}`;
  return `command:${String(command.commandId)}`;
}

export async function startCommandHandlers(options: CommandHandlerOptions): Promise<{ stop(): Promise<void> }> {
  const workers: DurableWorker[] = [];
  for (const plantId of options.plants) {
    workers.push(
      await startDurableWorker({
        nc: options.nc,
        stream: COMMANDS_STREAM,
        logger: options.logger,
        consumer: {
          durable_name: `${options.service}-${plantId}`,
          filter_subject: serviceCommandsFilter(plantId, options.service),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          max_ack_pending: 256,
        },
        concurrency: options.concurrency ?? 64,
        keyOf: (msg) => {
          let raw: unknown;
          try {
            raw = msg.json();
          } catch {
            return `unreadable:${msg.seq}`;
          }
          const fields = typeof raw === 'object' && raw !== null ? (raw as { orderId?: unknown; resourceId?: unknown; commandId?: unknown }) : {};
          return (options.keyOf ?? aggregateOf)(fields);
        },
        handle: async (msg) => {
          let raw: unknown;
          try {
            raw = msg.json();
          } catch {
            return { kind: 'term', reason: 'command is not JSON' };
          }
          const parsed = CommandSchema.safeParse(raw);
          if (!parsed.success) return { kind: 'term', reason: `invalid command: ${parsed.error.message}` };
          const command = parsed.data;
          return inSpan(
            `${options.service} handle ${command.type}`,
            { kind: 'consumer', root: true, parent: command, attributes: () => consumerSpanAttributes(msg, command.commandId, command.correlationId) },
            async (span) => {
              try {
                await options.handle(command);
                return { kind: 'ack' };
              } catch (err) {
                if (err instanceof DomainError) {
                  options.logger.warn({ command: command.type, commandId: command.commandId, code: err.code, reason: err.message }, 'command refused');
                  span.setAttribute('mes.refusal', err.code);
                  return { kind: 'ack' };
                }
                throw err;
              }
            },
          );
        },
      }),
    );
  }
  return {
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
}
