// With EventStoreDB as the store, the services still learn of each other's events from JetStream:
// this relay follows the store with a checkpointed subscription and republishes every event to the
// events stream's subject for its aggregate stream, `Nats-Msg-Id` = event id. A crash between the
// publish and the checkpoint republishes at most the events since the checkpoint, and JetStream
// drops those as duplicates within its window.
//
// Every copy of a service runs a relay under the same name, sharing one checkpoint. The checkpoint
// only moves forward (compare-and-set on its revision), and a relay skips what the shared
// checkpoint says is already relayed: a copy that stalled for longer than the duplicate window
// does not republish old events as new messages when it wakes up. A failed publish restarts the
// relay from the checkpoint with a growing delay, and /health reports the relay down meanwhile.
import { EVENTS_STREAM, EVENTS_SUBJECT_PREFIX } from '@mes/contracts';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { EventStore, GlobalPosition, RecordedEvent, Subscription } from './eventStore.js';

export const RELAY_CHECKPOINTS_BUCKET = 'mes_relay_checkpoints';

export interface EventRelayOptions {
  source: EventStore;
  nc: NatsConnection;
  logger: Logger;
  /** Checkpoint key, shared by the copies that relay the same events. */
  name?: string;
  /** Target subject prefix (tests use their own stream). */
  subjectPrefix?: string;
  /** Only this plant's streams. */
  plantId?: string;
  /** Longest wait between restarts after failures. Default 30 s. */
  maxRestartDelayMs?: number;
}

export interface EventRelay {
  /** Rejects (for /health) while the relay is waiting to restart after a failure. */
  check(): Promise<void>;
  stop(): Promise<void>;
}

/** Delay before the n-th restart in a row: 100 ms doubling, up to `max`. */
function restartDelayMs(failures: number, max: number): number {
  return Math.min(max, 100 * 2 ** Math.min(failures - 1, 20));
}

export async function startEventRelay(options: EventRelayOptions): Promise<EventRelay> {
  const { logger } = options;
  const prefix = options.subjectPrefix ?? EVENTS_SUBJECT_PREFIX;
  const key = options.name ?? 'events';
  const maxDelay = options.maxRestartDelayMs ?? 30_000;
  const checkpoints: KV = await new Kvm(options.nc).create(RELAY_CHECKPOINTS_BUCKET, { history: 1 });
  const js = jetstream(options.nc);

  /** The furthest position any copy recorded; kept current by a watch. */
  let shared: GlobalPosition | undefined;
  const learn = (value: string) => {
    const position = BigInt(value);
    if (shared === undefined || position > shared) shared = position;
  };
  const initial = await checkpoints.get(key);
  if (initial && initial.operation === 'PUT') learn(initial.string());
  const watch = await checkpoints.watch({ key });
  void (async () => {
    for await (const entry of watch) if (entry.operation === 'PUT') learn(entry.string());
  })();

  /** Records `position` unless the checkpoint is already there or beyond; never moves it back. */
  const advance = async (position: GlobalPosition): Promise<void> => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const entry = await checkpoints.get(key);
      if (entry && entry.operation === 'PUT' && BigInt(entry.string()) >= position) {
        learn(entry.string());
        return;
      }
      try {
        if (entry && entry.operation === 'PUT') await checkpoints.update(key, position.toString(), entry.revision);
        else await checkpoints.create(key, position.toString());
        learn(position.toString());
        return;
      } catch {
        // Another copy moved it meanwhile: look again.
      }
    }
    throw new Error(`relay ${key}: the checkpoint kept changing under 10 attempts to record ${position}`);
  };

  let stopped = false;
  let failure: { at: string; reason: string } | undefined;
  let subscription: Subscription | undefined;
  let wake: (() => void) | undefined;

  const run = async () => {
    let failures = 0;
    while (!stopped) {
      const after = shared;
      logger.info({ relay: key, after: after?.toString() ?? 'start', stream: EVENTS_STREAM }, 'event relay following the event store');
      subscription = options.source.subscribeToAll({
        ...(after === undefined ? {} : { after }),
        ...(options.plantId === undefined ? {} : { plantId: options.plantId }),
        onEvent: async (event: RecordedEvent) => {
          // Relayed already by another copy (or by this one before a restart).
          if (shared !== undefined && event.position <= shared) return;
          const { position: _position, ...envelope } = event;
          await js.publish(`${prefix}.${event.stream}`, JSON.stringify([envelope]), { msgID: event.eventId });
          await advance(event.position);
          if (failure !== undefined) {
            logger.info({ relay: key }, 'event relay works again');
            failure = undefined;
          }
          failures = 0;
        },
      });
      try {
        await subscription.done;
      } catch (err) {
        if (stopped) break;
        failures++;
        const delay = restartDelayMs(failures, maxDelay);
        failure = { at: new Date().toISOString(), reason: (err as Error).message };
        logger.error({ err, relay: key, failures, restartInMs: delay }, 'event relay failed; restarting from the checkpoint');
        await new Promise<void>((resolve) => {
          wake = resolve;
          void sleep(delay).then(resolve);
        });
      }
    }
  };
  const done = run();

  return {
    async check() {
      if (failure !== undefined) throw new Error(`relay ${key} failed at ${failure.at} (${failure.reason}); restarting`);
    },
    async stop() {
      stopped = true;
      wake?.();
      await subscription?.stop();
      await done;
      watch.stop();
    },
  };
}
