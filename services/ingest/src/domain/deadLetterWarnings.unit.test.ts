import { describe, expect, it } from 'vitest';
import { DeadLetterWarnings } from './deadLetterWarnings.js';

const MINUTE = 60_000;

describe('dead-letter warnings', () => {
  describe('when a plant has been quiet', () => {
    it('warns of the first rejection at once, with its reason', () => {
      const warnings = new DeadLetterWarnings();
      expect(warnings.record('P1', 'machineStatus: must be one of Running, ...', 0)).toMatchObject({ plantId: 'P1', count: 1, message: expect.stringContaining('reading dead-lettered in plant P1: machineStatus: must be one of Running, ...') });
    });
  });

  describe('when rejections go on within the minute', () => {
    it('says nothing more until the minute ends, then sums them up once per plant with the last reason', () => {
      const warnings = new DeadLetterWarnings();
      warnings.record('P1', 'first', 0);
      expect(warnings.record('P1', 'second', 1_000)).toBeUndefined();
      expect(warnings.record('P1', 'third', 2_000)).toBeUndefined();
      warnings.record('P2', 'other plant', 3_000);
      expect(warnings.due(MINUTE - 1)).toEqual([]);
      expect(warnings.due(MINUTE)).toEqual([{ plantId: 'P1', count: 2, lastReason: 'third', message: '2 readings dead-lettered in plant P1 in the last minute, last reason: third' }]);
      expect(warnings.due(MINUTE + 3_000)).toEqual([]);
    });

    it('keeps summing up while they continue, and warns at once again after a quiet minute', () => {
      const warnings = new DeadLetterWarnings();
      warnings.record('P1', 'a', 0);
      warnings.record('P1', 'b', 10_000);
      expect(warnings.due(MINUTE)).toHaveLength(1);
      expect(warnings.record('P1', 'c', MINUTE + 1)).toBeUndefined();
      expect(warnings.due(2 * MINUTE)).toEqual([expect.objectContaining({ count: 1, lastReason: 'c' })]);
      expect(warnings.due(3 * MINUTE)).toEqual([]);
      expect(warnings.record('P1', 'd', 3 * MINUTE + 5)).toMatchObject({ count: 1, lastReason: 'd' });
    });
  });
});
