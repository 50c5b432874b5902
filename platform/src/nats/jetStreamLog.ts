// Reading a range of a JetStream stream in order through a short-lived consumer of our own.
// Every filtered read goes through `jsm.consumers.add` with the singular `filter_subject`:
// nats-server 2.9 silently ignores the newer `filter_subjects` field (ARCHITECTURE.md, known traps),
// which would mix other aggregates' events into a read.
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, ReplayPolicy, jetstream, type Consumer, type ConsumerMessages, type FetchOptions, type JetStreamClient, type JetStreamManager, type JsMsg, type MsgRequest, type StoredMsg } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';

const FETCH_BATCH = 1024;

export interface OrderedRange {
  /** Messages in stream order, from `startSeq` to the end of the stream as it was when opened. */
  messages: AsyncGenerator<JsMsg>;
}

export async function createOrderedConsumer(
  jsm: JetStreamManager,
  stream: string,
  filterSubject: string,
  startSeq: number,
): Promise<{ name: string; pending: number }> {
  const info = await jsm.consumers.add(stream, {
    filter_subject: filterSubject,
    deliver_policy: startSeq <= 1 ? DeliverPolicy.All : DeliverPolicy.StartSequence,
    ...(startSeq > 1 ? { opt_start_seq: startSeq } : {}),
    ack_policy: AckPolicy.None,
    replay_policy: ReplayPolicy.Instant,
    mem_storage: true,
    num_replicas: 1,
    // A reader that dies without deleting its consumer leaves nothing behind for long.
    inactive_threshold: nanos(30_000),
  });
  return { name: info.name, pending: info.num_pending };
}

export function deleteConsumerQuietly(jsm: JetStreamManager, stream: string, name: string): void {
  jsm.consumers.delete(stream, name).catch(() => undefined);
}

/** Yields every message matching `filterSubject` from `startSeq` to the current end, then ends. */
/**
 * A message a consumer delivered but this client never received (a reconnect to another node
 * mid-pull drops what was in flight; a consumer that does not ack never sends it again). The
 * consumer's own delivery sequence shows the hole: read again from after the last message received.
 */
export class DeliveryGapError extends Error {
  constructor(stream: string, filter: string, expected: number, got: number) {
    super(`reading ${filter} from ${stream}: delivery ${got} came after ${expected - 1}; messages in between were lost in transit, reading them again`);
    this.name = 'DeliveryGapError';
  }
}

/** Counts a consumer's deliveries; throws DeliveryGapError at a hole. */
export function deliveryCounter(stream: string, filter: string): (msg: JsMsg) => void {
  let expected = 1;
  return (msg) => {
    const got = msg.info.deliverySequence;
    if (got !== expected) throw new DeliveryGapError(stream, filter, expected, got);
    expected++;
  };
}

/**
 * Pull requests of `options` one after the other on a consumer of our own (no acks). Once every
 * message of the current request has arrived, the next request is made while those are still being
 * read, so a reader that is catching up never waits a round trip between two batches. At the end of
 * the stream (a request that waits for messages) only that one request is open: a second request
 * queued behind a waiting one would get no heartbeats and fail. The server answers requests in the
 * order they came, so messages stay in order (the reader's delivery counter would see it otherwise).
 */
export class FetchAhead {
  private current: ConsumerMessages | undefined;
  private next: Promise<ConsumerMessages> | undefined;
  private stopped = false;

  constructor(
    private readonly consumer: Consumer,
    private readonly options: FetchOptions & { max_messages: number },
  ) {}

  private ask(): Promise<ConsumerMessages> {
    const next = this.consumer.fetch(this.options);
    // Still awaited when it is read; this only keeps a failure after stop() from going unhandled.
    next.catch(() => undefined);
    return next;
  }

  /** The messages of one pull request after the other, until stop() (or an error of a request). */
  async *messages(): AsyncGenerator<JsMsg> {
    this.next = this.ask();
    while (!this.stopped && this.next) {
      const current: ConsumerMessages = await this.next;
      this.current = current;
      this.next = undefined;
      if (this.stopped) break;
      for await (const msg of current) {
        if (this.next === undefined && !this.stopped && current.getReceived() >= this.options.max_messages) this.next = this.ask();
        yield msg;
      }
      if (!this.stopped) this.next ??= this.ask();
    }
  }

  stop(): void {
    this.stopped = true;
    this.current?.stop();
    this.next?.then((messages) => messages.stop()).catch(() => undefined);
  }
}

/**
 * Yields every message matching `filterSubject` from `startSeq` to the current end, then ends.
 * Once every message of one pull request has arrived, the next one (for what is still pending) is
 * made while those are read, so a long read (a rebuild) does not wait a round trip per batch.
 */
