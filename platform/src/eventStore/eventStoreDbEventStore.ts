// The EventStoreDB adapter of the event store port (the alternative to JetStream, chosen with
// EVENTSTORE_URL). One aggregate stream is one ESDB stream of the same name; each of our events is
// one ESDB event whose JSON data holds the envelope (see eventStoreDbMapping.ts). ESDB checks the
// expected revision and recognises a retried append by its event ids (derived from ours).
// One file on purpose (over 300 lines): every EventStoreDB call of the port in one place.
import { setTimeout as sleep } from 'node:timers/promises';
import { parseStreamName } from '@mes/contracts';
import {
  BACKWARDS,
  END,
  ErrorType,
  EventStoreDBClient,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  excludeSystemEvents,
  isCommandError,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type AppendResult as EsdbAppendResult,
  type Filter,
  type Position,
  type StreamingRead,
} from '@eventstore/db-client';
import type { Logger } from 'pino';
import { withoutCredentials } from '../config/env.js';
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
import { decodePosition, encodePosition, fromEsdbRecord, isKnownPosition, isStoreRecord, toEsdbEvent } from './eventStoreDbMapping.js';
import { chainEvents, GENESIS_HASH } from './hashChain.js';
import { allWithActiveTraceContext } from '../runtime/traceContext.js';

export interface EventStoreDbEventStoreOptions {
  /** Created (and disposed) by the caller, e.g. with `createEventStoreDbClient(EVENTSTORE_URL)`. */
  client: EventStoreDBClient;
  logger?: Logger;
}

/** A client for `EVENTSTORE_URL`, e.g. `esdb://127.0.0.1:2113?tls=false`. It connects on first use. */
export function createEventStoreDbClient(url: string): EventStoreDBClient {
  try {
    return EventStoreDBClient.connectionString(url);
  } catch (err) {
    // The client's parse error quotes the whole connection string, credentials included: redact it,
    // and do not attach the original error as the cause.
    const reason = (err as Error).message.split(url).join(withoutCredentials(url));
    throw new Error(`EVENTSTORE_URL ${withoutCredentials(url)} is not an EventStoreDB connection string: ${reason}`);
  }
}

/** The stream revision before any event: what "no stream" compares as. */
const NO_REVISION = -1n;

class SubscriptionFailed extends Error {
  constructor(readonly original: unknown) {
    super('subscription stopped');
  }
}

function ignore(): void {}

const STOPPED = Symbol('stopped');

