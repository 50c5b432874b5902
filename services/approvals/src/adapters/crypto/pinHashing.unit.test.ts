import { describe, expect, it } from 'vitest';
import { hashPin, PIN_HASH_COST, pinMatches } from './pinHashing.js';

describe('a PIN hash', () => {
  it('is scrypt with the cost it was made with and a salt of its own', async () => {
    const first = await hashPin('246810');
    const second = await hashPin('246810');
    expect(first).toMatchObject({ algorithm: 'scrypt', ...PIN_HASH_COST });
    expect(Buffer.from(first.salt, 'base64')).toHaveLength(16);
    expect(Buffer.from(first.hash, 'base64')).toHaveLength(32);
    expect(second.salt).not.toBe(first.salt);
    expect(second.hash).not.toBe(first.hash);
  });

  it('matches its PIN only', async () => {
    const stored = await hashPin('246810');
    expect(await pinMatches('246810', stored)).toBe(true);
    expect(await pinMatches('246811', stored)).toBe(false);
    expect(await pinMatches('', stored)).toBe(false);
  });

  it('holds neither the PIN nor anything it could be read from directly', async () => {
    const stored = await hashPin('246810');
    const text = JSON.stringify(stored);
    expect(text).not.toContain('246810');
    expect(text).not.toContain(Buffer.from('246810').toString('base64'));
    expect(text).not.toContain(Buffer.from('246810').toString('hex'));
  });

  it('is verified with the cost stored beside it, so a cheaper or dearer one still matches', async () => {
    const stored = await hashPin('135790', { N: 2 ** 10, r: 8, p: 1 });
    expect(stored.N).toBe(1024);
    expect(await pinMatches('135790', stored)).toBe(true);
    expect(await pinMatches('135791', stored)).toBe(false);
  });
});
