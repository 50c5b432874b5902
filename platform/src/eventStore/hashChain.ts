// Tamper evidence (CONTRACT §5): every event carries `hash` and `previousHash`, SHA-256 over the
// previous event's hash (per stream) and the event's canonical JSON. The event-store port sets both
// on append, so both adapters produce the same chain and no service can forget it; verification
// reads the log alone and names the first place a chain breaks: an event changed, removed,
// reordered, or written by anything but the port. Pure.
import { createHash } from 'node:crypto';
import type { EventEnvelope } from '@mes/contracts';

/** The previous hash of a stream's first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** What a chain link covers: the whole envelope except the hashes themselves. */
export type ChainedContent = Omit<EventEnvelope, 'hash' | 'previousHash'>;

/**
 * JSON with object keys sorted at every level and no whitespace: the same bytes for the same
 * content whatever order its keys were written in. Values are JSON values (no undefined members).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  // Loops and one string, not entries/filter/map/join: every append and every verification runs this.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      const item: unknown = value[i];
      out += canonicalJson(item === undefined ? null : item);
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  // The default sort compares UTF-16 code units, as `<` does.
  const keys = Object.keys(record).sort();
  let out = '{';
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(key)}:${canonicalJson(member)}`;
  }
  return `${out}}`;
}

/**
 * The content an event's hash covers: its envelope without `hash`, `previousHash` and store
 * positions. The trace context is covered when present; an event without one hashes as before it
 * existed (canonicalJson leaves out undefined members).
 */
export function chainedContent(event: ChainedContent & { hash?: unknown; previousHash?: unknown; position?: unknown }): ChainedContent {
  const { eventId, type, version, stream, occurredAt, correlationId, causationId, actor, data, traceparent, tracestate } = event;
  return { eventId, type, version, stream, occurredAt, correlationId, causationId, actor, data, traceparent, tracestate };
}

export function chainHash(previousHash: string, event: ChainedContent): string {
  return createHash('sha256').update(previousHash, 'utf8').update(canonicalJson(chainedContent(event)), 'utf8').digest('hex');
}

/** Chains new events after `previousHash`: each gets its previous hash and its own. */
export function chainEvents<E extends ChainedContent>(previousHash: string, events: readonly E[]): (E & { hash: string; previousHash: string })[] {
  let previous = previousHash;
  return events.map((event) => {
    const hash = chainHash(previous, event);
    const chained = { ...event, previousHash: previous, hash };
    previous = hash;
    return chained;
  });
}

export interface ChainBreak {
  stream: string;
  /** The position in the log of the first event that does not fit, as the store reports it. */
  position: bigint;
  eventId: string;
  /** What differs, in words. */
  reason: string;
}

/** The state of a stream's chain as events are checked in order. */
export interface ChainCursor {
  stream: string;
  lastHash: string;
  events: number;
}

/**
 * Checks one event against the chain so far of its stream; returns the break, or undefined and
 * moves the cursor on. Events must come in stream order.
 */
export function checkLink(cursor: ChainCursor, event: ChainedContent & { hash?: unknown; previousHash?: unknown; position: bigint }): ChainBreak | undefined {
  const at = { stream: cursor.stream, position: event.position, eventId: event.eventId };
  if (typeof event.hash !== 'string' || typeof event.previousHash !== 'string') {
    return { ...at, reason: `event ${event.eventId} (${event.type}) carries no hash: it was not written through the event store` };
  }
  if (event.previousHash !== cursor.lastHash) {
    const expected = cursor.events === 0 ? `the start of the stream (${GENESIS_HASH.slice(0, 12)}…)` : `the hash of the event before it (${cursor.lastHash.slice(0, 12)}…)`;
    return { ...at, reason: `event ${event.eventId} (${event.type}) follows ${event.previousHash.slice(0, 12)}…, not ${expected}: an event before it was removed, reordered or inserted` };
  }
  const computed = chainHash(event.previousHash, event);
  if (computed !== event.hash) {
    return { ...at, reason: `event ${event.eventId} (${event.type}) does not match its hash (stored ${event.hash.slice(0, 12)}…, its content gives ${computed.slice(0, 12)}…): it was changed after it was written` };
  }
  cursor.lastHash = event.hash;
  cursor.events++;
  return undefined;
}

export function newCursor(stream: string): ChainCursor {
  return { stream, lastHash: GENESIS_HASH, events: 0 };
}
