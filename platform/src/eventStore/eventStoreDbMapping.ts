// The pure half of the EventStoreDB adapter: how an envelope becomes an ESDB event and back, how our
// event ids become the UUIDs ESDB requires, and how ESDB's {commit, prepare} log position becomes
// one comparable GlobalPosition. No I/O here, so all of it is unit-tested without a server.
import { uuidV5 } from '../domain/deterministicId.js';
import { parseStreamName, type Actor } from '@mes/contracts';
import { jsonEvent, type EventData, type JSONEventType, type Position } from '@eventstore/db-client';
import type { GlobalPosition, NewEvent, RecordedEvent } from './eventStore.js';

/**
 * Namespace of the name-based (v5) UUIDs derived from event ids. Never change it: a retried append
 * must map its event ids to the same ESDB ids as the first attempt, across deploys, or ESDB's
 * idempotence check would not recognise the retry.
 */
export const EVENT_ID_NAMESPACE = '0a735769-05f0-4b9e-82b5-8ca50c3b416b';

/** A UUID in canonical form: lower-case hex, 8-4-4-4-12. */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * The ESDB event id of one of our events. ESDB wants a UUID; our event ids are any 1-128 characters.
 * A canonical (lower-case) UUID is kept as is, so ids made with `randomUUID()` stay readable in ESDB
 * tooling; anything else (including an upper-case UUID, which ESDB would not tell apart from its
 * lower-case twin) becomes a v5 UUID of the id. Same event id, same ESDB id: that is what makes a
 * retried append idempotent.
 */
export function esdbEventId(eventId: string): string {
  if (CANONICAL_UUID.test(eventId) && eventId !== NIL_UUID) return eventId;
  return uuidV5(eventId, EVENT_ID_NAMESPACE);
}

const U64 = 1n << 64n;

/**
 * ESDB's log position as one bigint: `(commit << 64) | prepare`. Both halves are unsigned 64-bit, so
 * the bigint order is ESDB's $all order (commit first, then prepare) and each event's value is unique.
 */
export function encodePosition(position: Position): GlobalPosition {
  const { commit, prepare } = position;
  if (commit < 0n || commit >= U64 || prepare < 0n || prepare >= U64) {
    throw new RangeError(`EventStoreDB position {commit: ${commit}, prepare: ${prepare}} is outside the unsigned 64-bit range`);
  }
  return (commit << 64n) | prepare;
}

/** The server sends -1 (as an unsigned 64-bit value) where it does not know a position. */
export function isKnownPosition(position: Position): boolean {
  return position.commit !== U64 - 1n && position.prepare !== U64 - 1n;
}

export function decodePosition(position: GlobalPosition): Position {
  if (position < 0n || position >= U64 * U64) throw new RangeError(`${position} is not a position this EventStoreDB adapter produced`);
  return { commit: position >> 64n, prepare: position & (U64 - 1n) };
}

/**
 * What the adapter stores as the ESDB event's JSON data: the whole envelope except `stream` and
 * `type`, which are the ESDB stream name and event type. The payload may be any JSON value (or
 * absent), which is why it is wrapped rather than stored as the event data itself.
 */
export type EsdbEventBody = {
  eventId: string;
  version: number;
  occurredAt: string;
  correlationId: string;
  causationId: string | null;
  actor: Actor;
  data: unknown;
  hash?: string;
  previousHash?: string;
  traceparent?: string;
  tracestate?: string;
};

/** ESDB's metadata convention, written for ESDB tooling (e.g. `$by_correlation_id`); never read back. */
export type EsdbEventMetadata = {
  $correlationId: string;
  $causationId?: string;
};

export type EsdbEvent = EventData<JSONEventType<string, EsdbEventBody, EsdbEventMetadata>>;

/** An event as appended: chained by the adapter (hashChain.ts) before it becomes an ESDB event. */
export type ChainedNewEvent = NewEvent & { hash?: string; previousHash?: string };

