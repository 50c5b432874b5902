import { describe, expect, it } from 'vitest';
import {
  MAX_TELEMETRY_PAYLOAD_BYTES,
  machineConditionOf,
  parseTelemetryTopic,
  productionBand,
  productionRatio,
  validateTelemetry,
} from './telemetry.js';
import type { TelemetryReading } from './telemetry.js';

const TOPIC = 'mes/P1/M-07/telemetry';
const RECEIVED_AT = new Date('2026-11-25T10:00:05.000Z');
const MINIMAL = { machineStatus: 'Running', qualityTrend: 'Stable', productionTarget: 100, productionActual: 95 };

function accept(payload: unknown, topic = TOPIC): TelemetryReading {
  const result = validateTelemetry(topic, JSON.stringify(payload), RECEIVED_AT);
  if (!result.ok) throw new Error(`expected the payload to be accepted, got: ${result.reason}`);
  return result.reading;
}

function refuse(payload: Uint8Array | string | object, topic = TOPIC): string {
  const raw = typeof payload === 'string' || payload instanceof Uint8Array ? payload : JSON.stringify(payload);
  const result = validateTelemetry(topic, raw, RECEIVED_AT);
  if (result.ok) throw new Error(`expected the payload to be refused, got ${JSON.stringify(result.reading)}`);
  return result.reason;
}