/** The iterator's next item, or STOPPED as soon as `signal` aborts (the pending read is left to the caller to cancel). */
function nextUnlessStopped<T>(iterator: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T> | typeof STOPPED> {
  if (signal.aborted) return Promise.resolve(STOPPED);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(STOPPED);
    signal.addEventListener('abort', onAbort, { once: true });
    iterator.next().then(
      (result) => {
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function isWrongExpectedVersion(err: unknown): err is WrongExpectedVersionError {
  return err instanceof WrongExpectedVersionError || (err instanceof Error && isCommandError(err) && err.type === ErrorType.WRONG_EXPECTED_VERSION);
}

function isStreamNotFound(err: unknown): boolean {
  return err instanceof StreamNotFoundError || (err instanceof Error && isCommandError(err) && err.type === ErrorType.STREAM_NOT_FOUND);
}

function unavailable(operation: string, err: unknown): EventStoreUnavailableError {
  return new EventStoreUnavailableError(`${operation} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/**
 * Iterates a read of the ESDB client; errors of the read go through `mapError`. Stopping early
 * cancels the gRPC call, so an abandoned read does not stay open on the server.
 */
async function* iterateRead<T>(read: StreamingRead<T>, mapError: (err: unknown) => unknown = (err) => err): AsyncGenerator<T> {
  // A late error (after the iteration ended) must not become an unhandled 'error' event.
  read.on('error', ignore);
  const iterator = read[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      let next: IteratorResult<T>;
      try {
        next = await iterator.next();
      } catch (err) {
        finished = true;
        throw mapError(err);
      }
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!finished) await read.cancel().catch(ignore);
    await iterator.return?.().catch(ignore);
  }
}

async function collect<T>(read: StreamingRead<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterateRead(read)) items.push(item);
  return items;
}

export class EventStoreDbEventStore implements EventStore {
  private readonly client: EventStoreDBClient;
  private readonly logger: Logger | undefined;
  private readonly subscriptions = new Set<Subscription>();

  constructor(options: EventStoreDbEventStoreOptions) {
    this.client = options.client;
    this.logger = options.logger;
  }

  /**
   * Duplicate detection. ESDB acknowledges a repeated append (same event ids at the revisions after
   * the expected one, or found by its id cache under `any`) as a success without writing, and its
   * reply does not say so: the revision it returns is the one of the already stored events, exactly
   * as for a new write. So the adapter reads the stream's last revision just before appending and
   * calls the append a duplicate when the returned revision is not beyond it: a new write always
   * lands after the revision read, an idempotent one reports the earlier revision of the original.
   * This never calls a new write a duplicate. It can miss one: if the original append lands between
   * that read and this append (two copies of one append racing), both report `duplicate: false`;
   * either way the events are stored once. The price is one extra read per append.
   *
   * The returned position is read back from the event at the returned revision rather than taken
   * from ESDB's append reply, so it is exactly the position `readStream` and `readAll` report.
   */
  async appendToStream(stream: string, newEvents: NewEvent[], { expectedRevision }: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    assertAppendable(stream, newEvents);
    parseStreamName(stream);
    // Before the chain is computed, so the hash covers the trace context too.
    const events = allWithActiveTraceContext(newEvents);
    for (let attempt = 1; ; attempt++) {
      const last = await this.lastRecorded(stream);
      // The chain goes on from the stream's last event. 'any' appends right after it, and reads
      // again if another writer got in between (a chain must not fork). An expected revision that
      // is not the last one is refused by EventStoreDB, or, for a retried append (the same event
      // ids at the revisions after it), acknowledged without writing: its hashes then do not matter.
      const at: bigint | 'no_stream' = last === undefined ? 'no_stream' : last.revision;
      const chained = chainEvents(last?.hash ?? GENESIS_HASH, events.map((event) => ({ ...event, stream })));
      const proposed = chained.map(toEsdbEvent);
      let result: EsdbAppendResult;
      try {
        result = await this.client.appendToStream(stream, proposed, { expectedRevision: expectedRevision === 'any' ? at : expectedRevision });
      } catch (err) {
        // Also ESDB's answer when only some of the events had been appended before.
        if (isWrongExpectedVersion(err)) {
          if (expectedRevision === 'any' && attempt < 10) {
            await sleep(Math.random() * Math.min(50, 2 * attempt));
            continue;
          }
          throw new WrongExpectedRevisionError(stream, expectedRevision, err.actualVersion);
        }
        throw unavailable(`append to ${stream}`, err);
      }
      // A client made with throwOnAppendFailure=false reports a conflict this way instead.
      if (!result.success) throw new WrongExpectedRevisionError(stream, expectedRevision);
      const nextRevision = result.nextExpectedRevision;
      const position = await this.positionAt(stream, nextRevision, proposed.at(-1)!.id, result.position);
      return { nextRevision, position, duplicate: nextRevision <= (last?.revision ?? NO_REVISION) };
    }
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    parseStreamName(stream);
    let resolved;
    try {
      // ESDB's fromRevision is inclusive, and a revision there is the event's number, as ours is.
      resolved = await collect(this.client.readStream(stream, options.after === undefined ? {} : { fromRevision: options.after + 1n }));
    } catch (err) {
      if (isStreamNotFound(err)) return { revision: 'no_stream', events: [] };
      throw unavailable(`read of ${stream}`, err);
    }
    const events: RecordedEvent[] = [];
    let revision: bigint | 'no_stream' = options.after ?? 'no_stream';
    for (const { event: record } of resolved) {
      if (!record) continue;
      events.push(fromEsdbRecord(record));
      revision = record.revision;
    }
    return { revision, events };
  }

  /**
   * Reads $all forwards. The ESDB Node client (v6) has no server-side filter for reads, so other
   * plants' events, ESDB's system events and streams not named like ours are passed over here.
   */
  async *readAll(options: ReadAllOptions = {}): AsyncGenerator<RecordedEvent> {
    const { after, plantId } = options;
    const read = this.client.readAll({ fromPosition: after === undefined ? START : decodePosition(after), resolveLinkTos: false });
    for await (const resolved of iterateRead(read, (err) => unavailable(`read of $all${plantId === undefined ? '' : ` for plant ${plantId}`}`, err))) {
      const record = resolved.event;
      if (!record || !isStoreRecord(record, plantId)) continue;
      const event = fromEsdbRecord(record);
      // `after` is exclusive; whether ESDB includes the event at `fromPosition` is not relied on.
      if (after !== undefined && event.position <= after) continue;
      yield event;
    }
  }

  /**
   * A catch-up subscription to $all, filtered on the server (stream prefix `{plantId}.`, or no system
   * events) and again here. Events are pulled one at a time: the next one is not taken from the
   * subscription before the handler's promise settles, so the client's stream applies backpressure.
   * On a transport error or a dropped subscription it resubscribes after the last handled event,
   * with backoff; on a handler error (or an event that is not ours to decode) it stops and `done` rejects.
   */
  subscribeToAll(options: SubscribeOptions): Subscription {
    const stopping = new AbortController();
    let last = options.after;
    // Decoded now so that a position from another store fails here, not in the retry loop.
    if (last !== undefined) decodePosition(last);
    const { plantId } = options;
    const filter: Filter = plantId === undefined ? excludeSystemEvents() : streamNameFilter({ prefixes: [`${plantId}.`] });
    const logger = this.logger;

    const deliver = async (resolved: AllStreamResolvedEvent): Promise<void> => {
      const record = resolved.event;
      if (!record || !isStoreRecord(record, plantId)) return;
      let event: RecordedEvent;
      try {
        event = fromEsdbRecord(record);
      } catch (err) {
        throw new SubscriptionFailed(err);
      }
      if (last !== undefined && event.position <= last) return;
      try {
        await options.onEvent(event);
      } catch (err) {
        throw new SubscriptionFailed(err);
      }
      last = event.position;
    };

    const run = async (): Promise<void> => {
      let failures = 0;
      while (!stopping.signal.aborted) {
        let subscription: AllStreamSubscription | undefined;
        try {
          subscription = this.client.subscribeToAll({ fromPosition: last === undefined ? START : decodePosition(last), filter, resolveLinkTos: false });
          subscription.on('error', ignore);
          const iterator = subscription[Symbol.asyncIterator]();
          // Pulled one at a time: nothing more is read from the subscription while a handler runs.
          for (;;) {
            const next = await nextUnlessStopped(iterator, stopping.signal);
            if (next === STOPPED) return;
            if (next.done) throw new Error('EventStoreDB ended the subscription');
            failures = 0;
            await deliver(next.value);
            if (stopping.signal.aborted) return;
          }
        } catch (err) {
          if (err instanceof SubscriptionFailed) throw err.original;
          if (stopping.signal.aborted) return;
          failures++;
          logger?.warn({ err, plantId, failures }, 'EventStoreDB subscription interrupted; resuming after the last delivered event');
          await sleep(Math.min(2_000, 100 * 2 ** Math.min(failures, 5)), undefined, { signal: stopping.signal }).catch(ignore);
        } finally {
          if (subscription) {
            await subscription.unsubscribe().catch(ignore);
            subscription.destroy();
          }
        }
      }
    };

    const done = run();
    const subscription: Subscription = {
      done,
      stop: async () => {
        stopping.abort();
        await done.catch(ignore);
        this.subscriptions.delete(subscription);
      },
    };
    this.subscriptions.add(subscription);
    done.catch(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  async lastEvent(stream: string): Promise<RecordedEvent | undefined> {
    parseStreamName(stream);
    try {
      const [last] = await collect(this.client.readStream(stream, { direction: BACKWARDS, fromRevision: END, maxCount: 1 }));
      return last?.event ? fromEsdbRecord(last.event) : undefined;
    } catch (err) {
      if (isStreamNotFound(err)) return undefined;
      throw unavailable(`reading the last event of ${stream}`, err);
    }
  }

  async streamRevision(stream: string): Promise<StreamRevision | 'no_stream'> {
    parseStreamName(stream);
    const revision = await this.lastRevision(stream);
    return revision === NO_REVISION ? 'no_stream' : revision;
  }

  /** Reads $all backwards to the first event of ours (of the plant): the client has no server-side filter for reads. */
  async headPosition(options: LogOptions = {}): Promise<GlobalPosition | undefined> {
    const read = this.client.readAll({ direction: BACKWARDS, fromPosition: END, resolveLinkTos: false });
    for await (const resolved of iterateRead(read, (err) => unavailable('read of the end of $all', err))) {
      const record = resolved.event;
      if (record && isStoreRecord(record, options.plantId)) return fromEsdbRecord(record).position;
    }
    return undefined;
  }

  /** Not known without reading every event after `after`: ESDB positions are not counts. */
  async countAfter(): Promise<undefined> {
    return undefined;
  }

  /** Stops the subscriptions; the client belongs to the caller, who disposes it. */
  async ping(): Promise<void> {
    // A read of a stream that need not exist: one round trip, nothing written.
    await this.readStream('_health.machine.probe');
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
  }

  /** The stream's last event: its revision and hash (absent for events written before the chain). */
  private async lastRecorded(stream: string): Promise<{ revision: bigint; hash: string | undefined } | undefined> {
    let last;
    try {
      [last] = await collect(this.client.readStream(stream, { direction: BACKWARDS, fromRevision: END, maxCount: 1 }));
    } catch (err) {
      if (isStreamNotFound(err)) return undefined;
      throw unavailable(`append to ${stream} (reading the end of its chain first)`, err);
    }
    const record = last?.event;
    if (record === undefined) return undefined;
    const body = record.data as { hash?: unknown } | null;
    return { revision: record.revision, hash: typeof body?.hash === 'string' ? body.hash : undefined };
  }

  /** The revision of the stream's last event, or -1 when the stream does not exist. */
  private async lastRevision(stream: string): Promise<bigint> {
    try {
      const [last] = await collect(this.client.readStream(stream, { direction: BACKWARDS, fromRevision: END, maxCount: 1 }));
      return last?.event?.revision ?? NO_REVISION;
    } catch (err) {
      if (isStreamNotFound(err)) return NO_REVISION;
      throw unavailable(`append to ${stream} (reading its revision first)`, err);
    }
  }

  /** The log position of the event at `revision`, which must be the appended event `esdbId`. */
  private async positionAt(stream: string, revision: bigint, esdbId: string, replied: Position | undefined): Promise<GlobalPosition> {
    let record;
    try {
      [record] = (await collect(this.client.readStream(stream, { fromRevision: revision, maxCount: 1 }))).map((r) => r.event);
    } catch (err) {
      throw unavailable(`append to ${stream} (reading back the appended events' position)`, err);
    }
    if (record && record.revision === revision && record.position && isKnownPosition(record.position)) {
      if (record.id.toLowerCase() !== esdbId) {
        throw new Error(`append to ${stream}: EventStoreDB reported revision ${revision}, but the event stored there is ${record.id}, not the appended ${esdbId}`);
      }
      return encodePosition(record.position);
    }
    // The event is gone already (e.g. a $maxCount on the stream) or the server omits positions on reads.
    if (replied && isKnownPosition(replied)) return encodePosition(replied);
    throw new EventStoreUnavailableError(`append to ${stream}: stored at revision ${revision}, but EventStoreDB reported no position for it`);
  }
}
