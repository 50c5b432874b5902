// The PIN check of a `link+pin` signature: whether the approver can sign at all (enrolled, not
// locked), and whether the PIN they typed is theirs, counting wrong PINs in the approver's record
// before anything is answered, so no copy and no restart gives a guesser more than five in a row.
import { lockedUntil, afterRightPin, afterWrongPin, MAX_WRONG_PINS } from '../domain/approverPins.js';
import { pinMatches } from '../adapters/crypto/pinHashing.js';
import type { ApproverPinStore } from '../adapters/nats/approverPinStore.js';

export type SigningReadiness = { kind: 'not_enrolled' } | { kind: 'locked'; until: string } | { kind: 'ready' };

export type PinCheck =
  | { kind: 'not_enrolled' }
  /** Locked before this attempt: the PIN was not even compared. */
  | { kind: 'locked'; until: string }
  | { kind: 'right' }
  /** `lockedUntil`: the lock in force after it, set by this wrong PIN (`lockedNow`) or by one another copy counted meanwhile. */
  | { kind: 'wrong'; consecutiveWrongPins: number; remaining: number; lockedUntil?: string; lockedNow: boolean; countedAt: string };

export class ApproverSigning {
  constructor(private readonly deps: { pins: ApproverPinStore; now: () => Date }) {}

  /** Whether `email` could sign now: what the confirmation page shows before asking for the PIN. */
  async readiness(email: string): Promise<SigningReadiness> {
    const record = await this.deps.pins.read(email);
    if (record.pin === null) return { kind: 'not_enrolled' };
    const until = lockedUntil(record, this.deps.now());
    return until === undefined ? { kind: 'ready' } : { kind: 'locked', until };
  }

  /** Compares `pin` with the approver's; a wrong one is counted (and may lock) before this resolves. */
  async check(email: string, pin: string): Promise<PinCheck> {
    const record = await this.deps.pins.read(email);
    if (record.pin === null) return { kind: 'not_enrolled' };
    const until = lockedUntil(record, this.deps.now());
    if (until !== undefined) return { kind: 'locked', until };
    if (await pinMatches(pin, record.pin)) {
      await this.deps.pins.update(email, (stored) => {
        const next = afterRightPin(stored);
        return next === stored ? undefined : next;
      });
      return { kind: 'right' };
    }
    let outcome: ReturnType<typeof afterWrongPin> | undefined;
    let countedAt = this.deps.now();
    await this.deps.pins.update(email, (stored) => {
      countedAt = this.deps.now();
      outcome = afterWrongPin(stored, countedAt);
      return outcome.record;
    });
    if (outcome === undefined) throw new Error(`the wrong PIN of ${email} was not counted`);
    return {
      kind: 'wrong',
      consecutiveWrongPins: outcome.consecutiveWrongPins,
      remaining: outcome.lockedUntil === undefined ? Math.max(MAX_WRONG_PINS - outcome.record.wrongPins, 0) : 0,
      ...(outcome.lockedUntil === undefined ? {} : { lockedUntil: outcome.lockedUntil }),
      lockedNow: outcome.lockedNow,
      countedAt: countedAt.toISOString(),
    };
  }
}