describe('validateTelemetry', () => {
  describe('when the payload is valid', () => {
    it('accepts the required fields and uses the receipt time', () => {
      expect(accept(MINIMAL)).toEqual({
        plantId: 'P1',
        machineId: 'M-07',
        machineStatus: 'Running',
        qualityTrend: 'Stable',
        productionTarget: 100,
        productionActual: 95,
        timestamp: '2026-11-25T10:00:05.000Z',
        timestampSource: 'receipt',
        receivedAt: '2026-11-25T10:00:05.000Z',
      });
    });

    it('accepts every field and normalises an ISO timestamp with offset to UTC', () => {
      const reading = accept({
        ...MINIMAL,
        machineStatus: 'Fault',
        qualityTrend: 'Declining',
        timestamp: '2026-11-25T11:00:00+01:00',
        messageId: 'msg-1',
        plantId: 'P1',
        machineId: 'M-07',
      });
      expect(reading).toMatchObject({
        machineStatus: 'Fault',
        qualityTrend: 'Declining',
        timestamp: '2026-11-25T10:00:00.000Z',
        timestampSource: 'device',
        messageId: 'msg-1',
        receivedAt: '2026-11-25T10:00:05.000Z',
      });
    });

    it('accepts a Z timestamp with fractions', () => {
      expect(accept({ ...MINIMAL, timestamp: '2026-11-25T09:59:59.123Z' }).timestamp).toBe('2026-11-25T09:59:59.123Z');
    });

    it('converts epoch milliseconds to ISO UTC', () => {
      const reading = accept({ ...MINIMAL, timestamp: Date.parse('2026-11-25T09:00:00.250Z') });
      expect(reading.timestamp).toBe('2026-11-25T09:00:00.250Z');
      expect(reading.timestampSource).toBe('device');
    });

    it('accepts epoch 0', () => {
      expect(accept({ ...MINIMAL, timestamp: 0 }).timestamp).toBe('1970-01-01T00:00:00.000Z');
    });

    it('accepts zero target and actual', () => {
      expect(accept({ ...MINIMAL, productionTarget: 0, productionActual: 0 })).toMatchObject({ productionTarget: 0, productionActual: 0 });
    });

    it('ignores unknown fields', () => {
      expect(accept({ ...MINIMAL, temperature: 81.5 })).not.toHaveProperty('temperature');
    });

    it('accepts a messageId of 128 characters', () => {
      expect(accept({ ...MINIMAL, messageId: 'm'.repeat(128) }).messageId).toHaveLength(128);
    });

    it('accepts bytes as well as a string', () => {
      const result = validateTelemetry(TOPIC, new TextEncoder().encode(JSON.stringify(MINIMAL)), RECEIVED_AT);
      expect(result.ok).toBe(true);
    });

    it('accepts payload ids that equal the topic ids', () => {
      expect(accept({ ...MINIMAL, plantId: 'P1', machineId: 'M-07' })).toMatchObject({ plantId: 'P1', machineId: 'M-07' });
    });
  });

  describe('when an enum field is wrong', () => {
    it('refuses an unknown machineStatus, naming the allowed values', () => {
      expect(refuse({ ...MINIMAL, machineStatus: 'Broken' })).toBe(
        'machineStatus: must be one of Running, Idle, Fault, Maintenance, Offline (got "Broken")',
      );
    });

    it('refuses an unknown qualityTrend, naming the allowed values', () => {
      expect(refuse({ ...MINIMAL, qualityTrend: 'Worse' })).toBe('qualityTrend: must be one of Improving, Stable, Declining (got "Worse")');
    });

    it('refuses a machineStatus in the wrong case', () => {
      expect(refuse({ ...MINIMAL, machineStatus: 'running' })).toContain('(got "running")');
    });

    it('says a missing required field is required', () => {
      const { machineStatus: _dropped, ...rest } = MINIMAL;
      expect(refuse(rest)).toBe('machineStatus: is required');
    });
  });

  describe('when a production figure is wrong', () => {
    it('refuses a negative productionActual', () => {
      expect(refuse({ ...MINIMAL, productionActual: -3 })).toBe('productionActual: must be a number >= 0 (got -3)');
    });

    it('refuses a negative productionTarget', () => {
      expect(refuse({ ...MINIMAL, productionTarget: -0.5 })).toBe('productionTarget: must be a number >= 0 (got -0.5)');
    });

    it('refuses a number sent as a string', () => {
      expect(refuse({ ...MINIMAL, productionTarget: '100' })).toBe('productionTarget: must be a number >= 0 (got "100")');
    });

    it.each(['NaN', 'Infinity', '-Infinity'])('refuses the string %s', (text) => {
      expect(refuse({ ...MINIMAL, productionActual: text })).toBe(`productionActual: must be a number >= 0 (got "${text}")`);
    });

    it('refuses null', () => {
      expect(refuse({ ...MINIMAL, productionActual: null })).toBe('productionActual: must be a number >= 0 (got null)');
    });

    it('refuses a number too large for a double (JSON parses it to Infinity)', () => {
      expect(refuse(`{"machineStatus":"Running","qualityTrend":"Stable","productionTarget":1e400,"productionActual":1}`)).toMatch(/^productionTarget: must be a number >= 0/);
    });
  });

  describe('when the timestamp is wrong', () => {
    it('refuses an ISO timestamp without offset', () => {
      const reason = refuse({ ...MINIMAL, timestamp: '2026-11-25T10:00:00' });
      expect(reason).toMatch(/^timestamp: must be an ISO-8601 date-time with an offset/);
      expect(reason).toContain('(got "2026-11-25T10:00:00")');
    });

    it.each(['yesterday', '2026-11-25', '2026-02-30T10:00:00Z', '2026-11-25 10:00:00Z', '1732528800000'])('refuses %j', (timestamp) => {
      expect(refuse({ ...MINIMAL, timestamp })).toContain(`timestamp: must be an ISO-8601 date-time with an offset`);
    });

    it.each([-1, 1.5, 9e15])('refuses epoch milliseconds %d', (timestamp) => {
      expect(refuse({ ...MINIMAL, timestamp })).toContain(`or epoch milliseconds (a whole number >= 0) (got ${String(timestamp)})`);
    });

    it('refuses a boolean', () => {
      expect(refuse({ ...MINIMAL, timestamp: true })).toContain('timestamp: must be an ISO-8601 date-time');
    });
  });

  describe('when the messageId is wrong', () => {
    it('refuses an empty messageId', () => {
      expect(refuse({ ...MINIMAL, messageId: '' })).toBe('messageId: must not be empty (1 to 128 characters) (got "")');
    });

    it('refuses 129 characters, saying the limit', () => {
      const reason = refuse({ ...MINIMAL, messageId: 'm'.repeat(129) });
      expect(reason).toContain('messageId: must be at most 128 characters');
      expect(reason).toContain('(129 characters)');
    });

    it('refuses a number', () => {
      expect(refuse({ ...MINIMAL, messageId: 42 })).toContain('messageId: must be a string of 1 to 128 characters (got 42)');
    });
  });

  describe('when the payload names another plant or machine', () => {
    it('refuses a different plantId', () => {
      expect(refuse({ ...MINIMAL, plantId: 'P2' }, 'mes/P1/M-07/telemetry')).toBe('plantId "P2" in the payload does not match "P1" in the topic');
    });

    it('refuses a different machineId', () => {
      expect(refuse({ ...MINIMAL, machineId: 'M-08' })).toBe('machineId "M-08" in the payload does not match "M-07" in the topic');
    });

    it('lists both mismatches', () => {
      const reason = refuse({ ...MINIMAL, plantId: 'p1', machineId: 'm-07' });
      expect(reason).toContain('plantId "p1"');
      expect(reason).toContain('; machineId "m-07"');
    });

    it('refuses a non-string plantId', () => {
      expect(refuse({ ...MINIMAL, plantId: 1 })).toBe('plantId: must be a string (got 1)');
    });
  });

  describe('when the payload is not a JSON object', () => {
    it('refuses an oversized payload before decoding it', () => {
      const oversized = `{ not json ${'x'.repeat(MAX_TELEMETRY_PAYLOAD_BYTES)}`;
      expect(refuse(oversized)).toBe(`payload is ${String(oversized.length)} bytes; the limit is 65536 bytes (64 KiB)`);
    });

    it('refuses oversized bytes that are not even UTF-8, by their size', () => {
      const bytes = new Uint8Array(70_000).fill(0xff);
      expect(refuse(bytes)).toBe('payload is 70000 bytes; the limit is 65536 bytes (64 KiB)');
    });

    it('counts UTF-8 bytes, not characters', () => {
      const padding = 'é'.repeat(MAX_TELEMETRY_PAYLOAD_BYTES / 2);
      expect(refuse(JSON.stringify({ ...MINIMAL, note: padding }))).toMatch(/^payload is \d+ bytes; the limit is 65536 bytes/);
    });

    it('accepts a payload of exactly 64 KiB', () => {
      const base = JSON.stringify({ ...MINIMAL, note: '' });
      const payload = JSON.stringify({ ...MINIMAL, note: 'n'.repeat(MAX_TELEMETRY_PAYLOAD_BYTES - base.length) });
      expect(payload).toHaveLength(MAX_TELEMETRY_PAYLOAD_BYTES);
      expect(validateTelemetry(TOPIC, payload, RECEIVED_AT).ok).toBe(true);
    });

    it('refuses bytes that are not UTF-8', () => {
      const bytes = Uint8Array.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]);
      expect(refuse(bytes)).toBe('payload is not valid UTF-8');
    });

    it('refuses a string with an unpaired surrogate', () => {
      expect(refuse('{"machineStatus":"\uD800"}')).toContain('payload is not valid UTF-8');
    });

    it('refuses text that is not JSON', () => {
      expect(refuse('machineStatus=Running')).toMatch(/^payload is not valid JSON: /);
    });

    it('refuses an empty payload', () => {
      expect(refuse('')).toMatch(/^payload is not valid JSON: /);
    });

    it.each([
      ['[]', 'an array'],
      ['null', 'null'],
      ['42', 'a number'],
      ['"Running"', 'a string'],
      ['true', 'a boolean'],
    ])('refuses %s', (json, kind) => {
      expect(refuse(json)).toBe(`payload must be a JSON object (got ${kind})`);
    });
  });

  describe('when several fields are wrong', () => {
    it('lists every problem, separated by "; "', () => {
      const reason = refuse({ machineStatus: 'Broken', qualityTrend: 'Stable', productionTarget: -1, timestamp: 'now' });
      expect(reason.split('; ')).toEqual([
        'machineStatus: must be one of Running, Idle, Fault, Maintenance, Offline (got "Broken")',
        'productionTarget: must be a number >= 0 (got -1)',
        'productionActual: is required',
        expect.stringMatching(/^timestamp: must be an ISO-8601 date-time with an offset .* \(got "now"\)$/),
      ]);
    });
  });

  describe('when the topic is wrong', () => {
    it('refuses before looking at the payload', () => {
      expect(refuse('not json', 'x/y')).toBe('topic "x/y" is not mes/{plantId}/{machineId}/telemetry');
    });
  });
});

