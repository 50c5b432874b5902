// Rejected telemetry in the JetStream stream MES_DEAD_LETTERS (`deadletter.{plantId}`): published
// by ingest, read back newest first for operators (GET /api/dead-letters, the CLI), a page of
// bounded size at a time.
import { DEAD_LETTERS_STREAM, DEAD_LETTERS_SUBJECT_PREFIX, IDENTIFIER_PATTERN, UNKNOWN_PLANT } from '@mes/contracts';
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, ReplayPolicy, jetstream, jetstreamManager, type JetStreamManager, type MsgRequest } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import type { DeadLetterRecord } from '../domain/deadLetter.js';

export interface StoredDeadLetter extends DeadLetterRecord {
  /** Position in MES_DEAD_LETTERS; larger is newer. */
  sequence: number;
}

export interface ListDeadLettersOptions {
  /** At most this many, newest first (1 to 10,000). */
  limit: number;
  /** Only this plant's (`_unknown` for messages whose topic named no valid plant). */
  plantId?: string;
  /** Only dead letters older than this sequence: the `nextBefore` of the page before. */
  before?: number;
  /**
   * At most this many bytes of stored dead letters (default 4 MiB), whatever `limit` says: a dead
   * letter holds up to 64 KiB of payload (more as base64), so 10,000 of them could be gigabytes.
   * The newest dead letter is returned even when it alone is larger.
   */
  maxBytes?: number;
}

export interface DeadLetterPage {
  /** Newest first. */
  deadLetters: StoredDeadLetter[];
  /** True when `maxBytes` cut the page short of `limit` and older dead letters remain. */
  truncated: boolean;
  /** Pass as `before` to read on (older); absent when nothing older is left. */
  nextBefore?: number;
}

export const MAX_DEAD_LETTERS_LIMIT = 10_000;
export const DEFAULT_DEAD_LETTER_PAGE_BYTES = 4 * 1024 * 1024;
/**
 * Bytes one pull should bring at most. The client takes a count or a byte bound, not both, and a
 * byte-bound pull waits for its expiry when fewer bytes are pending, so the count of each pull is
 * sized from the largest letter seen so far (16 to 512 letters).
 */
const FETCH_BYTES = 1024 * 1024;
const FETCH_BATCH = { first: 16, min: 8, max: 512 };

function filterFor(plantId: string | undefined): string {
  if (plantId === undefined) return `${DEAD_LETTERS_SUBJECT_PREFIX}.>`;
  if (plantId !== UNKNOWN_PLANT && !IDENTIFIER_PATTERN.test(plantId)) {
    throw new Error(`plantId ${JSON.stringify(plantId)} must be 1 to 64 characters of A-Z a-z 0-9 _ - (or ${UNKNOWN_PLANT})`);
  }
  return `${DEAD_LETTERS_SUBJECT_PREFIX}.${plantId}`;
}

/** The newest `limit` dead letters (of one plant, or all), newest first, at most `maxBytes` of them. */
export async function listDeadLetters(nc: NatsConnection, options: ListDeadLettersOptions): Promise<StoredDeadLetter[]> {
  return (await readDeadLetters(nc, options)).deadLetters;
}

interface RawLetter {
  seq: number;
  data: Uint8Array;
  subject: string;
  timestampNanos: number;
}

/**
 * One page of dead letters, newest first. JetStream reads forwards only, so this walks back from
 * the end (or from `before`) in ranges of sequences that grow fourfold (from 256 at most), reads each range forwards
 * through a filtered consumer, and keeps only the newest letters that fit in what is left of
 * `limit` and `maxBytes`: memory stays within about `maxBytes` plus one pull (about 1 MiB), however
 * many dead letters the stream holds.
 */
export async function readDeadLetters(nc: NatsConnection, options: ListDeadLettersOptions): Promise<DeadLetterPage> {
  const limit = Math.floor(options.limit);
  if (!(limit >= 1 && limit <= MAX_DEAD_LETTERS_LIMIT)) throw new Error(`limit must be a whole number from 1 to ${MAX_DEAD_LETTERS_LIMIT} (got ${String(options.limit)})`);
  const maxBytes = options.maxBytes ?? DEFAULT_DEAD_LETTER_PAGE_BYTES;
  if (!(maxBytes >= 1)) throw new Error(`maxBytes must be at least 1 (got ${String(options.maxBytes)})`);
  if (options.before !== undefined && !(Number.isSafeInteger(options.before) && options.before >= 1)) {
    throw new Error(`before must be a stream sequence, a whole number from 1 (got ${String(options.before)})`);
  }
  const filter = filterFor(options.plantId);
  const jsm = await jetstreamManager(nc);
  let state: { first_seq: number; last_seq: number };
  try {
    state = (await jsm.streams.info(DEAD_LETTERS_STREAM)).state;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return { deadLetters: [], truncated: false };
    throw err;
  }
  const firstSeq = Math.max(1, state.first_seq);
  let end = options.before === undefined ? state.last_seq : Math.min(options.before - 1, state.last_seq);
  const newestFirst: RawLetter[] = [];
  let bytes = 0;
  let cut = false;
  let span = Math.min(limit, 256);
  while (end >= firstSeq && newestFirst.length < limit && !cut) {
    const start = Math.max(firstSeq, end - span + 1);
    const range = await readRange(nc, jsm, filter, start, end, {
      count: limit - newestFirst.length,
      bytes: maxBytes - bytes,
      atLeastOne: newestFirst.length === 0,
    });
    for (const letter of range.kept.reverse()) {
      newestFirst.push(letter);
      bytes += letter.data.byteLength;
    }
    cut = range.dropped;
    end = start - 1;
    span *= 4;
  }
  const deadLetters = newestFirst.map(decode);
  const oldest = deadLetters.at(-1)?.sequence;
  // Older letters may remain when the page stopped early (count or bytes) before the stream's start.
  const more = oldest !== undefined && oldest > firstSeq && (cut || newestFirst.length >= limit);
  return { deadLetters, truncated: cut && newestFirst.length < limit, ...(more ? { nextBefore: oldest } : {}) };
}

