// The envelope every stored event travels in, whatever the store (JetStream or EventStoreDB).
import { z } from 'zod';

/** An ISO-8601 instant with an explicit offset, e.g. `2026-11-25T10:00:00.000Z`. */
export const IsoInstantSchema = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time with an offset, e.g. 2026-11-25T10:00:00Z' });

/**
 * Who caused an event: a person (approver, or someone signed in to the console), a service, a
 * device (machine), or a client of the HTTP API authenticated by a named token.
 */
export const ActorSchema = z.object({
  kind: z.enum(['person', 'service', 'device', 'client']),
  /** Email for a person, service name for a service, machine id for a device, the token's holder for a client. */
  id: z.string().min(1).max(256),
  name: z.string().max(200).optional(),
});
export type Actor = z.infer<typeof ActorSchema>;

/**
 * A W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/) as this project writes
 * it: version 00, trace id, parent span id, flags, in lower-case hex; all-zero ids are invalid.
 */
export const TRACEPARENT_PATTERN = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;
export const TraceParentSchema = z.string().regex(TRACEPARENT_PATTERN, { error: 'must be a W3C traceparent, e.g. 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
/** W3C `tracestate`: vendors' entries, carried as they came; 512 characters is what the standard asks to keep. */
export const TraceStateSchema = z.string().max(512);

/**
 * Where in a trace a message was written: events and commands carry the context of the span that
 * wrote them, so whoever handles them continues the same trace (one incident, one trace). Absent
 * when tracing is off, and in messages written before it existed.
 */
export interface TraceContextFields {
  traceparent?: string;
  tracestate?: string;
}

export const EventEnvelopeSchema = z.object({
  eventId: z.string().min(1).max(128),
  type: z.string().min(1).max(128),
  version: z.number().int().positive(),
  stream: z.string().min(1).max(256),
  occurredAt: IsoInstantSchema,
  /** The incident or workflow this event belongs to; shared by every event it causes. */
  correlationId: z.string().min(1).max(128),
  /** The event or command that directly caused this one; null for an external trigger. */
  causationId: z.string().min(1).max(128).nullable(),
  actor: ActorSchema,
  data: z.unknown(),
  /** Tamper evidence (CONTRACT §5): SHA-256 over `previousHash` and the event's canonical JSON, hex. */
  hash: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** The hash of the stream's event before this one; 64 zeros for a stream's first event. */
  previousHash: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** The span that wrote the event (W3C Trace Context); covered by the hash like the rest. */
  traceparent: TraceParentSchema.optional(),
  tracestate: TraceStateSchema.optional(),
});

/** A stored event. `Data` is the event's payload type. */
export interface EventEnvelope<Type extends string = string, Data = unknown> extends TraceContextFields {
  eventId: string;
  type: Type;
  version: number;
  stream: string;
  occurredAt: string;
  correlationId: string;
  causationId: string | null;
  actor: Actor;
  data: Data;
  /** Set by the event store on append (events of the store carry both; a telemetry reading none). */
  hash?: string;
  previousHash?: string;
}
