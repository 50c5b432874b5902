// Follows the event log with a durable consumer per plant: services react to each other's events
// this way. Delivery is at least once; events of one key (by default their aggregate stream) are
// handled in log order, one at a time, and different keys concurrently, so handlers must be
// idempotent. Each event reaches the handler parsed and upcast to its contract
// type; one this build cannot read is retried (a newer copy may be rolling out) and logged. With
// EventStoreDB as the store, a relay republishes events to the same subjects, so consumers do not change.
import { EVENTS_STREAM, plantEventsFilter, type StreamCategory } from '@mes/contracts';
import { AckPolicy, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { parseRecordedEvent, type RecordedDomainEvent, type RecordedEvent } from '../eventStore/eventStore.js';
import { decodeAppend } from '../eventStore/jetStreamEventStore.js';
import { inSpan } from '../runtime/traceContext.js';
import { consumerSpanAttributes } from './consumerSpans.js';
import { startDurableWorker, type DurableWorker } from './durableWorker.js';

export interface EventConsumerOptions {
  nc: NatsConnection;
  /** Durable name prefix, e.g. `workflow`; the consumer of plant P1 is `workflow-events-P1`. */
  name: string;
  plants: readonly string[];
  logger: Logger;
  /**
   * Only the events of streams of this category (`{plant}.{category}.{id}`), filtered by the
   * consumer on the server: a service that reacts to one category is not sent the rest of the log.
   */
  category?: StreamCategory;
  /** Events stream name (tests use their own). */
  stream?: string;
  subjectPrefix?: string;
  /** `delivery.redelivered`: JetStream delivered this event before (a handler failed, or a copy died holding it). */
  handle(event: RecordedDomainEvent, delivery: EventDelivery): Promise<void>;
  /**
   * Only the events this says yes to, asked of the envelope before the event is parsed: the rest are
   * passed over (acked) without the cost of parsing them. Default: every event.
   */
  wants?(event: RecordedEvent): boolean;
  /** Events of one key are handled in log order, one at a time; asked of the envelope. Default: the event's stream. */
  keyOf?(event: RecordedEvent): string;
  /** Most events handled at once over all keys (default 64). */
  concurrency?: number;
}

export interface EventDelivery {
  redelivered: boolean;
}

// A message is decoded and its events parsed once, though both its key and its handling need them.
const decodedMessages = new WeakMap<JsMsg, RecordedEvent[]>();
const parsedEvents = new WeakMap<RecordedEvent, RecordedDomainEvent>();

/** The message's events; throws when it cannot be decoded (and decodes it again if asked again). */
function decodeOnce(msg: JsMsg): RecordedEvent[] {
  let events = decodedMessages.get(msg);
  if (events === undefined) {
    events = decodeAppend(msg);
    decodedMessages.set(msg, events);
  }
  return events;
}

/** The event parsed and upcast; throws when this build cannot read it (and tries again if asked again). */
function parseOnce(event: RecordedEvent): RecordedDomainEvent {
  let parsed = parsedEvents.get(event);
  if (parsed === undefined) {
    parsed = parseRecordedEvent(event);
    parsedEvents.set(event, parsed);
  }
  return parsed;
}

/** The events of a message, or none when it cannot be decoded (its handling then says why). */
function decoded(msg: JsMsg): RecordedEvent[] {
  try {
    return decodeOnce(msg);
  } catch {
    return [];
  }
}

export async function startEventConsumer(options: EventConsumerOptions): Promise<{ stop(): Promise<void> }> {
  const stream = options.stream ?? EVENTS_STREAM;
  const workers: DurableWorker[] = [];
  for (const plantId of options.plants) {
    const filter = options.subjectPrefix === undefined ? plantEventsFilter(plantId, options.category) : `${options.subjectPrefix}.${plantId}.${options.category === undefined ? '' : `${options.category}.`}>`;
    workers.push(
      await startDurableWorker({
        nc: options.nc,
        stream,
        logger: options.logger,
        consumer: {
          durable_name: `${options.name}-events-${plantId}`,
          filter_subject: filter,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
        },
        concurrency: options.concurrency ?? 64,
        keyOf: (msg) => {
          const [first] = decoded(msg);
          // An unreadable message gets a key of its own; handling it terms it.
          if (first === undefined) return `unreadable:${msg.seq}`;
          return options.keyOf === undefined ? first.stream : options.keyOf(first);
        },
        handle: async (msg) => {
          let events: RecordedEvent[];
          try {
            events = decodeOnce(msg);
          } catch (err) {
            return { kind: 'term', reason: (err as Error).message };
          }
          const delivery: EventDelivery = { redelivered: msg.info.redelivered };
          for (const event of events) {
            if (options.wants !== undefined && !options.wants(event)) continue;
            // Each event's handling continues the trace of the span that wrote it.
            await inSpan(
              `${options.name} handle ${event.type}`,
              { kind: 'consumer', root: true, parent: event, attributes: () => ({ ...consumerSpanAttributes(msg, event.eventId, event.correlationId), 'mes.stream': event.stream }) },
              () => options.handle(parseOnce(event), delivery),
            );
          }
          return { kind: 'ack' };
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