/**
 * Reads the letters matching `filter` in sequences `start..end`, oldest first, and keeps the
 * newest ones that fit in `budget`; `dropped` tells whether older ones in the range did not fit.
 */
async function readRange(
  nc: NatsConnection,
  jsm: JetStreamManager,
  filter: string,
  start: number,
  end: number,
  budget: { count: number; bytes: number; atLeastOne: boolean },
): Promise<{ kept: RawLetter[]; dropped: boolean }> {
  const info = await jsm.consumers.add(DEAD_LETTERS_STREAM, {
    filter_subject: filter,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: start,
    ack_policy: AckPolicy.None,
    replay_policy: ReplayPolicy.Instant,
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: nanos(30_000),
  });
  const kept: RawLetter[] = [];
  let keptBytes = 0;
  let dropped = false;
  try {
    let remaining = info.num_pending;
    /** The last stream sequence delivered. */
    let position = start - 1;
    if (remaining === 0) return { kept, dropped };
    const consumer = await jetstream(nc).consumers.get(DEAD_LETTERS_STREAM, info.name);
    let batchSize = FETCH_BATCH.first;
    let largest = 0;
    while (remaining > 0 && position < end) {
      // Never more than the range can still hold, so a pull is filled at once instead of waiting out its expiry.
      const ask = Math.max(1, Math.min(batchSize, remaining, end - position));
      const batch = await consumer.fetch({ max_messages: ask, expires: 5_000 });
      let received = 0;
      for await (const msg of batch) {
        received++;
        remaining = msg.info.pending;
        position = msg.seq;
        if (msg.seq > end) break;
        // A copy, so a kept letter holds on to its own bytes only, not to the pull's whole buffer.
        kept.push({ seq: msg.seq, data: msg.data.slice(), subject: msg.subject, timestampNanos: msg.info.timestampNanos });
        keptBytes += msg.data.byteLength;
        largest = Math.max(largest, msg.data.byteLength);
        while (kept.length > budget.count || (keptBytes > budget.bytes && kept.length > (budget.atLeastOne ? 1 : 0))) {
          keptBytes -= kept.shift()!.data.byteLength;
          dropped = true;
        }
      }
      if (received < ask && position < end && remaining > 0) {
        // nats-server 2.9 can count more pending than a wildcard filter matches (seen: 258 for a
        // range of 256), so a short pull may only mean the range is done: ask the stream itself.
        // The typings know next_by_subj only for direct gets; STREAM.MSG.GET takes it too (2.9+).
        const next = await jsm.streams.getMessage(DEAD_LETTERS_STREAM, { seq: position + 1, next_by_subj: filter } as MsgRequest);
        if (next === null || next.seq > end) break;
        if (received === 0) throw new Error(`reading ${DEAD_LETTERS_STREAM} stalled at sequence ${position} with dead letter ${next.seq} still to read`);
      }
      batchSize = Math.min(FETCH_BATCH.max, Math.max(FETCH_BATCH.min, Math.floor(FETCH_BYTES / Math.max(largest, 1))));
    }
    return { kept, dropped };
  } finally {
    await jsm.consumers.delete(DEAD_LETTERS_STREAM, info.name).catch(() => undefined);
  }
}

function decode(letter: RawLetter): StoredDeadLetter {
  try {
    return { ...(JSON.parse(Buffer.from(letter.data.buffer, letter.data.byteOffset, letter.data.byteLength).toString('utf8')) as DeadLetterRecord), sequence: letter.seq };
  } catch {
    return {
      topic: '',
      payload: Buffer.from(letter.data).toString('base64'),
      encoding: 'base64',
      truncated: false,
      payloadBytes: letter.data.length,
      reason: `dead letter ${letter.seq} on ${letter.subject} is not JSON`,
      receivedAt: new Date(letter.timestampNanos / 1e6).toISOString(),
      sequence: letter.seq,
    };
  }
}
