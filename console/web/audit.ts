// An order's history in words for the order page: what changed, and whether its hash chains hold.
import type { AuditEntry, ChainCheck } from './types.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export interface ChainWords {
  state: 'verified' | 'broken' | 'unchecked';
  /** The badge: `Hash chain verified (12 events in 4 streams)`, `Chain broken at stream P1.order.MO_1 position 42`. */
  headline: string;
  /** Below it: why it broke, and how much held before. */
  detail?: string;
}

export function chainWords(chain: ChainCheck | undefined): ChainWords {
  if (chain === undefined) return { state: 'unchecked', headline: 'Hash chain not checked for this answer' };
  const events = plural(chain.verifiedEvents, 'event');
  if (chain.ok || chain.firstBreak === undefined) return { state: 'verified', headline: `Hash chain verified (${events} in ${plural(chain.streams, 'stream')})` };
  const { stream, position, reason } = chain.firstBreak;
  return { state: 'broken', headline: `Chain broken at stream ${stream} position ${position}`, detail: `${reason}. ${events} verified before it.` };
}

/** `PendingApproval → Approved`; `(new) → PendingApproval` for something new. */
export function changeWords(change: NonNullable<AuditEntry['change']>): string {
  return `${change.from ?? '(new)'} → ${change.to}`;
}
