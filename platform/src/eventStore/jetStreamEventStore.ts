// The default event store: one JetStream stream, one subject per aggregate stream
// (`{prefix}.{plantId}.{category}.{id}`). One append is one message holding the appended events,
// so an append is atomic; its stream sequence is the aggregate's revision, checked on the next
// append through `Nats-Expected-Last-Subject-Sequence`. `Nats-Msg-Id` makes a repeated append a no-op.
// Appends go out through a windowed publisher (a core publish whose PubAck comes back on an inbox),
// so many can be in flight at once without a request per append.
// One file over 300 lines on purpose: how events sit in JetStream (subjects, headers, encoding,
// revisions) is decided here and nowhere else.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseStreamName, streamCategoryPrefix, type EventEnvelope, type StreamCategory } from '@mes/contracts';
import {
  JetStreamApiCodes,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StoredMsg,
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
  type LogOptions,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type ReadStreamResult,
  type RecordedEvent,
  type StreamRevision,
  type SubscribeOptions,
  type Subscription,
} from './eventStore.js';
import { JetStreamAckPublisher, JetStreamRefusedError } from '../nats/jetStreamAckPublisher.js';
import { chainEvents, GENESIS_HASH } from './hashChain.js';
import { allWithActiveTraceContext } from '../runtime/traceContext.js';
import { FetchAhead, countAfterSequence, createOrderedConsumer, deleteConsumerQuietly, deliveryCounter, firstSequenceAtOrAfter, lastMessageOf, lastMessageOfSubject, messageAt, nextMessageOf, readRange } from '../nats/jetStreamLog.js';

/** How many times an `'any'` append reads the stream's end again when another writer got in first. */
const MAX_ANY_ATTEMPTS = 10;
/** Streams whose chain end is remembered (the least recently used is forgotten). */
const MAX_REMEMBERED_HEADS = 10_000;

