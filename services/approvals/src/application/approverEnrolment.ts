// Enrolling an approver for `link+pin` signatures (CONTRACT §4): `mes approvers enrol <email>` asks
// a copy of this service to email the approver a one-time link; opening it (GET) shows a form and
// changes nothing; submitting it (POST) sets the PIN, stored only as a scrypt hash in the
// approver's PIN record. The link works once: the record forgets its nonce when the PIN is set.
import { EmailSchema, plantSignatureMethod, type Person, type PlantsConfig } from '@mes/contracts';
import type { Logger } from '@mes/platform';
import { randomBytes } from 'node:crypto';
import { hashPin } from '../adapters/crypto/pinHashing.js';
import { renderEnrolmentEmail } from '../adapters/mail/enrolmentEmail.js';
import type { MailSender } from '../adapters/mail/mailSender.js';
import type { ApproverPinStore } from '../adapters/nats/approverPinStore.js';
import { lockedUntil, newPinProblem, withEnrolment, withNewPin } from '../domain/approverPins.js';
import { enrolmentLinkUrl, verifyEnrolmentLink } from '../domain/enrolmentLinks.js';

/** How long an enrolment link works, from sending, unless told. */
export const DEFAULT_ENROLMENT_LINK_TTL_MS = 24 * 60 * 60 * 1000;

export interface ApproverEnrolmentDeps {
  pins: ApproverPinStore;
  mail: MailSender;
  /** The whole plant configuration: any copy enrols an approver of any plant. */
  plants: PlantsConfig;
  now: () => Date;
  logger: Logger;
  mailFrom: string;
  publicUrl: string;
  approvalSecret: string;
  linkTtlMs: number;
}

export type EnrolmentRefusalCode = 'NOT_AN_EMAIL' | 'NOT_AN_APPROVER';

export class EnrolmentRefusedError extends Error {
  override readonly name = 'EnrolmentRefusedError';
  constructor(readonly code: EnrolmentRefusalCode, message: string) {
    super(message);
  }
}

export interface ApproverOfPlants {
  approver: Person;
  /** Every plant that lists the approver. */
  plants: string[];
  /** Those of them that sign with link and PIN. */
  signingPlants: string[];
}

export interface EnrolmentSent extends ApproverOfPlants {
  expiresAt: string;
}

export type EnrolmentOutcome =
  | { kind: 'not_valid' }
  | { kind: 'link_expired' }
  /** The link's approver is no longer in the plant configuration. */
  | { kind: 'not_an_approver'; email: string }
  /** A PIN was set with this link already, or a newer link replaced it. */
  | { kind: 'used'; approver: Person }
  | { kind: 'form'; approver: ApproverOfPlants; expiresAt: string }
  | { kind: 'pin_not_valid'; approver: ApproverOfPlants; expiresAt: string; problem: string }
  | { kind: 'pin_set'; approver: ApproverOfPlants; lockedUntil: string | undefined };

/** The approver `email` (any letter case) as the plant configuration names them, or undefined. */
export function approverOfPlants(plants: PlantsConfig, email: string): ApproverOfPlants | undefined {
  const wanted = email.toLowerCase();
  let approver: Person | undefined;
  const listing: string[] = [];
  const signing: string[] = [];
  for (const [plantId, plant] of Object.entries(plants.plants)) {
    const found = plant.approvers.find((candidate) => candidate.email.toLowerCase() === wanted);
    if (found === undefined) continue;
    approver ??= { email: found.email, name: found.name };
    listing.push(plantId);
    if (plantSignatureMethod(plant) === 'link+pin') signing.push(plantId);
  }
  return approver === undefined ? undefined : { approver, plants: listing, signingPlants: signing };
}

export class ApproverEnrolment {
  constructor(private readonly deps: ApproverEnrolmentDeps) {}

