// Appending MachineStatusChanged to the machine's event-store stream, and finding out whether a
// given event is already its last one (to finish an append a crashed copy left undone).
//
// With the JetStream store (EVENTSTORE_URL unset) the append goes through the windowed publisher
// in the store's own wire format (subject `es.{stream}`, a JSON list of envelopes, `Nats-Msg-Id` =
// the event id), and the last event is one read of the subject's last message; the int tests read
// the events back through the EventStore port, so a change of that format fails them.
// TODO(platform): an `appendMany` without a round trip per append, and `readLastEvent(stream)`, on
// the EventStore port would let ingest use the port alone.
import { EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, type EventEnvelope } from '@mes/contracts';
import type { EventStore } from '@mes/platform';
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { StatusChangedEvent } from '../domain/readingEvents.js';
import type { JetStreamAckPublisher } from './jetStreamAckPublisher.js';

export class MachineEventLog {
  private jsm: Promise<JetStreamManager> | undefined;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly eventStore: EventStore,
    private readonly nc: NatsConnection,
    /** Set when the event store is the JetStream one (EVENTSTORE_URL unset). */
    private readonly jetStreamPublisher: JetStreamAckPublisher | undefined,
  ) {}

  /** Idempotent: the event id is the append's `Nats-Msg-Id` (JetStream) or event id (EventStoreDB). */
  async append(stream: string, event: StatusChangedEvent): Promise<void> {
    if (this.jetStreamPublisher === undefined) {
      await this.eventStore.appendToStream(stream, [event], { expectedRevision: 'any' });
      return;
    }
    const envelopes: EventEnvelope[] = [{ ...event, stream }];
    await this.jetStreamPublisher.publish(`${EVENTS_SUBJECT_PREFIX}.${stream}`, this.encoder.encode(JSON.stringify(envelopes)), { msgId: event.eventId });
  }

  async lastEventId(stream: string): Promise<string | undefined> {
    if (this.jetStreamPublisher === undefined) {
      const { events } = await this.eventStore.readStream(stream);
      return events.at(-1)?.eventId;
    }
    this.jsm ??= jetstreamManager(this.nc).catch((err: unknown) => {
      this.jsm = undefined;
      throw err;
    });
    const jsm = await this.jsm;
    try {
      const message = await jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: `${EVENTS_SUBJECT_PREFIX}.${stream}` });
      if (message === null) return undefined;
      return message.json<EventEnvelope[]>().at(-1)?.eventId;
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return undefined;
      throw err;
    }
  }
}
