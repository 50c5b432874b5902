import { describe, expect, it } from 'vitest';
import { formatLocal, formatUtc, relativeTime } from './time.js';

describe('console times', () => {
  it('show a UTC record in the viewer\'s zone, naming the zone', () => {
    expect(formatLocal('2026-11-25T10:00:00Z', 'Asia/Tokyo')).toMatch(/(19:00:00|07:00:00 PM).*(GMT\+9|JST)/);
    expect(formatLocal('2026-11-25T10:00:00Z', 'UTC')).toMatch(/10:00:00( AM)?.*UTC/);
  });

  it('state signature times in UTC with the zone named', () => {
    expect(formatUtc('2026-11-25T11:00:00.123+01:00')).toBe('2026-11-25 10:00:00 UTC');
  });

  it('say how long ago or how soon', () => {
    const now = Date.parse('2026-11-25T10:00:00Z');
    expect(relativeTime('2026-11-25T09:55:00Z', now)).toBe('5 min ago');
    expect(relativeTime('2026-11-25T12:05:00Z', now)).toBe('in 2 h 5 min');
    expect(relativeTime('2026-11-27T12:05:00Z', now)).toBe('in 2 d 2 h');
    expect(relativeTime('2026-11-25T10:00:10Z', now)).toBe('in under a minute');
    expect(relativeTime('not a time', now)).toBe('');
  });
});