export async function* readRange(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  filterSubject: string,
  startSeq: number,
): AsyncGenerator<JsMsg> {
  let from = startSeq;
  for (let gaps = 0; ; gaps++) {
    const { name, pending } = await createOrderedConsumer(jsm, stream, filterSubject, from);
    const counted = deliveryCounter(stream, filterSubject);
    let remaining = pending;
    let batch: ConsumerMessages | undefined;
    let next: { messages: Promise<ConsumerMessages>; asked: number } | undefined;
    try {
      if (remaining === 0) return;
      const consumer = await js.consumers.get(stream, name);
      // Never more than is pending: a request the stream cannot fill would wait for its expiry.
      const ask = (count: number) => {
        const asked = Math.min(count, FETCH_BATCH);
        const messages = consumer.fetch({ max_messages: asked, expires: 5_000 });
        // Still awaited when it is read; this only keeps a failure after an early end from going unhandled.
        messages.catch(() => undefined);
        return { messages, asked };
      };
      next = ask(remaining);
      while (next) {
        const { asked } = next;
        batch = await next.messages;
        next = undefined;
        let received = 0;
        for await (const msg of batch) {
          counted(msg);
          received++;
          remaining = msg.info.pending;
          from = msg.seq + 1;
          if (next === undefined && batch.getReceived() >= asked) {
            // This message's `pending` still counts the rest of its batch, which is already on its way.
            const afterBatch = remaining - (asked - received);
            if (afterBatch > 0) next = ask(afterBatch);
          }
          yield msg;
        }
        if (received === 0) {
          throw new Error(`reading ${filterSubject} from ${stream} stalled with ${remaining} messages still pending`);
        }
        if (next === undefined && remaining > 0) next = ask(remaining);
      }
      return;
    } catch (err) {
      // A hole in what was delivered: read on from after the last message yielded, a few times.
      if (!(err instanceof DeliveryGapError) || gaps >= 5) throw err;
    } finally {
      batch?.stop();
      next?.messages.then((messages) => messages.stop()).catch(() => undefined);
      deleteConsumerQuietly(jsm, stream, name);
    }
  }
}

/** The last message of `stream` matching `filter`, or undefined when none does: one short-lived consumer, whatever the stream's length. */
export async function lastMessageOf(nc: NatsConnection, jsm: JetStreamManager, stream: string, filter: string): Promise<JsMsg | undefined> {
  const info = await jsm.consumers.add(stream, {
    filter_subject: filter,
    deliver_policy: DeliverPolicy.Last,
    ack_policy: AckPolicy.None,
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: nanos(30_000),
  });
  try {
    if (info.num_pending === 0) return undefined;
    const consumer = await jetstream(nc).consumers.get(stream, info.name);
    const messages = await consumer.fetch({ max_messages: 1, expires: 2_000 });
    for await (const msg of messages) return msg;
    return undefined;
  } finally {
    deleteConsumerQuietly(jsm, stream, info.name);
  }
}

/** How many messages of `stream` matching `filter` come after sequence `afterSeq`. */
export async function countAfterSequence(jsm: JetStreamManager, stream: string, filter: string, afterSeq: number): Promise<number> {
  // A filter that is the stream's only subject (the whole event log) with no message deleted in
  // between: the stream's own state says it, without a consumer (whose count the server works out
  // subject by subject: costly on a long log, and the status asks it often).
  if (/^[^*>]+\.>$/.test(filter)) {
    const { config, state } = await jsm.streams.info(stream);
    if (config.subjects?.length === 1 && config.subjects[0] === filter && !state.num_deleted) {
      return state.messages === 0 ? 0 : Math.max(0, state.last_seq - Math.max(afterSeq, state.first_seq - 1));
    }
  }
  const { name, pending } = await createOrderedConsumer(jsm, stream, filter, afterSeq + 1);
  deleteConsumerQuietly(jsm, stream, name);
  return pending;
}

/**
 * The first message of `subject` at or after sequence `fromSeq`, or null when there is none: one
 * request to the stream, no consumer (cheaper for a few messages, and nothing to place on a node).
 */
export async function nextMessageOf(jsm: JetStreamManager, stream: string, subject: string, fromSeq: number): Promise<StoredMsg | null> {
  try {
    // The typings know next_by_subj only for direct gets; STREAM.MSG.GET takes it too (2.9+).
    return await jsm.streams.getMessage(stream, { seq: fromSeq, next_by_subj: subject } as MsgRequest);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return null;
    throw err;
  }
}
