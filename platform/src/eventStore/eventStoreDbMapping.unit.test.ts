import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NewEvent } from './eventStore.js';
import {
  EVENT_ID_NAMESPACE,
  decodePosition,
  encodePosition,
  esdbEventId,
  fromEsdbRecord,
  isKnownPosition,
  isStoreRecord,
  isSystemRecord,
  toEsdbEvent,
  type EsdbRecord,
} from './eventStoreDbMapping.js';
import { uuidV5 } from '../domain/deterministicId.js';

const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MAX_U64 = (1n << 64n) - 1n;

function newEvent(overrides: Partial<NewEvent> = {}): NewEvent {
  return {
    eventId: 'evt-1',
    type: 'OrderOpened',
    version: 1,
    occurredAt: '2026-11-25T10:00:00.000Z',
    correlationId: 'corr-1',
    causationId: null,
    actor: { kind: 'service', id: 'maintenance' },
    data: { orderId: 'MO_1' },
    ...overrides,
  };
}

/** What the ESDB client hands back for an appended event: the JSON data after a trip through the server. */
function recordOf(event: NewEvent, stream: string, position = { commit: 4_096n, prepare: 4_096n }, revision = 0n): EsdbRecord {
  const proposed = toEsdbEvent(event);
  return {
    streamId: stream,
    id: proposed.id,
    type: proposed.type,
    revision,
    isJson: proposed.contentType === 'application/json',
    data: JSON.parse(JSON.stringify(proposed.data)) as unknown,
    position,
  };
}

describe('event id -> ESDB UUID', () => {
  it('maps an id that is not a UUID to a deterministic v5 UUID', () => {
    const id = esdbEventId('cmd-42/OrderOpened#0');
    expect(id).toMatch(UUID_V5);
    expect(esdbEventId('cmd-42/OrderOpened#0')).toBe(id);
    expect(id).toBe(uuidV5('cmd-42/OrderOpened#0', EVENT_ID_NAMESPACE));
    expect(esdbEventId('cmd-42/OrderOpened#1')).not.toBe(id);
  });

  it('keeps a canonical lower-case UUID as it is', () => {
    const id = randomUUID();
    expect(esdbEventId(id)).toBe(id);
  });

  it('derives an id for an upper-case UUID and the nil UUID rather than aliasing them', () => {
    const id = randomUUID();
    expect(esdbEventId(id.toUpperCase())).toMatch(UUID_V5);
    expect(esdbEventId(id.toUpperCase())).not.toBe(id);
    expect(esdbEventId('00000000-0000-0000-0000-000000000000')).toMatch(UUID_V5);
  });

  it('handles the longest and non-ASCII event ids', () => {
    expect(esdbEventId('x'.repeat(128))).toMatch(UUID_V5);
    expect(esdbEventId('Störung-Ø')).not.toBe(esdbEventId('Storung-O'));
  });
});

describe('ESDB position <-> GlobalPosition', () => {
  it('round-trips commit and prepare, including the 64-bit extremes', () => {
    for (const position of [
      { commit: 0n, prepare: 0n },
      { commit: 1_234n, prepare: 1_200n },
      { commit: MAX_U64 - 1n, prepare: MAX_U64 - 1n },
      { commit: 5n, prepare: MAX_U64 },
    ]) {
      expect(decodePosition(encodePosition(position))).toEqual(position);
    }
  });

  it('orders by commit position, then prepare position, as $all does', () => {
    const positions = [
      { commit: 100n, prepare: 100n },
      { commit: 200n, prepare: 150n },
      { commit: 200n, prepare: 180n },
      { commit: 201n, prepare: 0n },
      { commit: 1n << 40n, prepare: 1n },
    ].map(encodePosition);
    for (let i = 1; i < positions.length; i++) expect(positions[i]! > positions[i - 1]!).toBe(true);
    expect(new Set(positions).size).toBe(positions.length);
  });

  it('refuses values that are not ESDB positions', () => {
    expect(() => encodePosition({ commit: -1n, prepare: 0n })).toThrow(RangeError);
    expect(() => encodePosition({ commit: 0n, prepare: 1n << 64n })).toThrow(RangeError);
    expect(() => decodePosition(-1n)).toThrow(RangeError);
    expect(() => decodePosition(1n << 128n)).toThrow(RangeError);
  });

  it('recognises the server\'s "no position" (-1 sent as unsigned)', () => {
    expect(isKnownPosition({ commit: MAX_U64, prepare: MAX_U64 })).toBe(false);
    expect(isKnownPosition({ commit: 10n, prepare: 10n })).toBe(true);
  });
});

