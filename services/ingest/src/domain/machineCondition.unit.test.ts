import type { PlantsConfig } from '@mes/contracts';
import { describe, expect, it } from 'vitest';
import { decideConditionChange, notAfter, observeCondition, productionEdgesByPlant, productionEdgesFor } from './machineCondition.js';

const reading = (overrides: Partial<{ machineStatus: 'Running' | 'Fault' | 'Idle'; qualityTrend: 'Stable' | 'Declining'; productionTarget: number; productionActual: number }> = {}) => ({
  machineStatus: 'Running' as const,
  qualityTrend: 'Stable' as const,
  productionTarget: 100,
  productionActual: 95,
  ...overrides,
});

describe('production edges', () => {
  it('are none when no rule has a production threshold', () => {
    expect(productionEdgesFor({ rules: [{ when: { machineStatus: 'Fault' }, action: 'maintenance', reason: 'fault' }] })).toEqual([]);
  });

  it('include every productionRatioBelow of the plant, sorted and without repeats', () => {
    const rules = [
      { when: { productionRatioBelow: 0.75 }, action: 'maintenance' as const, reason: 'low' },
      { when: { productionRatioBelow: 0.8, qualityTrend: 'Declining' as const }, action: 'maintenance' as const, reason: 'low and declining' },
      { when: { productionRatioBelow: 0.3 }, action: 'none' as const, reason: 'very low' },
    ];
    expect(productionEdgesFor({ rules })).toEqual([0.3, 0.75, 0.8]);
  });

  it('are computed per plant', () => {
    const plant = (threshold: number) => ({
      approvers: [{ email: 'a@example.com', name: 'A' }],
      approvalTimeout: 'PT30M',
      approvalTimeoutMs: 1_800_000,
      resources: [],
      rules: [{ when: { productionRatioBelow: threshold }, action: 'maintenance' as const, reason: 'low' }],
    });
    const plants: PlantsConfig = { plants: { P1: plant(0.75), P2: plant(0.6) } };
    const edges = productionEdgesByPlant(plants);
    expect(edges.get('P1')).toEqual([0.75]);
    expect(edges.get('P2')).toEqual([0.6]);
  });
});

describe('condition change detection', () => {
  const edges = [0.5, 0.75, 0.8, 0.9];

  describe('when the machine was never seen', () => {
    it('reports a change from nothing', () => {
      const decision = decideConditionChange(null, reading(), edges);
      expect(decision).toEqual({
        changed: true,
        previous: null,
        current: { condition: { machineStatus: 'Running', qualityTrend: 'Stable', productionBand: 'onTarget' }, productionBelow: null },
      });
    });
  });

  describe('when the machine is Running on target', () => {
    const previous = observeCondition(reading(), edges);

    it('reports no change for a reading older than the one that set the condition (handed over out of order)', () => {
      const times = { previousReadingAt: '2026-01-01T00:00:26.001Z', readingAt: '2026-01-01T00:00:26.000Z' };
      expect(decideConditionChange(previous, reading({ machineStatus: 'Fault' }), edges, times).changed).toBe(false);
    });

    it('reports no change for a repeat of the reading that set the condition', () => {
      const times = { previousReadingAt: '2026-01-01T00:00:26.001Z', readingAt: '2026-01-01T00:00:26.001Z' };
      expect(decideConditionChange(previous, reading({ machineStatus: 'Fault' }), edges, times).changed).toBe(false);
    });

    it('reports a change for a newer reading', () => {
      const times = { previousReadingAt: '2026-01-01T00:00:26.001Z', readingAt: '2026-01-01T01:00:26.002+01:00' };
      expect(decideConditionChange(previous, reading({ machineStatus: 'Fault' }), edges, times).changed).toBe(true);
    });

    it('reports no change for the same condition', () => {
      expect(decideConditionChange(previous, reading({ productionActual: 99 }), edges).changed).toBe(false);
    });

    it('reports a Fault', () => {
      const decision = decideConditionChange(previous, reading({ machineStatus: 'Fault' }), edges);
      expect(decision.changed).toBe(true);
      expect(decision.current.condition.machineStatus).toBe('Fault');
    });

    it('reports a change of quality trend', () => {
      expect(decideConditionChange(previous, reading({ qualityTrend: 'Declining' }), edges).changed).toBe(true);
    });

    it('reports a change of production band', () => {
      expect(decideConditionChange(previous, reading({ productionActual: 85 }), edges).changed).toBe(true);
    });
  });

  describe('when output is between a plant threshold and the band edge above it', () => {
    const previous = observeCondition(reading({ productionActual: 79 }), edges);

    it('reports crossing the plant threshold 0.75 inside contract band below80', () => {
      const decision = decideConditionChange(previous, reading({ productionActual: 70 }), edges);
      expect(decision.changed).toBe(true);
      if (!decision.changed) return;
      expect(decision.previous?.condition.productionBand).toBe('below80');
      expect(decision.current.condition.productionBand).toBe('below80');
      expect(decision.previous?.productionBelow).toBe(0.8);
      expect(decision.current.productionBelow).toBe(0.75);
    });

    it('reports no change while output stays on the same side of the threshold', () => {
      expect(decideConditionChange(previous, reading({ productionActual: 76 }), edges).changed).toBe(false);
    });

    it('would miss the crossing with the contract edges alone', () => {
      const contractEdges = [0.5, 0.8, 0.9];
      const before = observeCondition(reading({ productionActual: 79 }), contractEdges);
      expect(decideConditionChange(before, reading({ productionActual: 70 }), contractEdges).changed).toBe(false);
    });
  });

  describe('when the target is 0', () => {
    it('treats the unknown ratio like one above every threshold: no rule on output can match either', () => {
      const previous = observeCondition(reading({ productionTarget: 0, productionActual: 5 }), edges);
      expect(previous).toEqual({ condition: { machineStatus: 'Running', qualityTrend: 'Stable', productionBand: 'unknown' }, productionBelow: null });
      expect(decideConditionChange(previous, reading({ productionTarget: 0, productionActual: 0 }), edges).changed).toBe(false);
      expect(decideConditionChange(previous, reading({ productionActual: 99 }), edges).changed).toBe(false);
      expect(decideConditionChange(previous, reading({ productionActual: 10 }), edges).changed).toBe(true);
    });
  });
});

describe('notAfter', () => {
  it('orders instants as their times do, in toISOString form or any other', () => {
    const instants = [
      '2026-11-25T10:00:00.000Z', '2026-11-25T10:00:00.001Z', '2026-11-25T09:59:59.999Z', '2027-01-01T00:00:00.000Z',
      '0001-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z', '+010000-01-01T00:00:00.000Z', '-000001-12-31T23:59:59.999Z',
      '1970-01-01T00:00:00.000Z', '2026-11-25T11:00:00.000+01:00', '2026-11-25T10:00:00Z', '2026-11-25T10:00:00.000000Z',
    ];
    for (const a of instants) {
      for (const b of instants) expect(notAfter(a, b), `${a} vs ${b}`).toBe(Date.parse(a) <= Date.parse(b));
    }
  });
});
