import { describe, expect, it } from 'vitest';
import { consumerPlant } from './jetStreamGauges.js';
import { createMetrics, secondsBetween } from './metrics.js';

describe('metrics', () => {
  it('read scraped gauges from every source at each scrape, leaving out a source that fails', async () => {
    const metrics = createMetrics();
    let waiting = 2;
    metrics.approvalsWaiting.readFrom(async () => [{ labels: { plant: 'P1' }, value: waiting }]);
    metrics.approvalsWaiting.readFrom(async () => {
      throw new Error('SQL down');
    });
    expect(await metrics.registry.getSingleMetricAsString('mes_approvals_waiting')).toContain('mes_approvals_waiting{plant="P1"} 2');
    waiting = 0;
    expect(await metrics.registry.getSingleMetricAsString('mes_approvals_waiting')).toContain('mes_approvals_waiting{plant="P1"} 0');
  });

  it('keep separate registries per process, so two runtimes in one test do not collide', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.readingsAccepted.inc({ plant: 'P1' });
    expect(await a.registry.getSingleMetricAsString('mes_readings_accepted_total')).toContain('mes_readings_accepted_total{plant="P1"} 1');
    expect(await b.registry.getSingleMetricAsString('mes_readings_accepted_total')).not.toContain('plant="P1"');
  });

  it('name the plant of a consumer from its filter', () => {
    expect(consumerPlant('es.P1.>')).toBe('P1');
    expect(consumerPlant('cmd.P2.maintenance.>')).toBe('P2');
    expect(consumerPlant('es.*.>')).toBe('all');
    expect(consumerPlant(undefined)).toBe('all');
  });

  it('measure spans between ISO times, and nothing for a negative or unreadable one', () => {
    expect(secondsBetween('2026-01-01T00:00:00Z', '2026-01-01T00:01:30.5Z')).toBe(90.5);
    expect(secondsBetween('2026-01-01T00:01:00Z', '2026-01-01T00:00:00Z')).toBeUndefined();
    expect(secondsBetween('yesterday', '2026-01-01T00:00:00Z')).toBeUndefined();
  });
});