/** Appends read one by one before a read of a stream switches to a consumer. */
const SHORT_STREAM_APPENDS = 8;
/** Each append names the sequence of the one before it in its stream (0 for the first): the header the server checks it by. */
const PREVIOUS_APPEND_HEADER = 'Nats-Expected-Last-Subject-Sequence';

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
  /** How long an append waits for its PubAck before it is sent again (same Nats-Msg-Id). Default 5 s. */
  ackTimeoutMs?: number;
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
  private readonly publisher: JetStreamAckPublisher;
  private readonly encoder = new TextEncoder();
  /** The last revision and hash of streams this store read or wrote lately: where their chains go on. */
  private readonly heads = new Map<string, { revision: StreamRevision; hash: string }>();
  /** The latest 'any' append of each stream in progress here: the next one waits for it. */
  private readonly anyAppends = new Map<string, Promise<AppendResult>>();

  constructor(private readonly options: JetStreamEventStoreOptions) {
    this.js = jetstream(options.nc);
    this.publisher = new JetStreamAckPublisher(options.nc, options.logger, { ackTimeoutMs: options.ackTimeoutMs ?? 5_000 });
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

  /**
   * Chains the events after the stream's last one and appends them at the revision that last one
   * has. `'any'` appends after whatever is last, read just before; a writer that got in between
   * makes it read again (a chain must not fork), a bounded number of times.
   */
  async appendToStream(stream: string, newEvents: NewEvent[], { expectedRevision }: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    assertAppendable(stream, newEvents);
    // Before the chain is computed, so the hash covers the trace context too.
    const events = allWithActiveTraceContext(newEvents);
    if (expectedRevision !== 'any') return this.append(stream, events, expectedRevision);
    // This store's own 'any' appends to one stream go in turn, so they only race other processes.
    const previous = this.anyAppends.get(stream) ?? Promise.resolve();
    const appended = previous.catch(() => undefined).then(() => this.append(stream, events, 'any'));
    this.anyAppends.set(stream, appended);
    try {
      return await appended;
    } finally {
      if (this.anyAppends.get(stream) === appended) this.anyAppends.delete(stream);
    }
  }

  private async append(stream: string, events: readonly NewEvent[], expectedRevision: ExpectedRevision): Promise<AppendResult> {
    const subject = this.subjectOf(stream);
    for (let attempt = 1; ; attempt++) {
      const head = await this.chainHead(stream, subject, expectedRevision);
      const envelopes = chainEvents(head.hash, events.map((event): EventEnvelope => ({ ...event, stream })));
      try {
        const ack = await this.publisher.publish(subject, this.encoder.encode(JSON.stringify(envelopes)), {
          msgId: appendId(events),
          expectLastSubjectSequence: head.revision === 'no_stream' ? 0 : Number(head.revision),
          failOnRefusal: true,
        });
        // A repeat of an earlier append: the stream's head is that append's, or later.
        if (ack.duplicate) this.heads.delete(stream);
        else this.rememberHead(stream, BigInt(ack.seq), envelopes.at(-1)!.hash);
        return { nextRevision: BigInt(ack.seq), position: jetStreamPosition(ack.seq, events.length - 1), duplicate: ack.duplicate };
      } catch (err) {
        if (!(err instanceof JetStreamRefusedError && (err.errCode === JetStreamApiCodes.StreamWrongLastSequence || err.errCode === JetStreamApiCodes.StreamWrongLastSequenceUnknown))) {
          throw new EventStoreUnavailableError(`append to ${stream} failed: ${(err as Error).message}`, { cause: err });
        }
        this.heads.delete(stream);
        if (expectedRevision !== 'any' || attempt >= MAX_ANY_ATTEMPTS) throw new WrongExpectedRevisionError(stream, expectedRevision, actualRevisionFrom(err.message));
        // Another process appended meanwhile: spread the retries so two of them do not collide in lockstep.
        await sleep(Math.random() * Math.min(50, 2 * attempt));
      }
    }
  }

  /** The revision to append at and the hash to chain after: known from the last read or append, else read. */
  private async chainHead(stream: string, subject: string, expectedRevision: ExpectedRevision): Promise<{ revision: StreamRevision | 'no_stream'; hash: string }> {
    if (expectedRevision === 'no_stream') return { revision: 'no_stream', hash: GENESIS_HASH };
    const known = this.heads.get(stream);
    // For 'any', what this store saw last: another writer since makes the append conflict, and the retry reads.
    if (known !== undefined && (expectedRevision === 'any' || known.revision === expectedRevision)) return known;
    const jsm = await this.jsm();
    let message;
    try {
      message = expectedRevision === 'any' ? await lastMessageOfSubject(jsm, this.options.stream, subject) : await messageAt(jsm, this.options.stream, Number(expectedRevision));
    } catch (err) {
      throw new EventStoreUnavailableError(`append to ${stream} failed reading the end of its chain: ${(err as Error).message}`, { cause: err });
    }
    if (message === null || message.subject !== subject) {
      if (expectedRevision === 'any') return { revision: 'no_stream', hash: GENESIS_HASH };
      throw new WrongExpectedRevisionError(stream, expectedRevision);
    }
    const last = decodeStored(message.json(), message.seq, message.subject).at(-1);
    return { revision: BigInt(message.seq), hash: last?.hash ?? GENESIS_HASH };
  }

  private rememberHead(stream: string, revision: StreamRevision, hash: string | undefined): void {
    if (hash === undefined) return;
    this.heads.delete(stream);
    this.heads.set(stream, { revision, hash });
    if (this.heads.size > MAX_REMEMBERED_HEADS) {
      const oldest = this.heads.keys().next();
      if (!oldest.done) this.heads.delete(oldest.value);
    }
  }

  async lastEvent(stream: string): Promise<RecordedEvent | undefined> {
    const subject = this.subjectOf(stream);
    const jsm = await this.jsm();
    try {
      const message = await lastMessageOfSubject(jsm, this.options.stream, subject);
      return message === null ? undefined : decodeStored(message.json(), message.seq, message.subject).at(-1);
    } catch (err) {
      throw new EventStoreUnavailableError(`reading the last event of ${stream} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async streamRevision(stream: string): Promise<StreamRevision | 'no_stream'> {
    const subject = this.subjectOf(stream);
    const jsm = await this.jsm();
    try {
      const message = await lastMessageOfSubject(jsm, this.options.stream, subject);
      return message === null ? 'no_stream' : BigInt(message.seq);
    } catch (err) {
      throw new EventStoreUnavailableError(`reading the revision of ${stream} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async headPosition(options: LogOptions = {}): Promise<GlobalPosition | undefined> {
    const jsm = await this.jsm();
    if (options.plantId === undefined) {
      // The whole log is the whole stream (when the stream holds nothing else): its last message,
      // by sequence, without a consumer. Gone meanwhile (deleted): asked the long way below.
      const { config, state } = await jsm.streams.info(this.options.stream);
      if (config.subjects?.length === 1 && config.subjects[0] === this.filterFor(options)) {
        if (state.messages === 0) return undefined;
        const message = await messageAt(jsm, this.options.stream, state.last_seq);
        if (message) return decodeStored(message.json(), message.seq, message.subject).at(-1)?.position;
      }
    }
    const last = await lastMessageOf(this.options.nc, jsm, this.options.stream, this.filterFor(options));
    return last === undefined ? undefined : decodeAppend(last).at(-1)?.position;
  }

  async countAfter(after: GlobalPosition | undefined, options: LogOptions = {}): Promise<number> {
    const sequence = after === undefined ? 0 : splitJetStreamPosition(after).sequence;
    return countAfterSequence(await this.jsm(), this.options.stream, this.filterFor(options), sequence);
  }

  /**
   * Backwards from the stream's last append, one request per append: each append this store makes
   * names the one before it (its `Nats-Expected-Last-Subject-Sequence` header, which the stream
   * keeps), and a message by sequence or the last of a subject is an index lookup for the server,
   * where the next message of a subject from a sequence is a scan (about 2.5x slower here, and
   * slower the longer the log). A stream longer than a few appends, or one whose messages do not
   * name the one before (written otherwise), is read forwards as before.
   */
  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    const subject = this.subjectOf(stream);
    const jsm = await this.jsm();
    const after = options.after === undefined ? 0 : Number(options.after);
    const walked: StoredMsg[] = [];
    let msg = await lastMessageOfSubject(jsm, this.options.stream, subject);
    while (msg !== null && msg.seq > after) {
      if (msg.subject !== subject) throw new Error(`read of ${stream} returned a message of ${msg.subject}: the subject filter was not applied`);
      walked.push(msg);
      const previous = Number(msg.header?.get(PREVIOUS_APPEND_HEADER) || NaN);
      if (!Number.isSafeInteger(previous) || previous < 0 || previous >= msg.seq || walked.length >= SHORT_STREAM_APPENDS) return this.readStreamForwards(jsm, stream, subject, options);
      if (previous <= after) break;
      msg = await messageAt(jsm, this.options.stream, previous);
      if (msg === null || msg.subject !== subject) return this.readStreamForwards(jsm, stream, subject, options);
    }
    if (walked.length === 0) return this.read(stream, options.after ?? 'no_stream', []);
    const events: RecordedEvent[] = [];
    for (let i = walked.length - 1; i >= 0; i--) events.push(...decodeStored(walked[i]!.json(), walked[i]!.seq, subject));
    return this.read(stream, BigInt(walked[0]!.seq), events);
  }

  /** A stream's appends after `options.after` in order: a few one request each, the rest through an ordered consumer. */
  private async readStreamForwards(jsm: JetStreamManager, stream: string, subject: string, options: ReadStreamOptions): Promise<ReadStreamResult> {
    const events: RecordedEvent[] = [];
    // The revision is the sequence of the stream's last message: what follows `after` starts after it.
    let revision: bigint | 'no_stream' = options.after ?? 'no_stream';
    let next = options.after === undefined ? 1 : Number(options.after) + 1;
    for (let read = 0; read < SHORT_STREAM_APPENDS; read++) {
      const msg = await nextMessageOf(jsm, this.options.stream, subject, next);
      if (msg === null) return this.read(stream, revision, events);
      if (msg.subject !== subject) throw new Error(`read of ${stream} returned a message of ${msg.subject}: the subject filter was not applied`);
      events.push(...decodeStored(msg.json(), msg.seq, msg.subject));
      revision = BigInt(msg.seq);
      next = msg.seq + 1;
    }
    for await (const msg of readRange(this.js, jsm, this.options.stream, subject, next)) {
      if (msg.subject !== subject) throw new Error(`read of ${stream} returned a message of ${msg.subject}: the consumer filter was not applied`);
      events.push(...decodeAppend(msg));
      revision = BigInt(msg.seq);
    }
    return this.read(stream, revision, events);
  }

  /** A read's result, remembering where the stream's chain ends. */
  private read(stream: string, revision: StreamRevision | 'no_stream', events: RecordedEvent[]): ReadStreamResult {
    if (revision !== 'no_stream') this.rememberHead(stream, revision, events.at(-1)?.hash);
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

  /** One short-lived consumer from the first message stored at or after `since` (the server's clock), found by its time. */
  async *readCategorySince(plantId: string, category: StreamCategory, since: Date): AsyncGenerator<RecordedEvent> {
    const filter = `${this.options.subjectPrefix}.${streamCategoryPrefix(plantId, category)}.>`;
    const jsm = await this.jsm();
    const start = await firstSequenceAtOrAfter(jsm, this.options.stream, since);
    for await (const msg of readRange(this.js, jsm, this.options.stream, filter, start)) {
      yield* decodeAppend(msg);
    }
  }

  subscribeToAll(options: SubscribeOptions): Subscription {
    let stopped = false;
    let current: FetchAhead | undefined;
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
          const counted = deliveryCounter(this.options.stream, filter);
          current = new FetchAhead(consumer, { max_messages: 1024, expires: 2_000, idle_heartbeat: 1_000 });
          if (!stopped) {
            for await (const msg of current.messages()) {
              // A hole (messages lost in transit) ends this consumer: the loop resumes after the last event handled.
              counted(msg);
              failures = 0;
              for (const event of decodeAppend(msg)) {
                if (stopped) break;
                if (last !== undefined && event.position <= last) continue;
                try {
                  // A handler that returns nothing (a projection queueing the event) costs no await per event.
                  const handled = options.onEvent(event);
                  if (handled !== undefined) await handled;
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
    this.publisher.stop();
  }

  private filterFor(options: LogOptions): string {
    return options.plantId === undefined ? `${this.options.subjectPrefix}.>` : `${this.options.subjectPrefix}.${options.plantId}.>`;
  }
}

/** `Nats-Msg-Id` of an append: the event id, or a digest of all ids when several are appended together. */
function appendId(events: readonly NewEvent[]): string {
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
  return decodeStored(parsed, msg.seq, msg.subject);
}

function decodeStored(parsed: unknown, seq: number, subject: string): RecordedEvent[] {
  if (!Array.isArray(parsed)) throw new Error(`event store message ${seq} on ${subject} is not a list of events`);
  // The parsed objects are ours: the position is set on them rather than on copies.
  const events = parsed as RecordedEvent[];
  for (let index = 0; index < events.length; index++) events[index]!.position = jetStreamPosition(seq, index);
  return events;
}

function actualRevisionFrom(message: string): bigint | undefined {
  const match = /wrong last sequence: (\d+)/.exec(message);
  if (!match?.[1]) return undefined;
  return match[1] === '0' ? undefined : BigInt(match[1]);
}
