// The event store port. Services load an aggregate's stream, decide, and append with the revision
// they read; JetStream (default) and EventStoreDB implement it and pass one contract suite.
import { parseDomainEvent, type DomainEvent, type EventEnvelope, type StreamCategory } from '@mes/contracts';

/**
 * A stream's version as the store counts it: the value `readStream` or `appendToStream` returned.
 * Pass it back unchanged as the expected revision; it is not a count of events.
 */
export type StreamRevision = bigint;

/**
 * Where an event stands in the whole log: unique per event and increasing in log order, so a
 * subscriber can checkpoint it and resume after it. Opaque beyond that (each store encodes its own).
 */
export type GlobalPosition = bigint;

/** `'no_stream'`: the stream must not exist yet. `'any'`: no check (use only for idempotent facts). */
export type ExpectedRevision = StreamRevision | 'no_stream' | 'any';

/** An event to append; its stream is the one it is appended to, and the store chains it (hashChain.ts). */
export type NewEvent = Omit<EventEnvelope, 'stream' | 'hash' | 'previousHash'>;

/** An event as read back from the store. */
export interface RecordedEvent extends EventEnvelope {
  position: GlobalPosition;
  /**
   * SHA-256 over `previousHash` and the event's canonical JSON, set by the store on append; events
   * written before the chain existed (or by anything but the store) lack it, which verification reports.
   */
  hash?: string;
  previousHash?: string;
}

/** A recorded event read as the contract event it is: its data validated and upcast to the current version. */
export type RecordedDomainEvent = Omit<RecordedEvent, 'type' | 'version' | 'data'> & DomainEvent;

/** Reads a recorded event as its contract event; throws EventDecodeError for a type or version this build does not know. */
export function parseRecordedEvent(event: RecordedEvent): RecordedDomainEvent {
  return { ...event, ...parseDomainEvent(event.type, event.version, event.data) };
}

export interface AppendResult {
  /** The stream's revision after the append: the expected revision for the next one. */
  nextRevision: StreamRevision;
  /** Position of the last event appended. */
  position: GlobalPosition;
  /** True when every event had been stored before (same event id): nothing new was written. */
  duplicate: boolean;
}

export interface ReadStreamResult {
  /** `'no_stream'` when the stream has no events. */
  revision: StreamRevision | 'no_stream';
  events: RecordedEvent[];
}

export interface ReadStreamOptions {
  /**
   * Exclusive: only the events after this revision, which must be one the stream had (a value
   * `readStream` or `appendToStream` returned for it). A reader holding the state at that revision
   * catches up without reading the whole stream again; with nothing newer, the result is no events
   * and this same revision. Default: from the stream's first event.
   */
  after?: StreamRevision;
}

export interface ReadAllOptions extends LogOptions {
  /** Exclusive: read the events after this position. Default: from the beginning. */
  after?: GlobalPosition;
}

export interface SubscribeOptions extends ReadAllOptions {
  /**
   * Called once per event, in log order, one at a time; the next event waits for the returned
   * promise. Store the event's position as the checkpoint after the effect commits. If it throws,
   * the subscription stops and `done` rejects with that error: resume later from the checkpoint.
   */
  onEvent(event: RecordedEvent): Promise<void> | void;
}

export interface Subscription {
  /** Stops delivering (the event being handled is finished first). */
  stop(): Promise<void>;
  /** Settles when the subscription ends: resolves after `stop()`, rejects on a handler error. */
  readonly done: Promise<void>;
}

export interface LogOptions {
  /** Only the events of this plant's streams. */
  plantId?: string;
}

export interface EventStore {
  /**
   * Appends `events` atomically if the stream is at `expectedRevision`. Many appends may be in
   * flight at once (to other streams, or with `'any'`): callers that need speed, such as ingest,
   * start them without awaiting each, and each resolves once stored.
   */
  appendToStream(stream: string, events: NewEvent[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult>;
  readStream(stream: string, options?: ReadStreamOptions): Promise<ReadStreamResult>;
  /** The stream's last event, without reading the rest; undefined when the stream has none. */
  lastEvent(stream: string): Promise<RecordedEvent | undefined>;
  /** The stream's revision (as `readStream` would report it) without reading its events. */
  streamRevision(stream: string): Promise<StreamRevision | 'no_stream'>;
  /** The position of the log's last event (of the plant's streams); undefined when there is none. */
  headPosition(options?: LogOptions): Promise<GlobalPosition | undefined>;
  /**
   * How many appends (each holding one or more events) follow `after` in the log (of the plant's
   * streams): a subscriber's lag. Undefined when the store cannot count without reading them.
   */
  countAfter(after: GlobalPosition | undefined, options?: LogOptions): Promise<number | undefined>;
  /** Every event after `options.after` up to the end of the log as it is when the read starts. */
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /**
   * Optional, for a store that can start a read at a time: the events of one category of a plant's
   * streams (`{plantId}.{category}.*`), in log order, from those recorded at or after `since` (some
   * recorded a little before may come too) to the end of the log as it is when the read starts.
   * A stream's events are whole from its first one only if that first one is among them. Without
   * it, callers read stream by stream.
   */
  readCategorySince?(plantId: string, category: StreamCategory, since: Date): AsyncIterable<RecordedEvent>;
  /** Every event after `options.after`, then new ones as they are appended, at least once each. */
  subscribeToAll(options: SubscribeOptions): Subscription;
  /** Resolves when the store answers (for /health); cheap enough to call every few seconds. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The stream changed since it was read: reload, decide again, and retry. */
export class WrongExpectedRevisionError extends Error {
  readonly code = 'EVENT_STORE_CONFLICT';
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    readonly actual?: StreamRevision | 'no_stream',
  ) {
    super(`stream ${stream} is not at the expected revision ${String(expected)}${actual === undefined ? '' : ` (it is at ${String(actual)})`}; reload it and retry`);
    this.name = 'WrongExpectedRevisionError';
  }
}

/** The event store could not be reached or refused the operation for a reason other than a conflict. */
export class EventStoreUnavailableError extends Error {
  readonly code = 'EVENT_STORE_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventStoreUnavailableError';
  }
}

export const MAX_EVENTS_PER_APPEND = 1000;

export function assertAppendable(stream: string, events: NewEvent[]): void {
  if (events.length === 0) throw new Error(`append to ${stream}: no events given`);
  if (events.length > MAX_EVENTS_PER_APPEND) {
    throw new Error(`append to ${stream}: ${events.length} events in one append; the limit is ${MAX_EVENTS_PER_APPEND}`);
  }
  const ids = new Set(events.map((e) => e.eventId));
  if (ids.size !== events.length) throw new Error(`append to ${stream}: the same event id appears twice in one append`);
}
