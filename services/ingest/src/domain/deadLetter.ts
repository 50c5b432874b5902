// What ingest keeps of a rejected MQTT message (CONTRACT §1): topic, raw payload (UTF-8 text, or
// base64 when it is not valid UTF-8, cut to 64 KiB), a reason a person can act on, receipt time.
import { MAX_TELEMETRY_PAYLOAD_BYTES, parseTelemetryTopic } from '@mes/contracts';

export interface DeadLetterRecord {
  topic: string;
  /** The payload as sent, or its first 64 KiB. */
  payload: string;
  /** `utf8`: `payload` is the text; `base64`: the bytes were not valid UTF-8 and are base64-encoded. */
  encoding: 'utf8' | 'base64';
  /** True when `payload` holds only the first 64 KiB of the message. */
  truncated: boolean;
  /** Size of the whole payload in bytes. */
  payloadBytes: number;
  reason: string;
  receivedAt: string;
  /** The plant named in the topic, when the topic has one that is a valid id. */
  plantId?: string;
}

export const MAX_DEAD_LETTER_PAYLOAD_BYTES = MAX_TELEMETRY_PAYLOAD_BYTES;

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Largest length <= `limit` that does not cut a UTF-8 sequence in two (bytes must be valid UTF-8). */
function utf8Boundary(bytes: Uint8Array, limit: number): number {
  let end = limit;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return end;
}

/** The plant id a rejected message's topic names, if it is shaped like one. */
export function plantIdOfTopic(topic: string): string | undefined {
  const parsed = parseTelemetryTopic(topic);
  if (parsed.ok) return parsed.plantId;
  const [prefix, plantId] = topic.split('/');
  return prefix === 'mes' && plantId !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(plantId) ? plantId : undefined;
}

export function deadLetterRecord(input: { topic: string; payload: Uint8Array; reason: string; receivedAt: Date }): DeadLetterRecord {
  const { topic, payload, reason } = input;
  const truncated = payload.byteLength > MAX_DEAD_LETTER_PAYLOAD_BYTES;
  const record: DeadLetterRecord = isUtf8(payload)
    ? {
        topic,
        payload: Buffer.from(payload.buffer, payload.byteOffset, truncated ? utf8Boundary(payload, MAX_DEAD_LETTER_PAYLOAD_BYTES) : payload.byteLength).toString('utf8'),
        encoding: 'utf8',
        truncated,
        payloadBytes: payload.byteLength,
        reason,
        receivedAt: input.receivedAt.toISOString(),
      }
    : {
        topic,
        payload: Buffer.from(payload.buffer, payload.byteOffset, Math.min(payload.byteLength, MAX_DEAD_LETTER_PAYLOAD_BYTES)).toString('base64'),
        encoding: 'base64',
        truncated,
        payloadBytes: payload.byteLength,
        reason,
        receivedAt: input.receivedAt.toISOString(),
      };
  const plantId = plantIdOfTopic(topic);
  if (plantId !== undefined) record.plantId = plantId;
  return record;
}
