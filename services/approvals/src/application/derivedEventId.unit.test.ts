import { describe, expect, it } from 'vitest';
import { derivedEventId } from './derivedEventId.js';

describe('derivedEventId', () => {
  it('is the same for the same cause and index, and UUID-shaped', () => {
    expect(derivedEventId('command/c-1', 0)).toBe(derivedEventId('command/c-1', 0));
    expect(derivedEventId('command/c-1', 0)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('differs between causes and between the events of one cause', () => {
    const ids = new Set([derivedEventId('command/c-1', 0), derivedEventId('command/c-1', 1), derivedEventId('command/c-2', 0), derivedEventId('email-sent/c-1', 0)]);
    expect(ids.size).toBe(4);
  });
});
