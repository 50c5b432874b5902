import { describe, expect, it } from 'vitest';
import { MAX_DEAD_LETTER_PAYLOAD_BYTES, deadLetterRecord, plantIdOfTopic } from './deadLetter.js';

const receivedAt = new Date('2026-11-25T10:00:00.000Z');
const bytes = (text: string) => new TextEncoder().encode(text);

describe('dead-letter records', () => {
  it('keep a UTF-8 payload as text, with topic, reason, time and plant', () => {
    expect(deadLetterRecord({ topic: 'mes/P1/M-1/telemetry', payload: bytes('{bad ü'), reason: 'payload is not valid JSON', receivedAt })).toEqual({
      topic: 'mes/P1/M-1/telemetry',
      payload: '{bad ü',
      encoding: 'utf8',
      truncated: false,
      payloadBytes: 7,
      reason: 'payload is not valid JSON',
      receivedAt: '2026-11-25T10:00:00.000Z',
      plantId: 'P1',
    });
  });

  it('base64-encode a payload that is not valid UTF-8', () => {
    const record = deadLetterRecord({ topic: 'mes/P1/M-1/telemetry', payload: new Uint8Array([0xff, 0xfe, 0x41]), reason: 'payload is not valid UTF-8', receivedAt });
    expect(record.encoding).toBe('base64');
    expect(Buffer.from(record.payload, 'base64')).toEqual(Buffer.from([0xff, 0xfe, 0x41]));
  });

  it('cut a long text payload to 64 KiB without splitting a character', () => {
    const text = `${'a'.repeat(MAX_DEAD_LETTER_PAYLOAD_BYTES - 1)}é${'b'.repeat(100)}`;
    const record = deadLetterRecord({ topic: 'mes/P1/M-1/telemetry', payload: bytes(text), reason: 'too big', receivedAt });
    expect(record.truncated).toBe(true);
    expect(record.payloadBytes).toBe(MAX_DEAD_LETTER_PAYLOAD_BYTES + 101);
    expect(record.payload).toBe('a'.repeat(MAX_DEAD_LETTER_PAYLOAD_BYTES - 1));
    expect(Buffer.byteLength(record.payload)).toBeLessThanOrEqual(MAX_DEAD_LETTER_PAYLOAD_BYTES);
  });

  it('cut a long binary payload to 64 KiB before encoding it', () => {
    const payload = new Uint8Array(MAX_DEAD_LETTER_PAYLOAD_BYTES * 2).fill(0xff);
    const record = deadLetterRecord({ topic: 'mes/P1/M-1/telemetry', payload, reason: 'too big', receivedAt });
    expect(record).toMatchObject({ encoding: 'base64', truncated: true, payloadBytes: MAX_DEAD_LETTER_PAYLOAD_BYTES * 2 });
    expect(Buffer.from(record.payload, 'base64').length).toBe(MAX_DEAD_LETTER_PAYLOAD_BYTES);
  });

  it('name the plant of a topic whose machine id is invalid, and no plant for a foreign topic', () => {
    expect(plantIdOfTopic('mes/P1/bad.id/telemetry')).toBe('P1');
    expect(plantIdOfTopic('other/P1/M-1/telemetry')).toBeUndefined();
    expect(deadLetterRecord({ topic: 'mes/+bad/M/telemetry', payload: bytes('{}'), reason: 'bad topic', receivedAt }).plantId).toBeUndefined();
  });
});
