import { parseDomainEvent } from '@mes/contracts';
import { describe, expect, it } from 'vitest';
import { SYNTHETIC_OUTCOMES, syntheticIncident, syntheticResources } from './syntheticHistory.js';

describe('the synthetic history', () => {
  it('is made of events and readings this build reads, in every outcome', () => {
    const incidents = SYNTHETIC_OUTCOMES.map((_, index) => syntheticIncident('P1', index));
    const appends = [...syntheticResources('P1', 'S'), ...incidents.flatMap((incident) => incident.appends)];
    for (const { event } of appends) expect(() => parseDomainEvent(event.type, event.version, event.data), event.type).not.toThrow();
    for (const reading of incidents.flatMap((incident) => incident.readings)) expect(() => parseDomainEvent(reading.type, reading.version, reading.data)).not.toThrow();
    expect(new Set(appends.map((a) => a.event.eventId)).size).toBe(appends.length);
    expect(new Set(appends.map((a) => a.event.type)).size).toBeGreaterThanOrEqual(18);
  });
});
