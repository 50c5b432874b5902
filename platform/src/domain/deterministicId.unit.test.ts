import { describe, expect, it } from 'vitest';
import { derivedEventId, uuidV5 } from './deterministicId.js';

const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidV5', () => {
  it('computes RFC 4122 version 5 UUIDs (the RFC and Python test vectors)', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
    expect(uuidV5('python.org', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('refuses a namespace that is not a UUID', () => {
    expect(() => uuidV5('x', 'not-a-uuid')).toThrow(/is not a UUID/);
  });
});

describe('derivedEventId', () => {
  it('is the same for the same cause and index, and UUID-shaped', () => {
    expect(derivedEventId('command/c-1', 0)).toBe(derivedEventId('command/c-1', 0));
    expect(derivedEventId('command/c-1', 0)).toMatch(UUID_V5);
  });

  it('differs between causes and between the events of one cause', () => {
    const ids = new Set([derivedEventId('command/c-1', 0), derivedEventId('command/c-1', 1), derivedEventId('command/c-2', 0), derivedEventId('email-sent/c-1', 0)]);
    expect(ids.size).toBe(4);
  });
});
