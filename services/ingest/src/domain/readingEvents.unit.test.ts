import type { TelemetryReading } from '@mes/contracts';
import { EventEnvelopeSchema, MachineReadingRecordedSchema, MachineStatusChangedSchema } from '@mes/contracts';
import { describe, expect, it } from 'vitest';
import { readingEnvelope, readingMessageId, statusChangedEvent, statusChangedEventId } from './readingEvents.js';

const reading: TelemetryReading = {
  plantId: 'P1',
  machineId: 'M-1',
  machineStatus: 'Fault',
  qualityTrend: 'Stable',
  productionTarget: 100,
  productionActual: 40,
  timestamp: '2026-11-25T10:00:00.000Z',
  timestampSource: 'device',
  messageId: 'm-1',
  receivedAt: '2026-11-25T10:00:01.000Z',
};

describe('reading events', () => {
  it('wrap a reading in a MachineReadingRecorded envelope of the machine stream', () => {
    const envelope = readingEnvelope(reading, '0d1f8f4e-5d3a-4a57-9f37-1c7b4f1d2e3a');
    expect(EventEnvelopeSchema.parse(envelope)).toEqual(envelope);
    expect(MachineReadingRecordedSchema.parse({ type: envelope.type, version: envelope.version, data: envelope.data }).data).toEqual(reading);
    expect(envelope).toMatchObject({ stream: 'P1.machine.M-1', correlationId: envelope.eventId, causationId: null, actor: { kind: 'device', id: 'M-1' } });
  });

  it('derive the MachineStatusChanged id from the reading id, the same every time', () => {
    const envelope = readingEnvelope(reading, '0d1f8f4e-5d3a-4a57-9f37-1c7b4f1d2e3a');
    const event = statusChangedEvent(envelope, null, { machineStatus: 'Fault', qualityTrend: 'Stable', productionBand: 'below50' });
    expect(event.eventId).toBe(statusChangedEventId(envelope.eventId));
    expect(statusChangedEvent(envelope, null, event.data.current).eventId).toBe(event.eventId);
    expect(event.eventId).not.toBe(statusChangedEventId('another-reading'));
    expect(event.causationId).toBe(envelope.eventId);
    expect(MachineStatusChangedSchema.parse({ type: event.type, version: event.version, data: event.data }).data).toEqual(event.data);
  });

  it('key dedupe by plant, machine and messageId', () => {
    expect(readingMessageId(reading)).toBe('P1/M-1/m-1');
    expect(readingMessageId({ ...reading, machineId: 'M-2' })).toBe('P1/M-2/m-1');
    expect(readingMessageId({ plantId: 'P1', machineId: 'M-1' })).toBeUndefined();
  });

  it('hash a messageId that a NATS header cannot carry', () => {
    const id = readingMessageId({ ...reading, messageId: 'line\r\nbreak' });
    expect(id).toMatch(/^P1\/M-1\/sha256:[0-9a-f]{64}$/);
    expect(readingMessageId({ ...reading, messageId: 'line\r\nbreak' })).toBe(id);
  });
});