export function toEsdbEvent(event: ChainedNewEvent): EsdbEvent {
  const body: EsdbEventBody = {
    eventId: event.eventId,
    version: event.version,
    occurredAt: event.occurredAt,
    correlationId: event.correlationId,
    causationId: event.causationId,
    actor: event.actor,
    data: event.data,
    ...(event.hash === undefined ? {} : { hash: event.hash }),
    ...(event.previousHash === undefined ? {} : { previousHash: event.previousHash }),
    ...(event.traceparent === undefined ? {} : { traceparent: event.traceparent }),
    ...(event.tracestate === undefined ? {} : { tracestate: event.tracestate }),
  };
  const metadata: EsdbEventMetadata = { $correlationId: event.correlationId };
  if (event.causationId !== null) metadata.$causationId = event.causationId;
  return jsonEvent<JSONEventType<string, EsdbEventBody, EsdbEventMetadata>>({ id: esdbEventId(event.eventId), type: event.type, data: body, metadata });
}

/** The fields of an ESDB recorded event the adapter reads (a subset of the client's RecordedEvent). */
export interface EsdbRecord {
  streamId: string;
  id: string;
  type: string;
  revision: bigint;
  isJson: boolean;
  data: unknown;
  /** Missing on servers older than 22.6 for stream reads. */
  position?: Position;
}

/** ESDB's own events: system streams (`$...`, including metadata streams `$$...`) and system types (`$...`). */
export function isSystemRecord(record: Pick<EsdbRecord, 'streamId' | 'type'>): boolean {
  return record.streamId.startsWith('$') || record.type.startsWith('$');
}

/**
 * Whether a record from $all is one of this store's events: not a system event, in a stream named
 * `{plantId}.{category}.{id}`, and in the plant asked for. Other writers' streams in the same
 * database are not part of this store's log and are passed over.
 */
export function isStoreRecord(record: Pick<EsdbRecord, 'streamId' | 'type'>, plantId?: string): boolean {
  if (isSystemRecord(record)) return false;
  if (plantId !== undefined && !record.streamId.startsWith(`${plantId}.`)) return false;
  try {
    parseStreamName(record.streamId);
    return true;
  } catch {
    return false;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(record: EsdbRecord, reason: string): Error {
  return new Error(`EventStoreDB event ${record.id} (${record.streamId}@${record.revision}, type ${record.type}) is not an event this store wrote: ${reason}`);
}

/** An ESDB recorded event back to the envelope that was appended, with its position. */
export function fromEsdbRecord(record: EsdbRecord): RecordedEvent {
  if (!record.isJson) throw malformed(record, 'its data is not JSON');
  const body = record.data;
  if (!isObject(body)) throw malformed(record, 'its data is not a JSON object');
  const { eventId, version, occurredAt, correlationId, causationId, actor, data, hash, previousHash, traceparent, tracestate } = body;
  if (typeof eventId !== 'string' || eventId.length === 0) throw malformed(record, 'eventId is missing');
  if (typeof version !== 'number') throw malformed(record, 'version is missing');
  if (typeof occurredAt !== 'string') throw malformed(record, 'occurredAt is missing');
  if (typeof correlationId !== 'string') throw malformed(record, 'correlationId is missing');
  if (causationId !== null && typeof causationId !== 'string') throw malformed(record, 'causationId is neither a string nor null');
  if (!isObject(actor) || typeof actor.kind !== 'string' || typeof actor.id !== 'string') throw malformed(record, 'actor is missing');
  if (!record.position || !isKnownPosition(record.position)) {
    throw malformed(record, 'EventStoreDB returned no log position for it (servers before 22.6 omit it on stream reads; use 22.6 or later)');
  }
  return {
    eventId,
    type: record.type,
    version,
    stream: record.streamId,
    occurredAt,
    correlationId,
    causationId,
    actor: actor as Actor,
    data,
    ...(typeof hash === 'string' ? { hash } : {}),
    ...(typeof previousHash === 'string' ? { previousHash } : {}),
    ...(typeof traceparent === 'string' ? { traceparent } : {}),
    ...(typeof tracestate === 'string' ? { tracestate } : {}),
    position: encodePosition(record.position),
  };
}
