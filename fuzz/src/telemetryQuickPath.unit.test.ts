// The quick path of telemetry validation (hand-checked fields for a plainly well-formed payload)
// must decide exactly as TelemetryPayloadSchema does: same readings accepted, same reasons for the
// rest. Checked on the fuzz corpus and on payloads generated around every rule's edges.
import { MAX_TELEMETRY_PAYLOAD_BYTES, parseTelemetryTopic, TelemetryPayloadSchema, validateTelemetry, validateTelemetryBySchema, wellFormedTelemetryFields } from '@mes/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzMessages } from './telemetryCases.js';

const RECEIVED_AT = new Date('2026-11-25T10:00:05.000Z');
const TOPIC = 'mes/P1/M-07/telemetry';
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A value for one field: mostly ones the rule accepts, then ones at or past its edges, then any JSON. */
function field(valid: fc.Arbitrary<unknown>, edges: unknown[]): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: valid, weight: 17 }, { arbitrary: fc.constantFrom(...edges), weight: 2 }, { arbitrary: fc.jsonValue({ maxDepth: 1 }), weight: 1 });
}

const timestamps = field(
  fc.oneof(
    fc.integer({ min: 0, max: 8.64e15 }),
    fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  ),
  [
    0, -0, -1, 1.5, 8.64e15, 8.64e15 + 1, Number.MAX_SAFE_INTEGER, 1e21, '1790000000000', '',
    '2026-11-25T10:00:00Z', '2026-11-25T11:00:00+01:00', '2026-11-25T11:00:00-23:59', '2026-11-25T11:00:00+24:00',
    '2026-11-25T10:00:00', '2026-11-25 10:00:00Z', '2026-11-25T10:00Z', '2026-11-25T10:00:00.123456789Z', '2026-11-25T10:00:00.Z',
    '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-13-01T00:00:00Z', '2026-11-25T24:00:00Z',
    '2026-11-25T23:59:60Z', '+002026-11-25T10:00:00Z', '2026-11-25t10:00:00z', '2026-11-25T10:00:00+0100', ' 2026-11-25T10:00:00Z',
    // The normal form (what toISOString writes), checked by hand: its edges.
    '2023-02-29T00:00:00.000Z', '2024-02-29T23:59:59.999Z', '2000-02-29T00:00:00.000Z', '2100-02-29T00:00:00.000Z', '0000-02-29T00:00:00.000Z',
    '2026-04-31T00:00:00.000Z', '2026-12-31T00:00:00.000Z', '2026-00-10T00:00:00.000Z', '2026-11-00T00:00:00.000Z', '2026-13-01T00:00:00.000Z',
    '2026-11-25T24:00:00.000Z', '2026-11-25T23:60:00.000Z', '2026-11-25T23:59:60.000Z', '2026-11-25T10:00:00.00Z', '2026-11-25T10:00:00.0000Z',
  ],
);

const payloads = fc.record(
  {
    machineStatus: field(fc.constantFrom('Running', 'Idle', 'Fault', 'Maintenance', 'Offline'), [undefined, 'running', 'RUNNING', '', 'Stopped', 'toString', 'constructor']),
    qualityTrend: field(fc.constantFrom('Improving', 'Stable', 'Declining'), [undefined, 'stable', 'Worse', '']),
    productionTarget: field(fc.double({ min: 0, max: 1e12, noNaN: true }), [undefined, 0, -0, -1e-300, -1, 1e308, '100', null, true]),
    productionActual: field(fc.double({ min: 0, max: 1e12, noNaN: true }), [undefined, 0, -0, -0.5, 5e-324, '95', null, []]),
    timestamp: timestamps,
    messageId: field(fc.string({ minLength: 1, maxLength: 128, unit: 'binary' }), ['', 'x'.repeat(128), 'x'.repeat(129), '\u{1F600}'.repeat(64), '\u{1F600}'.repeat(65), 7]),
    plantId: field(fc.constant('P1'), ['P2', '', 1, null]),
    machineId: field(fc.constant('M-07'), ['M-08', '', false]),
    extra: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: ['machineStatus', 'qualityTrend', 'productionTarget', 'productionActual'] },
);

/** Payload text: JSON of the record, sometimes with a number written beyond a double's range (parses to Infinity). */
const payloadTexts = fc.tuple(payloads, fc.constantFrom(undefined, 'productionTarget', 'productionActual', 'timestamp')).map(([payload, huge]) => {
  const text = JSON.stringify(payload);
  return huge === undefined ? text : `${text.slice(0, -1)}${text.length > 2 ? ',' : ''}"${huge}":1e999}`;
});

describe('the quick path of telemetry validation', () => {
  it('decides every fuzz corpus message as the schema does, with the same reasons', () => {
    for (const seed of [7, 11]) {
      for (const message of fuzzMessages(3000, seed)) {
        const result = validateTelemetry(message.topic, message.payload, RECEIVED_AT);
        expect(result, message.label).toEqual(validateTelemetryBySchema(message.topic, message.payload, RECEIVED_AT));
        // Bytes are decoded as a strict TextDecoder does (a BOM dropped, invalid UTF-8 refused).
        if (!parseTelemetryTopic(message.topic).ok || message.payload.byteLength > MAX_TELEMETRY_PAYLOAD_BYTES) continue;
        let text: string;
        try {
          text = strictUtf8.decode(message.payload);
        } catch {
          expect(result, message.label).toEqual({ ok: false, reason: 'payload is not valid UTF-8' });
          continue;
        }
        expect(result, message.label).toEqual(validateTelemetry(message.topic, text, RECEIVED_AT));
      }
    }
  });

  it('accepts only what the schema accepts, with the same fields, and leaves the rest to it', () => {
    let quick = 0;
    fc.assert(
      fc.property(payloadTexts, (text) => {
        const json = JSON.parse(text) as Record<string, unknown>;
        const fields = wellFormedTelemetryFields(json);
        const parsed = TelemetryPayloadSchema.safeParse(json);
        if (fields !== undefined) {
          quick++;
          expect(parsed.success).toBe(true);
          expect(fields).toEqual(parsed.data);
        }
        const result = validateTelemetry(TOPIC, text, RECEIVED_AT);
        expect(result).toEqual(validateTelemetryBySchema(TOPIC, text, RECEIVED_AT));
        // The reading's time is the device's, in toISOString's form.
        if (result.ok && result.reading.timestampSource === 'device') expect(result.reading.timestamp).toBe(new Date(json.timestamp as string | number).toISOString());
      }),
      { numRuns: 20_000, seed: 42 },
    );
    // The generator reaches both sides: plenty of payloads go the quick way, plenty do not.
    expect(quick).toBeGreaterThan(1_000);
    expect(quick).toBeLessThan(19_000);
  });

  it('goes the quick way for the common well-formed payload', () => {
    const payload = { machineStatus: 'Running', qualityTrend: 'Stable', productionTarget: 100, productionActual: 95, timestamp: '2026-11-25T10:00:00.000Z', messageId: 'm-1' };
    expect(wellFormedTelemetryFields(payload)).toEqual(payload);
    expect(wellFormedTelemetryFields({ ...payload, timestamp: 1_790_000_000_000, plantId: 'P1', machineId: 'M-07', note: 'extra keys are ignored' })).toEqual({ ...payload, timestamp: 1_790_000_000_000, plantId: 'P1', machineId: 'M-07' });
  });
});
