import { describe, expect, it } from 'vitest';
import { PersistentSet } from './persistentSet.js';

describe('a persistent set of strings', () => {
  it('holds every key added, and only those, through many levels of the trie', () => {
    let set = PersistentSet.empty;
    for (let i = 0; i < 20_000; i++) set = set.add(`MO_${i}`);
    expect(set.size).toBe(20_000);
    for (let i = 0; i < 20_000; i++) expect(set.has(`MO_${i}`)).toBe(true);
    for (let i = 20_000; i < 21_000; i++) expect(set.has(`MO_${i}`)).toBe(false);
    expect(new Set(set)).toEqual(new Set(Array.from({ length: 20_000 }, (_, i) => `MO_${i}`)));
  });

  it('leaves the set it was added to as it was', () => {
    const before = PersistentSet.of(Array.from({ length: 500 }, (_, i) => `A${i}`));
    const withB = before.add('B');
    const withC = before.add('C');
    expect([before.has('B'), before.has('C'), before.size]).toEqual([false, false, 500]);
    expect([withB.has('B'), withB.has('C'), withB.size]).toEqual([true, false, 501]);
    expect([withC.has('B'), withC.has('C'), withC.size]).toEqual([false, true, 501]);
  });

  it('returns the same set for a key it holds already', () => {
    const set = PersistentSet.of(['x', 'y']);
    expect(set.add('x')).toBe(set);
    expect(set.size).toBe(2);
    expect(PersistentSet.empty.has('')).toBe(false);
    expect(PersistentSet.empty.add('').has('')).toBe(true);
  });
});
