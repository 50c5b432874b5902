// The events ingest writes: each accepted reading (to the telemetry stream) and each change of a
// machine's condition (to the machine's event-store stream). Ids come in from the caller.
import { createHash } from 'node:crypto';
import { streamName } from '@mes/contracts';
import type { EventEnvelope, MachineCondition, MachineStatusChanged, TelemetryReading } from '@mes/contracts';
import { uuidV5 } from '@mes/platform/decider';

export type ReadingEnvelope = EventEnvelope<'MachineReadingRecorded', TelemetryReading>;
export type StatusChangedEvent = Omit<EventEnvelope<'MachineStatusChanged', MachineStatusChanged['data']>, 'stream'>;

export function readingEnvelope(reading: TelemetryReading, eventId: string): ReadingEnvelope {
  return {
    eventId,
    type: 'MachineReadingRecorded',
    version: 1,
    stream: streamName(reading.plantId, 'machine', reading.machineId),
    occurredAt: reading.timestamp,
    correlationId: eventId,
    causationId: null,
    actor: { kind: 'device', id: reading.machineId },
    data: reading,
  };
}

/** Namespace of the MachineStatusChanged ids derived from reading ids (fixed: changing it breaks idempotency). */
const STATUS_CHANGE_NAMESPACE = '6f1b3c2e-8a54-4d0f-9b7e-2f6c1d9a4e38';

/** The MachineStatusChanged id for a reading: the same reading always yields the same id, so a retry is stored once. */
export function statusChangedEventId(readingEventId: string): string {
  return uuidV5(readingEventId, STATUS_CHANGE_NAMESPACE);
}

export function statusChangedEvent(
  reading: ReadingEnvelope,
  previous: MachineCondition | null,
  current: MachineCondition,
): StatusChangedEvent {
  const { plantId, machineId } = reading.data;
  return {
    eventId: statusChangedEventId(reading.eventId),
    type: 'MachineStatusChanged',
    version: 1,
    occurredAt: reading.occurredAt,
    correlationId: reading.correlationId,
    causationId: reading.eventId,
    actor: { kind: 'device', id: machineId },
    data: { plantId, machineId, previous, current, reading: reading.data },
  };
}

/** Header values may not hold control characters; such message ids are hashed (still one id per messageId). */
const HEADER_SAFE = /^[\x20-\x7e]+$/;

/**
 * `Nats-Msg-Id` of a reading: `{plantId}/{machineId}/{messageId}` so the same messageId on two
 * machines is two readings. Undefined when the device sent no messageId (the caller picks a random one).
 */
export function readingMessageId(reading: Pick<TelemetryReading, 'plantId' | 'machineId' | 'messageId'>): string | undefined {
  if (reading.messageId === undefined) return undefined;
  const id = HEADER_SAFE.test(reading.messageId) ? reading.messageId : `sha256:${createHash('sha256').update(reading.messageId, 'utf8').digest('hex')}`;
  return `${reading.plantId}/${reading.machineId}/${id}`;
}
