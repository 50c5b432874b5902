// The default event store: one JetStream stream, one subject per aggregate stream
// (`{prefix}.{plantId}.{category}.{id}`). One append is one message holding the appended events,
// so an append is atomic; its stream sequence is the aggregate's revision, checked on the next
// append through `Nats-Expected-Last-Subject-Sequence`. `Nats-Msg-Id` makes a repeated append a no-op.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseStreamName, type EventEnvelope } from '@mes/contracts';
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JetStreamPublishOptions,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import {
  EventStoreUnavailableError,
  WrongExpectedRevisionError,
  assertAppendable,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type GlobalPosition,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamResult,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from './eventStore.js';
import { createOrderedConsumer, deleteConsumerQuietly, readRange } from './jetStreamLog.js';

/** Bits of a position that hold the index of an event within its append (MAX_EVENTS_PER_APPEND < 2^16). */
const INDEX_BITS = 16n;
const INDEX_MASK = (1n << INDEX_BITS) - 1n;

export function jetStreamPosition(sequence: number, index: number): GlobalPosition {
  return (BigInt(sequence) << INDEX_BITS) | BigInt(index);
}

export function splitJetStreamPosition(position: GlobalPosition): { sequence: number; index: number } {
  return { sequence: Number(position >> INDEX_BITS), index: Number(position & INDEX_MASK) };
}

export interface JetStreamEventStoreOptions {
  nc: NatsConnection;
  /** JetStream stream that holds the events; it must exist (see provisioning). */
  stream: string;
  /** Subject prefix of that stream, e.g. `es` for subjects `es.>`. */
  subjectPrefix: string;
  logger?: Logger;
}

class HandlerFailed extends Error {
  constructor(readonly original: unknown) {
    super('subscription handler failed');
  }
}

export class JetStreamEventStore implements EventStore {
  private readonly js: JetStreamClient;
  private jsmPromise: Promise<JetStreamManager> | undefined;
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly options: JetStreamEventStoreOptions) {
    this.js = jetstream(options.nc);
  }

  private jsm(): Promise<JetStreamManager> {
    this.jsmPromise ??= jetstreamManager(this.options.nc).catch((err: unknown) => {
      this.jsmPromise = undefined;
      throw err;
    });
    return this.jsmPromise;
  }

  private subjectOf(stream: string): string {
    parseStreamName(stream);
    return `${this.options.subjectPrefix}.${stream}`;
  }

  async appendToStream(stream: string, events: NewEvent[], { expectedRevision }: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    assertAppendable(stream, events);
    const subject = this.subjectOf(stream);
    const envelopes: EventEnvelope[] = events.map((event) => ({ ...event, stream }));
    const publishOptions: Partial<JetStreamPublishOptions> = { msgID: appendId(events) };
    if (expectedRevision === 'no_stream') publishOptions.expect = { lastSubjectSequence: 0 };
    else if (expectedRevision !== 'any') publishOptions.expect = { lastSubjectSequence: Number(expectedRevision) };
    try {
      const ack = await this.js.publish(subject, JSON.stringify(envelopes), publishOptions);
      return {
        nextRevision: BigInt(ack.seq),
        position: jetStreamPosition(ack.seq, events.length - 1),
        duplicate: ack.duplicate,
      };
    } catch (err) {
      if (err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)) {
        throw new WrongExpectedRevisionError(stream, expectedRevision, actualRevisionFrom(err.message));
      }
      throw new EventStoreUnavailableError(`append to ${stream} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async readStream(stream: string): Promise<ReadStreamResult> {
    const subject = this.subjectOf(stream);
    const jsm = await this.jsm();
    const events: RecordedEvent[] = [];
    let revision: bigint | 'no_stream' = 'no_stream';
    for await (const msg of readRange(this.js, jsm, this.options.stream, subject, 1)) {
      if (msg.subject !== subject) throw new Error(`read of ${stream} returned a message of ${msg.subject}: the consumer filter was not applied`);
      events.push(...decodeAppend(msg));
      revision = BigInt(msg.seq);
    }
    return { revision, events };
  }

  async *readAll(options: ReadAllOptions = {}): AsyncGenerator<RecordedEvent> {
    const jsm = await this.jsm();
    const start = options.after === undefined ? 1 : splitJetStreamPosition(options.after).sequence;
    for await (const msg of readRange(this.js, jsm, this.options.stream, this.filterFor(options), start)) {
      for (const event of decodeAppend(msg)) {
        if (options.after === undefined || event.position > options.after) yield event;
      }
    }
  }

  subscribeToAll(options: SubscribeOptions): Subscription {
    let stopped = false;
    let current: ConsumerMessages | undefined;
    let last = options.after;
    const filter = this.filterFor(options);
    const logger = this.options.logger;

    const run = async (): Promise<void> => {
      let failures = 0;
      while (!stopped) {
        const jsm = await this.jsm().catch(() => undefined);
        let consumerName: string | undefined;
        try {
          if (!jsm) throw new Error('JetStream is not reachable');
          const start = last === undefined ? 1 : splitJetStreamPosition(last).sequence;
          const created = await createOrderedConsumer(jsm, this.options.stream, filter, start);
          consumerName = created.name;
          const consumer = await this.js.consumers.get(this.options.stream, created.name);
          while (!stopped) {
            current = await consumer.fetch({ max_messages: 256, expires: 2_000, idle_heartbeat: 1_000 });
            if (stopped) break;
            for await (const msg of current) {
              failures = 0;
              for (const event of decodeAppend(msg)) {
                if (stopped) break;
                if (last !== undefined && event.position <= last) continue;
                try {
                  await options.onEvent(event);
                } catch (err) {
                  throw new HandlerFailed(err);
                }
                last = event.position;
              }
              if (stopped) break;
            }
          }
        } catch (err) {
          if (err instanceof HandlerFailed) throw err.original;
          if (stopped) break;
          failures++;
          logger?.warn({ err, filter, failures }, 'event subscription interrupted; resuming after the last delivered event');
          await sleep(Math.min(2_000, 100 * 2 ** Math.min(failures, 5)));
        } finally {
          current?.stop();
          if (jsm && consumerName) deleteConsumerQuietly(jsm, this.options.stream, consumerName);
        }
      }
    };

    const done = run();
    const subscription: Subscription = {
      done,
      stop: async () => {
        stopped = true;
        current?.stop();
        await done.catch(() => undefined);
        this.subscriptions.delete(subscription);
      },
    };
    this.subscriptions.add(subscription);
    done.catch(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  async ping(): Promise<void> {
    await (await this.jsm()).streams.info(this.options.stream);
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
  }

  private filterFor(options: ReadAllOptions): string {
    return options.plantId === undefined ? `${this.options.subjectPrefix}.>` : `${this.options.subjectPrefix}.${options.plantId}.>`;
  }
}

/** `Nats-Msg-Id` of an append: the event id, or a digest of all ids when several are appended together. */
function appendId(events: NewEvent[]): string {
  const [first] = events;
  if (events.length === 1 && first) return first.eventId;
  return `append-${createHash('sha256').update(events.map((e) => e.eventId).join('\n')).digest('hex')}`;
}

export function decodeAppend(msg: JsMsg): RecordedEvent[] {
  let parsed: unknown;
  try {
    parsed = msg.json();
  } catch (err) {
    throw new Error(`event store message ${msg.seq} on ${msg.subject} is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new Error(`event store message ${msg.seq} on ${msg.subject} is not a list of events`);
  return (parsed as EventEnvelope[]).map((event, index) => ({ ...event, position: jetStreamPosition(msg.seq, index) }));
}

function actualRevisionFrom(message: string): bigint | undefined {
  const match = /wrong last sequence: (\d+)/.exec(message);
  if (!match?.[1]) return undefined;
  return match[1] === '0' ? undefined : BigInt(match[1]);
}
