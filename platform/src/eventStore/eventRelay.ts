// With EventStoreDB as the store, the services still learn of each other's events from JetStream:
// this relay follows the store with a checkpointed subscription and republishes every event to the
// events stream's subject for its aggregate stream, `Nats-Msg-Id` = event id. A crash between the
// publish and the checkpoint republishes at most the events since the checkpoint, and JetStream
// drops those as duplicates within its window (consumers are idempotent beyond it).
import { EVENTS_STREAM, EVENTS_SUBJECT_PREFIX } from '@mes/contracts';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { EventStore, GlobalPosition, RecordedEvent, Subscription } from './eventStore.js';

export const RELAY_CHECKPOINTS_BUCKET = 'mes_relay_checkpoints';

export interface EventRelayOptions {
  source: EventStore;
  nc: NatsConnection;
  logger: Logger;
  /** Checkpoint key; one relay per name. */
  name?: string;
  /** Target subject prefix (tests use their own stream). */
  subjectPrefix?: string;
  /** Only this plant's streams. */
  plantId?: string;
}

export interface EventRelay {
  stop(): Promise<void>;
  readonly done: Promise<void>;
}

export async function startEventRelay(options: EventRelayOptions): Promise<EventRelay> {
  const prefix = options.subjectPrefix ?? EVENTS_SUBJECT_PREFIX;
  const key = options.name ?? 'events';
  const checkpoints: KV = await new Kvm(options.nc).create(RELAY_CHECKPOINTS_BUCKET, { history: 1 });
  const stored = await checkpoints.get(key);
  const after: GlobalPosition | undefined = stored && stored.operation === 'PUT' ? BigInt(stored.string()) : undefined;
  const js = jetstream(options.nc);
  options.logger.info({ relay: key, after: after?.toString() ?? 'start', stream: EVENTS_STREAM }, 'event relay following the event store');

  const subscription: Subscription = options.source.subscribeToAll({
    ...(after === undefined ? {} : { after }),
    ...(options.plantId === undefined ? {} : { plantId: options.plantId }),
    onEvent: async (event: RecordedEvent) => {
      const { position: _position, ...envelope } = event;
      await js.publish(`${prefix}.${event.stream}`, JSON.stringify([envelope]), { msgID: event.eventId });
      await checkpoints.put(key, event.position.toString());
    },
  });
  return { stop: () => subscription.stop(), done: subscription.done };
}
