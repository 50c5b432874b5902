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
  // Where the read ends: the last matching message now. nats-server 2.9 miscounts a filtered
  // consumer's pending messages when it starts mid-stream (it counts some before its start), so
  // the pending count alone would have the read wait for messages that never come.
  const last = await lastMessageOfSubject(jsm, stream, filterSubject);
  if (last === null || last.seq < from) return;
  const endSeq = last.seq;
  for (let gaps = 0; ; gaps++) {
    const { name, pending } = await createOrderedConsumer(jsm, stream, filterSubject, from);
    const counted = deliveryCounter(stream, filterSubject);
    let remaining = Math.max(1, pending);
    let batch: ConsumerMessages | undefined;
    let next: { messages: Promise<ConsumerMessages>; asked: number } | undefined;
    try {
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
          if (msg.seq >= endSeq) {
            yield msg;
            return;
          }
          if (next === undefined && batch.getReceived() >= asked) {
            // This message's `pending` still counts the rest of its batch, which is already on its way.
            const afterBatch = remaining - (asked - received);
            if (afterBatch > 0) next = ask(afterBatch);
          }
          yield msg;
        }
        if (received === 0) {
          throw new Error(`reading ${filterSubject} from ${stream} stalled before sequence ${endSeq} (${remaining} messages said to be pending)`);
        }
        next ??= ask(Math.max(1, remaining));
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
  // The typings know next_by_subj only for direct gets; STREAM.MSG.GET takes it too (2.9+).
  return getOrNull(jsm, stream, { seq: fromSeq, next_by_subj: subject } as MsgRequest);
}

/** The last message of a literal `subject`, or null when it has none: an index lookup on the server. */
export async function lastMessageOfSubject(jsm: JetStreamManager, stream: string, subject: string): Promise<StoredMsg | null> {
  return getOrNull(jsm, stream, { last_by_subj: subject });
}

/** The message at sequence `seq`, or null when there is none: an index lookup on the server. */
export async function messageAt(jsm: JetStreamManager, stream: string, seq: number): Promise<StoredMsg | null> {
  return getOrNull(jsm, stream, { seq });
}

async function getOrNull(jsm: JetStreamManager, stream: string, request: MsgRequest): Promise<StoredMsg | null> {
  try {
    return await jsm.streams.getMessage(stream, request);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return null;
    throw err;
  }
}

/**
 * The first sequence of `stream` whose message was stored at or after `time` (one past the end when
 * none was), by a binary search over the messages' times: a few lookups by sequence, not a consumer
 * that starts at a time (whose pending count nats-server 2.9 sometimes gets wrong with a subject
 * filter, leaving a read waiting for messages it never sends). Times are the stream leader's; a
 * sequence with no message is taken as late, so the answer may come early, never late, unless a
 * leader change between nodes whose clocks differ put later messages at earlier times.
 */
export async function firstSequenceAtOrAfter(jsm: JetStreamManager, stream: string, time: Date): Promise<number> {
  const { state } = await jsm.streams.info(stream);
  let low = state.first_seq;
  let high = state.last_seq + 1;
  const at = time.getTime();
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    const msg = await messageAt(jsm, stream, middle);
    if (msg !== null && msg.time.getTime() < at) low = middle + 1;
    else high = middle;
  }
  return low;
}
