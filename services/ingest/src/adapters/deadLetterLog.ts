// Rejected telemetry in the JetStream stream MES_DEAD_LETTERS (`deadletter.{plantId}`): published
// by ingest, read back newest first for operators (GET /api/dead-letters, the CLI).
import { DEAD_LETTERS_STREAM, DEAD_LETTERS_SUBJECT_PREFIX, IDENTIFIER_PATTERN, UNKNOWN_PLANT } from '@mes/contracts';
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, ReplayPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
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
}

const MAX_LIMIT = 10_000;
const FETCH_BATCH = 512;

function filterFor(plantId: string | undefined): string {
  if (plantId === undefined) return `${DEAD_LETTERS_SUBJECT_PREFIX}.>`;
  if (plantId !== UNKNOWN_PLANT && !IDENTIFIER_PATTERN.test(plantId)) {
    throw new Error(`plantId ${JSON.stringify(plantId)} must be 1 to 64 characters of A-Z a-z 0-9 _ - (or ${UNKNOWN_PLANT})`);
  }
  return `${DEAD_LETTERS_SUBJECT_PREFIX}.${plantId}`;
}

/**
 * The newest `limit` dead letters (of one plant, or all), newest first. JetStream reads forwards
 * only, so this opens a filtered consumer some way back from the end, widening the range until it
 * holds `limit` matching messages (or reaches the start), and keeps the last `limit` it reads.
 */
export async function listDeadLetters(nc: NatsConnection, options: ListDeadLettersOptions): Promise<StoredDeadLetter[]> {
  const limit = Math.floor(options.limit);
  if (!(limit >= 1 && limit <= MAX_LIMIT)) throw new Error(`limit must be a whole number from 1 to ${MAX_LIMIT} (got ${String(options.limit)})`);
  const filter = filterFor(options.plantId);
  const jsm = await jetstreamManager(nc);
  let lastSeq: number;
  try {
    lastSeq = (await jsm.streams.info(DEAD_LETTERS_STREAM)).state.last_seq;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return [];
    throw err;
  }
  if (lastSeq === 0) return [];

  let span = limit;
  for (;;) {
    const startSeq = Math.max(1, lastSeq - span + 1);
    const consumer = await jsm.consumers.add(DEAD_LETTERS_STREAM, {
      filter_subject: filter,
      deliver_policy: startSeq === 1 ? DeliverPolicy.All : DeliverPolicy.StartSequence,
      ...(startSeq === 1 ? {} : { opt_start_seq: startSeq }),
      ack_policy: AckPolicy.None,
      replay_policy: ReplayPolicy.Instant,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(30_000),
    });
    try {
      if (consumer.num_pending >= limit || startSeq === 1) {
        return (await readAll(nc, consumer.name, consumer.num_pending, lastSeq, limit)).reverse();
      }
    } finally {
      await jsm.consumers.delete(DEAD_LETTERS_STREAM, consumer.name).catch(() => undefined);
    }
    span *= 4;
  }
}

/** Reads `pending` messages up to `lastSeq` and keeps the last `keep`, oldest first. */
async function readAll(nc: NatsConnection, consumerName: string, pending: number, lastSeq: number, keep: number): Promise<StoredDeadLetter[]> {
  const kept: StoredDeadLetter[] = [];
  if (pending === 0) return kept;
  const consumer = await jetstream(nc).consumers.get(DEAD_LETTERS_STREAM, consumerName);
  let remaining = pending;
  while (remaining > 0) {
    const batch = await consumer.fetch({ max_messages: Math.min(remaining, FETCH_BATCH), expires: 5_000 });
    let received = 0;
    for await (const msg of batch) {
      received++;
      remaining = msg.info.pending;
      if (msg.seq > lastSeq) {
        remaining = 0;
        break;
      }
      kept.push(decode(msg));
      if (kept.length > keep) kept.shift();
    }
    if (received === 0) throw new Error(`reading ${DEAD_LETTERS_STREAM} stalled with ${remaining} dead letters still pending`);
  }
  return kept;
}

function decode(msg: JsMsg): StoredDeadLetter {
  try {
    return { ...msg.json<DeadLetterRecord>(), sequence: msg.seq };
  } catch {
    return {
      topic: '',
      payload: Buffer.from(msg.data).toString('base64'),
      encoding: 'base64',
      truncated: false,
      payloadBytes: msg.data.length,
      reason: `dead letter ${msg.seq} on ${msg.subject} is not JSON`,
      receivedAt: new Date(msg.info.timestampNanos / 1e6).toISOString(),
      sequence: msg.seq,
    };
  }
}
