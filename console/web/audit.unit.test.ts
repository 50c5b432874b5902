import { describe, expect, it } from 'vitest';
import { chainWords, changeWords } from './audit.js';

describe('the order page\'s audit words', () => {
  it('name a verified chain with what was checked', () => {
    expect(chainWords({ ok: true, verifiedEvents: 12, streams: 4 })).toEqual({ state: 'verified', headline: 'Hash chain verified (12 events in 4 streams)' });
    expect(chainWords({ ok: true, verifiedEvents: 1, streams: 1 }).headline).toBe('Hash chain verified (1 event in 1 stream)');
  });

  it('name the stream and position where a chain breaks, and why', () => {
    const words = chainWords({ ok: false, verifiedEvents: 7, streams: 2, firstBreak: { stream: 'P1.order.MO_1', position: '42', eventId: 'e-9', reason: 'event e-9 (MaintenanceOrderCancelled) carries no hash: it was not written through the event store' } });
    expect(words).toEqual({
      state: 'broken',
      headline: 'Chain broken at stream P1.order.MO_1 position 42',
      detail: 'event e-9 (MaintenanceOrderCancelled) carries no hash: it was not written through the event store. 7 events verified before it.',
    });
  });

  it('say when a server did not check the chain', () => {
    expect(chainWords(undefined).state).toBe('unchecked');
  });

  it('show a change as old → new, (new) for something new', () => {
    expect(changeWords({ subject: 'order MO_1', from: null, to: 'PendingApproval' })).toBe('(new) → PendingApproval');
    expect(changeWords({ subject: 'order MO_1', from: 'PendingApproval', to: 'Approved' })).toBe('PendingApproval → Approved');
  });
});
