// The second component of a `link+pin` signature (CONTRACT §4, 21 CFR 11.200): the rules a new PIN
// must meet, and the record kept per approver outside the event log (the PIN's salted hash, the
// pending enrolment link, the wrong PINs in a row and the lock they lead to). Pure: the time comes
// in, the hash is computed elsewhere; the PIN itself is never part of a record.

/** PINs are digits only: typed on a phone's number pad, and never mistaken for a password. */
export const PIN_MIN_DIGITS = 6;
export const PIN_MAX_DIGITS = 12;
/** Wrong PINs in a row (across all of an approver's approvals) that lock their signing. */
export const MAX_WRONG_PINS = 5;
export const SIGNING_LOCK_MS = 15 * 60 * 1000;

export const PIN_RULES = `${PIN_MIN_DIGITS} to ${PIN_MAX_DIGITS} digits, not one digit repeated (such as 111111) and not a run of consecutive digits (such as 123456 or 987654)`;

/** A scrypt hash of a PIN with its own salt and cost, so the cost can be raised for new PINs without touching old ones. */
export interface PinHash {
  algorithm: 'scrypt';
  /** CPU and memory cost (a power of two), block size and parallelism. */
  N: number;
  r: number;
  p: number;
  /** Base64 of the random salt of this PIN. */
  salt: string;
  /** Base64 of the derived key. */
  hash: string;
}

export interface ApproverPinRecord {
  /** Lower case: one record per approver, whatever the spelling in the plant configuration. */
  email: string;
  pin: (PinHash & { setAt: string }) | null;
  /** The enrolment link sent last; it works once, until `expiresAt`, and a newer one replaces it. */
  enrolment: { nonce: string; sentAt: string; expiresAt: string } | null;
  /** Wrong PINs since the last right one or the last lock. */
  wrongPins: number;
  /** Signing is refused until this time. */
  lockedUntil: string | null;
}

export function emptyPinRecord(email: string): ApproverPinRecord {
  return { email: email.toLowerCase(), pin: null, enrolment: null, wrongPins: 0, lockedUntil: null };
}

/** Why `pin` cannot be a PIN (in words, without repeating it), or undefined when it can. */
export function newPinProblem(pin: unknown, pinAgain: unknown): string | undefined {
  if (typeof pin !== 'string' || pin === '') return 'Enter a PIN.';
  if (!/^[0-9]+$/.test(pin)) return 'A PIN has digits only.';
  if (pin.length < PIN_MIN_DIGITS || pin.length > PIN_MAX_DIGITS) return `A PIN has ${PIN_MIN_DIGITS} to ${PIN_MAX_DIGITS} digits.`;
  if (/^(\d)\1+$/.test(pin)) return 'A PIN must not be one digit repeated.';
  const steps = new Set([...pin.slice(1)].map((digit, index) => (Number(digit) - Number(pin[index]) + 10) % 10));
  if (steps.size === 1 && (steps.has(1) || steps.has(9))) return 'A PIN must not be a run of consecutive digits.';
  if (pinAgain !== pin) return 'The two PINs differ.';
  return undefined;
}

/** When the approver's signing is locked at `now`, until when; undefined when it is not. */
export function lockedUntil(record: ApproverPinRecord, now: Date): string | undefined {
  if (record.lockedUntil === null) return undefined;
  return now.getTime() < Date.parse(record.lockedUntil) ? record.lockedUntil : undefined;
}

export interface WrongPinOutcome {
  record: ApproverPinRecord;
  /** This one included. */
  consecutiveWrongPins: number;
  /** The lock in force after this wrong PIN, set by it (`lockedNow`) or by an earlier one. */
  lockedUntil?: string;
  lockedNow: boolean;
}

/** The record after a wrong PIN at `now`: counted, and the fifth in a row locks signing for 15 minutes. */
export function afterWrongPin(record: ApproverPinRecord, now: Date): WrongPinOutcome {
  const consecutiveWrongPins = record.wrongPins + 1;
  const locked = lockedUntil(record, now);
  if (locked !== undefined) {
    // Compared by a copy just before another copy's wrong PIN locked signing: it counts towards the
    // next lock, short of causing one by itself.
    return { record: { ...record, wrongPins: Math.min(consecutiveWrongPins, MAX_WRONG_PINS - 1) }, consecutiveWrongPins, lockedUntil: locked, lockedNow: false };
  }
  if (consecutiveWrongPins < MAX_WRONG_PINS) return { record: { ...record, wrongPins: consecutiveWrongPins }, consecutiveWrongPins, lockedNow: false };
  const until = new Date(now.getTime() + SIGNING_LOCK_MS).toISOString();
  return { record: { ...record, wrongPins: 0, lockedUntil: until }, consecutiveWrongPins, lockedUntil: until, lockedNow: true };
}

/** The record after a right PIN: the count starts again. */
export function afterRightPin(record: ApproverPinRecord): ApproverPinRecord {
  return record.wrongPins === 0 ? record : { ...record, wrongPins: 0 };
}

/** A new enrolment link replaces any earlier one that was not used. */
export function withEnrolment(record: ApproverPinRecord, enrolment: NonNullable<ApproverPinRecord['enrolment']>): ApproverPinRecord {
  return { ...record, enrolment: { ...enrolment } };
}

/**
 * The record with a new PIN set through the enrolment link `nonce`, or undefined when that link
 * was used already or replaced by a newer one. A lock stays: setting a PIN is no way around it.
 */
export function withNewPin(record: ApproverPinRecord, nonce: string, hash: PinHash, now: Date): ApproverPinRecord | undefined {
  if (record.enrolment === null || record.enrolment.nonce !== nonce) return undefined;
  if (!(now.getTime() < Date.parse(record.enrolment.expiresAt))) return undefined;
  return { ...record, pin: { ...hash, setAt: now.toISOString() }, enrolment: null, wrongPins: 0 };
}
