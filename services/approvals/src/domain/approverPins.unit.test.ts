import { describe, expect, it } from 'vitest';
import {
  afterRightPin,
  afterWrongPin,
  emptyPinRecord,
  lockedUntil,
  MAX_WRONG_PINS,
  newPinProblem,
  SIGNING_LOCK_MS,
  withEnrolment,
  withNewPin,
  type ApproverPinRecord,
  type PinHash,
} from './approverPins.js';

const T0 = new Date('2026-11-29T21:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const HASH: PinHash = { algorithm: 'scrypt', N: 32768, r: 8, p: 1, salt: 'c2FsdA==', hash: 'aGFzaA==' };
const enrolled: ApproverPinRecord = { ...emptyPinRecord('Alice@Plant1.example'), pin: { ...HASH, setAt: T0.toISOString() } };

describe('a new PIN', () => {
  it.each(['246810', '135790', '000123', '482915736201', '9081726'])('may be %s', (pin) => {
    expect(newPinProblem(pin, pin)).toBeUndefined();
  });

  it.each([
    [undefined, 'Enter a PIN.'],
    ['', 'Enter a PIN.'],
    ['12a456', 'A PIN has digits only.'],
    [' 246810', 'A PIN has digits only.'],
    ['２４６８１０', 'A PIN has digits only.'],
    ['24681', 'A PIN has 6 to 12 digits.'],
    ['2468101214161', 'A PIN has 6 to 12 digits.'],
    ['777777', 'A PIN must not be one digit repeated.'],
    ['123456', 'A PIN must not be a run of consecutive digits.'],
    ['987654', 'A PIN must not be a run of consecutive digits.'],
    ['7890123', 'A PIN must not be a run of consecutive digits.'],
  ])('is refused as %j', (pin, problem) => {
    expect(newPinProblem(pin, pin)).toBe(problem);
  });

  it('must be typed the same twice', () => {
    expect(newPinProblem('246810', '246811')).toBe('The two PINs differ.');
    expect(newPinProblem('246810', undefined)).toBe('The two PINs differ.');
  });

  it('is never repeated in what is wrong with it', () => {
    for (const pin of ['24681', '12a456', '777777', '123456']) expect(newPinProblem(pin, pin)).not.toContain(pin);
  });
});

describe('the approver\'s PIN record', () => {
  it('is kept under the email in lower case', () => {
    expect(emptyPinRecord('Alice@Plant1.example')).toEqual({ email: 'alice@plant1.example', pin: null, enrolment: null, wrongPins: 0, lockedUntil: null });
  });

  describe('when wrong PINs are entered', () => {
    it('counts them in a row, and the fifth locks signing for 15 minutes', () => {
      let record = enrolled;
      for (let n = 1; n < MAX_WRONG_PINS; n++) {
        const outcome = afterWrongPin(record, at(n));
        expect(outcome).toEqual({ record: { ...record, wrongPins: n }, consecutiveWrongPins: n, lockedNow: false });
        record = outcome.record;
        expect(lockedUntil(record, at(n))).toBeUndefined();
      }
      const fifth = afterWrongPin(record, at(MAX_WRONG_PINS));
      const until = at(MAX_WRONG_PINS + SIGNING_LOCK_MS).toISOString();
      expect(fifth).toEqual({ record: { ...record, wrongPins: 0, lockedUntil: until }, consecutiveWrongPins: 5, lockedUntil: until, lockedNow: true });
      expect(lockedUntil(fifth.record, at(MAX_WRONG_PINS + 1))).toBe(until);
      expect(lockedUntil(fifth.record, at(MAX_WRONG_PINS + SIGNING_LOCK_MS - 1))).toBe(until);
      expect(lockedUntil(fifth.record, at(MAX_WRONG_PINS + SIGNING_LOCK_MS))).toBeUndefined();
    });

    it('starts counting again after a right PIN', () => {
      const twice = afterWrongPin(afterWrongPin(enrolled, T0).record, T0).record;
      expect(twice.wrongPins).toBe(2);
      expect(afterRightPin(twice).wrongPins).toBe(0);
      expect(afterRightPin(enrolled)).toBe(enrolled);
    });

    it('starts counting again once a lock is over', () => {
      const locked: ApproverPinRecord = { ...enrolled, lockedUntil: T0.toISOString() };
      expect(afterWrongPin(locked, at(1))).toEqual({ record: { ...locked, wrongPins: 1 }, consecutiveWrongPins: 1, lockedNow: false });
    });

    it('never locks again from a wrong PIN counted while locked, and says the lock is in force', () => {
      const locked: ApproverPinRecord = { ...enrolled, wrongPins: 4, lockedUntil: at(SIGNING_LOCK_MS).toISOString() };
      const outcome = afterWrongPin(locked, at(1));
      expect(outcome).toMatchObject({ lockedUntil: locked.lockedUntil, lockedNow: false });
      expect(outcome.record).toEqual({ ...locked, wrongPins: MAX_WRONG_PINS - 1 });
    });
  });

  describe('when a PIN is set through an enrolment link', () => {
    const pending = withEnrolment(emptyPinRecord('alice@plant1.example'), { nonce: 'nonce-0123456789abcdef', sentAt: T0.toISOString(), expiresAt: at(60_000).toISOString() });

    it('keeps the hash, forgets the link and the wrong PINs', () => {
      expect(withNewPin({ ...pending, wrongPins: 3 }, 'nonce-0123456789abcdef', HASH, at(1))).toEqual({
        ...pending,
        pin: { ...HASH, setAt: at(1).toISOString() },
        enrolment: null,
        wrongPins: 0,
      });
    });

    it('works once: the same link again sets nothing', () => {
      const set = withNewPin(pending, 'nonce-0123456789abcdef', HASH, at(1))!;
      expect(withNewPin(set, 'nonce-0123456789abcdef', HASH, at(2))).toBeUndefined();
    });

    it('refuses a link replaced by a newer one, or expired', () => {
      expect(withNewPin(pending, 'an-older-nonce-0123456', HASH, at(1))).toBeUndefined();
      expect(withNewPin(pending, 'nonce-0123456789abcdef', HASH, at(60_000))).toBeUndefined();
    });

    it('leaves a lock in place', () => {
      const locked = { ...pending, lockedUntil: at(SIGNING_LOCK_MS).toISOString() };
      expect(withNewPin(locked, 'nonce-0123456789abcdef', HASH, at(1))?.lockedUntil).toBe(locked.lockedUntil);
    });
  });
});