describe('parseTelemetryTopic', () => {
  it('reads the plant and machine', () => {
    expect(parseTelemetryTopic('mes/P_1/Press-07/telemetry')).toEqual({ ok: true, plantId: 'P_1', machineId: 'Press-07' });
  });

  it('accepts ids of 64 characters', () => {
    const id = 'a'.repeat(64);
    expect(parseTelemetryTopic(`mes/${id}/${id}/telemetry`)).toMatchObject({ ok: true });
  });

  it.each([
    ['wrong prefix', 'plant/P1/M1/telemetry'],
    ['wrong suffix', 'mes/P1/M1/status'],
    ['extra level', 'mes/P1/line2/M1/telemetry'],
    ['missing level', 'mes/P1/telemetry'],
    ['trailing slash', 'mes/P1/M1/telemetry/'],
    ['empty id', 'mes//M1/telemetry'],
  ])('refuses a topic with a %s', (_case, topic) => {
    const result = parseTelemetryTopic(topic);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/is not mes\/\{plantId\}\/\{machineId\}\/telemetry|must be 1 to 64 characters/);
  });

  it('names the shape the topic should have', () => {
    expect(parseTelemetryTopic('plant/P1/M1/telemetry')).toEqual({ ok: false, reason: 'topic "plant/P1/M1/telemetry" is not mes/{plantId}/{machineId}/telemetry' });
  });

  it('refuses a plant id with a dot', () => {
    expect(parseTelemetryTopic('mes/P.1/M1/telemetry')).toEqual({
      ok: false,
      reason: 'topic "mes/P.1/M1/telemetry": plantId "P.1" must be 1 to 64 characters of A-Z a-z 0-9 _ -',
    });
  });

  it('refuses a machine id with a space', () => {
    const result = parseTelemetryTopic('mes/P1/M 1/telemetry');
    expect(result).toMatchObject({ ok: false, reason: expect.stringContaining('machineId "M 1" must be 1 to 64 characters') });
  });

  it('refuses an id of 65 characters', () => {
    const result = parseTelemetryTopic(`mes/P1/${'m'.repeat(65)}/telemetry`);
    expect(result).toMatchObject({ ok: false, reason: expect.stringContaining('must be 1 to 64 characters') });
  });

  it('refuses MQTT wildcards in ids', () => {
    expect(parseTelemetryTopic('mes/+/M1/telemetry').ok).toBe(false);
  });
});

describe('production bands', () => {
  it('has no ratio when the target is 0', () => {
    expect(productionRatio({ productionTarget: 0, productionActual: 5 })).toBeNull();
    expect(productionBand(null)).toBe('unknown');
  });

  it.each([
    [0, 'below50'],
    [0.49, 'below50'],
    [0.5, 'below80'],
    [0.79, 'below80'],
    [0.8, 'below90'],
    [0.9, 'onTarget'],
    [1.4, 'onTarget'],
  ])('puts ratio %d in band %s', (ratio, band) => {
    expect(productionBand(ratio)).toBe(band);
  });

  it('keeps the condition when the ratio jitters inside a band', () => {
    const reading = { machineStatus: 'Running', qualityTrend: 'Stable', productionTarget: 100 } as const;
    expect(machineConditionOf({ ...reading, productionActual: 71 })).toEqual(machineConditionOf({ ...reading, productionActual: 72 }));
    expect(machineConditionOf({ ...reading, productionActual: 95 })).toEqual({ machineStatus: 'Running', qualityTrend: 'Stable', productionBand: 'onTarget' });
  });
});
