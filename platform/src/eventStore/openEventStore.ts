// The one place that decides which event store a process uses: EventStoreDB when EVENTSTORE_URL
// is set, else the JetStream stream the topology provisions. With EventStoreDB, a service process
// also relays the log to JetStream, where the services follow it.
import { EVENTS_STREAM, EVENTS_SUBJECT_PREFIX } from '@mes/contracts';
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { withoutCredentials, type Config } from '../config/env.js';
import type { HealthRegistry } from '../http/health.js';
import type { EventStore } from './eventStore.js';
import { startEventRelay, type EventRelay } from './eventRelay.js';
import { createEventStoreDbClient, EventStoreDbEventStore } from './eventStoreDbEventStore.js';
import { JetStreamEventStore } from './jetStreamEventStore.js';

export interface EventStoreHandle {
  store: EventStore;
  /** Where the log is, for messages: `JetStream stream MES_EVENTS` or the EventStoreDB URL without credentials. */
  description: string;
  close(): Promise<void>;
}

export interface OpenEventStoreOptions {
  config: Pick<Config, 'eventStoreUrl' | 'natsUrl' | 'plants'>;
  nc: NatsConnection;
  logger: Logger;
  /** Relay EventStoreDB to JetStream (a service process), reporting the relay in /health; the CLI does not. */
  relay?: { health: HealthRegistry };
}

/** No event log where one was expected (the CLI pointed at a NATS server MES never ran against). */
export class EventLogNotFoundError extends Error {
  readonly code = 'EVENT_LOG_NOT_FOUND';
  constructor(natsUrl: string) {
    super(`no event log at ${withoutCredentials(natsUrl)} (NATS_URL): JetStream has no stream ${EVENTS_STREAM}; has MES run against this server?`);
    this.name = 'EventLogNotFoundError';
  }
}

export async function openEventStore(options: OpenEventStoreOptions): Promise<EventStoreHandle> {
  const { config, nc, logger } = options;
  if (config.eventStoreUrl === undefined) {
    try {
      await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM);
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) throw new EventLogNotFoundError(config.natsUrl);
      throw err;
    }
    const store = new JetStreamEventStore({ nc, stream: EVENTS_STREAM, subjectPrefix: EVENTS_SUBJECT_PREFIX, logger });
    return { store, description: `JetStream stream ${EVENTS_STREAM}`, close: () => store.close() };
  }
  const client = createEventStoreDbClient(config.eventStoreUrl);
  const store = new EventStoreDbEventStore({ client, logger });
  let relays: EventRelay[] = [];
  if (options.relay !== undefined) {
    relays = await Promise.all(
      (config.plants ?? [undefined]).map((plantId) =>
        startEventRelay({ source: store, nc, logger, name: plantId === undefined ? 'events' : `events-${plantId}`, ...(plantId === undefined ? {} : { plantId }) }),
      ),
    );
    options.relay.health.register('eventRelay', async () => {
      await Promise.all(relays.map((relay) => relay.check()));
    });
  }
  return {
    store,
    description: `EventStoreDB at ${withoutCredentials(config.eventStoreUrl)}`,
    async close() {
      await Promise.all(relays.map((relay) => relay.stop()));
      await store.close();
      await client.dispose();
    },
  };
}
