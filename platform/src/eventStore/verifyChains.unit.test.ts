import { describe, expect, it } from 'vitest';
import { chainEvents, GENESIS_HASH } from './hashChain.js';
import { verifyReadStreams } from './verifyChains.js';

const event = (stream: string, n: number) => ({
  eventId: `${stream}-${n}`,
  type: 'MaintenanceOrderOpened',
  version: 1,
  stream,
  occurredAt: '2026-11-29T20:00:00.000Z',
  correlationId: 'WF_1',
  causationId: null,
  actor: { kind: 'service' as const, id: 'maintenance' },
  data: { n },
});
let position = 0n;
const streamOf = (stream: string, count: number) => ({
  stream,
  events: chainEvents(GENESIS_HASH, Array.from({ length: count }, (_, i) => event(stream, i + 1))).map((e) => ({ ...e, position: ++position })),
});

describe('verifyReadStreams', () => {
  it('counts the events and streams of chains that hold', () => {
    expect(verifyReadStreams([streamOf('P1.order.MO_1', 3), streamOf('P1.approval.MO_1', 2), { stream: 'P1.machine.M-1', events: [] }])).toEqual({ events: 5, streams: 2 });
  });

  it('names the first event that breaks a chain, and stops there', () => {
    const order = streamOf('P1.order.MO_1', 3);
    const approval = streamOf('P1.approval.MO_1', 3);
    approval.events[1] = { ...approval.events[1]!, data: { n: 20 } };
    const result = verifyReadStreams([order, approval]);
    expect(result).toMatchObject({ events: 5, streams: 2, broken: { stream: 'P1.approval.MO_1', position: approval.events[1]!.position, eventId: 'P1.approval.MO_1-2' } });
    expect(result.broken?.reason).toContain('changed after it was written');
  });
});