describe('envelope <-> ESDB event', () => {
  it('writes a JSON event with the ESDB id, the type, the envelope as data and ESDB metadata', () => {
    const proposed = toEsdbEvent(newEvent({ causationId: 'cmd-1' }));
    expect(proposed).toMatchObject({
      id: esdbEventId('evt-1'),
      type: 'OrderOpened',
      contentType: 'application/json',
      data: { eventId: 'evt-1', version: 1, correlationId: 'corr-1', causationId: 'cmd-1', data: { orderId: 'MO_1' } },
      metadata: { $correlationId: 'corr-1', $causationId: 'cmd-1' },
    });
    expect(toEsdbEvent(newEvent()).metadata).toEqual({ $correlationId: 'corr-1' });
  });

  it('reads back the envelope that was appended, with stream, type and position', () => {
    for (const data of [{ orderId: 'MO_1', nested: { list: [1, 'two', null] } }, 42, 'text', null, [1, 2], true, undefined]) {
      const event = newEvent({ data, actor: { kind: 'person', id: 'alice@plant1.example', name: 'Alice' } });
      const position = { commit: 9_000n, prepare: 8_900n };
      const recorded = fromEsdbRecord(recordOf(event, 'P1.order.MO_1', position));
      expect(recorded).toEqual({ ...event, stream: 'P1.order.MO_1', position: encodePosition(position) });
    }
  });

  it('keeps the hashes and the trace context an event was appended with', () => {
    const event = { ...newEvent(), hash: 'a'.repeat(64), previousHash: '0'.repeat(64), traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'plant=p1' };
    const position = { commit: 9_000n, prepare: 8_900n };
    expect(fromEsdbRecord(recordOf(event, 'P1.order.MO_1', position))).toEqual({ ...event, stream: 'P1.order.MO_1', position: encodePosition(position) });
  });

  it('refuses an event this store did not write', () => {
    const good = recordOf(newEvent(), 'P1.order.MO_1');
    expect(() => fromEsdbRecord({ ...good, isJson: false, data: new Uint8Array([1]) })).toThrow(/not JSON/);
    expect(() => fromEsdbRecord({ ...good, data: { orderId: 'MO_1' } })).toThrow(/eventId is missing/);
    expect(() => fromEsdbRecord({ ...good, data: [1, 2] })).toThrow(/not a JSON object/);
    expect(() => fromEsdbRecord({ ...good, position: undefined })).toThrow(/no log position/);
    expect(() => fromEsdbRecord({ ...good, position: { commit: MAX_U64, prepare: MAX_U64 } })).toThrow(/no log position/);
  });
});

describe('which $all records belong to the store', () => {
  it('passes over ESDB system streams and event types', () => {
    expect(isSystemRecord({ streamId: '$stats-127.0.0.1:2113', type: '$statsCollected' })).toBe(true);
    expect(isSystemRecord({ streamId: '$$P1.order.MO_1', type: '$metadata' })).toBe(true);
    expect(isSystemRecord({ streamId: 'P1.order.MO_1', type: '$>' })).toBe(true);
    expect(isSystemRecord({ streamId: 'P1.order.MO_1', type: 'OrderOpened' })).toBe(false);
  });

  it('keeps only streams named {plantId}.{category}.{id}, of the plant asked for', () => {
    const record = (streamId: string) => ({ streamId, type: 'OrderOpened' });
    expect(isStoreRecord(record('P1.order.MO_1'))).toBe(true);
    expect(isStoreRecord(record('P1.order.MO_1'), 'P1')).toBe(true);
    expect(isStoreRecord(record('P10.order.MO_1'), 'P1')).toBe(false);
    expect(isStoreRecord(record('P2.order.MO_1'), 'P1')).toBe(false);
    expect(isStoreRecord(record('orders-MO_1'))).toBe(false);
    expect(isStoreRecord(record('P1.unknown.MO_1'))).toBe(false);
    expect(isStoreRecord({ streamId: '$et-OrderOpened', type: '$>' }, undefined)).toBe(false);
  });
});