  /** Emails `email` a new enrolment link (replacing any earlier one). Throws EnrolmentRefusedError for someone who is not an approver. */
  async send(email: string): Promise<EnrolmentSent> {
    if (!EmailSchema.safeParse(email).success) throw new EnrolmentRefusedError('NOT_AN_EMAIL', `${JSON.stringify(email)} is not an email address`);
    const found = approverOfPlants(this.deps.plants, email);
    if (found === undefined) {
      const known = Object.entries(this.deps.plants.plants).map(([plantId, plant]) => `${plantId}: ${plant.approvers.map((a) => a.email).join(', ')}`);
      throw new EnrolmentRefusedError('NOT_AN_APPROVER', `${email} is not an approver of any plant in the plant configuration (${known.join('; ')}); only approvers are enrolled`);
    }
    const sentAt = this.deps.now();
    const expiresAt = new Date(sentAt.getTime() + this.deps.linkTtlMs);
    const nonce = randomBytes(18).toString('base64url');
    const key = found.approver.email.toLowerCase();
    await this.deps.pins.update(key, (record) => withEnrolment(record, { nonce, sentAt: sentAt.toISOString(), expiresAt: expiresAt.toISOString() }));
    const url = enrolmentLinkUrl(this.deps.publicUrl, { email: key, nonce, expiresAt: expiresAt.getTime() }, this.deps.approvalSecret);
    const mail = renderEnrolmentEmail({ approver: found.approver, signingPlants: found.signingPlants, url, expiresAt: expiresAt.toISOString() });
    // One Message-ID per link: a resend of the same link shows once in a mailbox.
    await this.deps.mail.send({ from: this.deps.mailFrom, to: found.approver, subject: mail.subject, text: mail.text, html: mail.html, messageId: `<enrol-${nonce}@mes>` });
    this.deps.logger.info({ approver: found.approver.email, plants: found.plants, expiresAt: expiresAt.toISOString() }, 'approver enrolment link sent');
    return { ...found, expiresAt: expiresAt.toISOString() };
  }

  /** GET: the form, or why the link cannot be used. Changes nothing. */
  async open(token: unknown): Promise<EnrolmentOutcome> {
    const pending = await this.pending(token);
    if (pending.kind !== 'pending') return pending.outcome;
    return { kind: 'form', approver: pending.approver, expiresAt: pending.expiresAt };
  }

  /** POST: sets the PIN when it meets the rules and the link was not used. */
  async setPin(token: unknown, pin: unknown, pinAgain: unknown): Promise<EnrolmentOutcome> {
    const pending = await this.pending(token);
    if (pending.kind !== 'pending') return pending.outcome;
    const { approver, expiresAt, nonce } = pending;
    const problem = newPinProblem(pin, pinAgain);
    if (problem !== undefined || typeof pin !== 'string') return { kind: 'pin_not_valid', approver, expiresAt, problem: problem ?? 'Enter a PIN.' };
    const hash = await hashPin(pin);
    const now = this.deps.now();
    const { record, changed } = await this.deps.pins.update(approver.approver.email, (stored) => withNewPin(stored, nonce, hash, now));
    if (!changed) return { kind: 'used', approver: approver.approver };
    this.deps.logger.info({ approver: approver.approver.email }, 'approver PIN set through an enrolment link');
    return { kind: 'pin_set', approver, lockedUntil: lockedUntil(record, now) };
  }

  private async pending(
    token: unknown,
  ): Promise<{ kind: 'pending'; approver: ApproverOfPlants; expiresAt: string; nonce: string } | { kind: 'refused'; outcome: EnrolmentOutcome }> {
    const verified = verifyEnrolmentLink(token, this.deps.approvalSecret, this.deps.now().getTime());
    if (!verified.ok) return { kind: 'refused', outcome: verified.reason === 'expired' ? { kind: 'link_expired' } : { kind: 'not_valid' } };
    const { email, nonce, expiresAt } = verified.claims;
    const approver = approverOfPlants(this.deps.plants, email);
    if (approver === undefined) return { kind: 'refused', outcome: { kind: 'not_an_approver', email } };
    const record = await this.deps.pins.read(email);
    if (record.enrolment?.nonce !== nonce) return { kind: 'refused', outcome: { kind: 'used', approver: approver.approver } };
    return { kind: 'pending', approver, expiresAt: new Date(expiresAt).toISOString(), nonce };
  }
}
