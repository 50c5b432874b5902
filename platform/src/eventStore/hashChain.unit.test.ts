import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, chainEvents, chainHash, checkLink, GENESIS_HASH, newCursor } from './hashChain.js';

const base = {
  eventId: 'e-1',
  type: 'MaintenanceOrderOpened',
  version: 1,
  stream: 'P1.order.MO_1',
  occurredAt: '2026-11-29T20:00:00.000Z',
  correlationId: 'WF_1',
  causationId: null,
  actor: { kind: 'service' as const, id: 'maintenance' },
  data: { orderId: 'MO_1', reason: 'Machine fault' },
};
const event = (n: number) => ({ ...base, eventId: `e-${n}`, data: { ...base.data, n } });
const recorded = (chained: ReturnType<typeof chainEvents<typeof base>>) => chained.map((e, i) => ({ ...e, position: BigInt(i + 1) }));

describe('canonicalJson', () => {
  it('writes the same bytes whatever the order of keys, at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: null }], c: 'x' } })).toBe('{"a":{"c":"x","d":[1,{"y":null,"z":0}]},"b":1}');
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
  });

  it('writes what chains were hashed with before it was made faster (the first implementation, kept here as the reference)', () => {
    const reference = (value: unknown): string => {
      if (value === null || typeof value !== 'object') return JSON.stringify(value);
      if (Array.isArray(value)) return `[${value.map((item) => reference(item === undefined ? null : item)).join(',')}]`;
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, member]) => member !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([key, member]) => `${JSON.stringify(key)}:${reference(member)}`).join(',')}}`;
    };
    const values: unknown[] = [
      base,
      { Z: 1, a: 2, _: 3, 'ä': 4, '\u00e9': 5, '10': 6, '9': 7, 'a"b': 8, '': 9 },
      [1, undefined, 'x', null, { b: [undefined, { d: undefined, c: true }], a: -0.5 }],
      { only: undefined },
      { nested: { deeper: { deepest: ['🙂', 'line\nbreak', 1e21, 0] } } },
      [],
      {},
      'text',
      42,
      null,
    ];
    for (const value of values) expect(canonicalJson(value)).toBe(reference(value));
  });
});

describe('the hash chain', () => {
  it('starts at the genesis hash and links each event to the one before', () => {
    const chained = chainEvents(GENESIS_HASH, [event(1), event(2)]);
    expect(chained[0]!.previousHash).toBe(GENESIS_HASH);
    expect(chained[1]!.previousHash).toBe(chained[0]!.hash);
    expect(chained[0]!.hash).toBe(chainHash(GENESIS_HASH, event(1)));
    expect(chained[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not depend on the order of keys in the data', () => {
    const reordered = { ...event(1), data: { n: 1, reason: 'Machine fault', orderId: 'MO_1' } };
    expect(chainHash(GENESIS_HASH, reordered)).toBe(chainHash(GENESIS_HASH, event(1)));
  });

  it('accepts an untouched stream', () => {
    const cursor = newCursor('P1.order.MO_1');
    for (const e of recorded(chainEvents(GENESIS_HASH, [event(1), event(2), event(3)]))) expect(checkLink(cursor, e)).toBeUndefined();
    expect(cursor.events).toBe(3);
  });

  const stream = recorded(chainEvents(GENESIS_HASH, [event(1), event(2), event(3), event(4)]));
  type Link = Parameters<typeof checkLink>[1];
  const firstBreak = (events: readonly Link[]) => {
    const cursor = newCursor('P1.order.MO_1');
    for (const e of events) {
      const broken = checkLink(cursor, e);
      if (broken !== undefined) return broken;
    }
    return undefined;
  };

  it('finds an event whose data was changed', () => {
    const changed = stream.map((e, i) => (i === 1 ? { ...e, data: { ...e.data, reason: 'nothing wrong' } } : e));
    expect(firstBreak(changed)).toMatchObject({ eventId: 'e-2', position: 2n, reason: expect.stringContaining('changed after it was written') });
  });

  it('finds an event that was removed', () => {
    expect(firstBreak([stream[0]!, stream[2]!, stream[3]!])).toMatchObject({ eventId: 'e-3', reason: expect.stringContaining('removed, reordered or inserted') });
  });

  it('finds events that were reordered', () => {
    expect(firstBreak([stream[0]!, stream[2]!, stream[1]!, stream[3]!])).toMatchObject({ eventId: 'e-3' });
  });

  it('finds an event written without a hash, or with a made-up one', () => {
    const { hash: _h, previousHash: _p, ...bare } = { ...event(5), ...stream[3]!, eventId: 'forged' };
    expect(firstBreak([...stream, { ...bare, position: 5n }])).toMatchObject({ eventId: 'forged', reason: expect.stringContaining('carries no hash') });
    const madeUp = { ...event(5), eventId: 'forged-2', previousHash: stream[3]!.hash, hash: 'f'.repeat(64), position: 5n };
    expect(firstBreak([...stream, madeUp])).toMatchObject({ eventId: 'forged-2', reason: expect.stringContaining('does not match its hash') });
  });

  it('finds an event whose trace context was changed, added or removed', () => {
    const traced = recorded(chainEvents(GENESIS_HASH, [{ ...event(1), traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'plant=p1' }]));
    expect(firstBreak(traced)).toBeUndefined();
    expect(firstBreak([{ ...traced[0]!, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01' }])).toMatchObject({ reason: expect.stringContaining('does not match its hash') });
    expect(firstBreak([{ ...traced[0]!, tracestate: undefined }])).toMatchObject({ reason: expect.stringContaining('does not match its hash') });
    expect(firstBreak([{ ...stream[0]!, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }])).toMatchObject({ reason: expect.stringContaining('does not match its hash') });
  });

  it('hashes an event without a trace context as it did before events had one', () => {
    // The hash of `base` as chained before the trace context existed: stored chains still verify.
    const before = createHash('sha256').update(GENESIS_HASH).update(canonicalJson(base)).digest('hex');
    expect(chainHash(GENESIS_HASH, base)).toBe(before);
    expect(chainHash(GENESIS_HASH, { ...base, traceparent: undefined, tracestate: undefined })).toBe(before);
  });

  it('finds a stream that does not start at the beginning', () => {
    expect(firstBreak(stream.slice(1))).toMatchObject({ eventId: 'e-2', reason: expect.stringContaining('the start of the stream') });
  });
});
