// The one-time link an approver sets their PIN with (`mes approvers enrol <email>`, CONTRACT §4).
// The token names the approver and a nonce, expires, and is signed with APPROVAL_SECRET under its
// own context, so no approval link can stand in for it. It works once because the approver's PIN
// record holds the nonce of the link sent last and forgets it when a PIN is set with it.
import { EmailSchema } from '@mes/contracts';
import { signToken, verifyToken, type TokenSecret } from './signedTokens.js';

export interface EnrolmentLinkClaims {
  /** The approver's email, lower case. */
  email: string;
  /** Random, per link: matched against the approver's PIN record. */
  nonce: string;
  /** Epoch milliseconds after which the link is refused. */
  expiresAt: number;
}

export type EnrolmentLinkVerification = { ok: true; claims: EnrolmentLinkClaims } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

/** Where the link points, below PUBLIC_URL. */
export const ENROLMENT_LINK_PATH = '/approvals/enrol';

const TOKEN_VERSION = 1;
const SIGNING_CONTEXT = 'mes.approver-enrolment.v1\n';
const MAX_TOKEN_LENGTH = 1024;
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;

function claimsOf(payload: unknown): EnrolmentLinkClaims | undefined {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const { v, email, nonce, expiresAt } = payload as Record<string, unknown>;
  if (v !== TOKEN_VERSION) return undefined;
  if (typeof email !== 'string' || email !== email.toLowerCase() || !EmailSchema.safeParse(email).success) return undefined;
  if (typeof nonce !== 'string' || !NONCE.test(nonce)) return undefined;
  if (typeof expiresAt !== 'number' || !Number.isSafeInteger(expiresAt) || expiresAt <= 0) return undefined;
  return { email, nonce, expiresAt };
}

export function signEnrolmentLink(claims: EnrolmentLinkClaims, secret: TokenSecret): string {
  const payload = { v: TOKEN_VERSION, email: claims.email, nonce: claims.nonce, expiresAt: claims.expiresAt };
  if (claimsOf(payload) === undefined) {
    throw new Error(`cannot sign an enrolment link for ${JSON.stringify(claims)}: email must be a lower-case email, nonce 16 to 64 of A-Z a-z 0-9 _ -, expiresAt epoch milliseconds`);
  }
  return signToken(SIGNING_CONTEXT, payload, secret);
}

/** Never throws on what a client sends; the expiry is checked last. */
export function verifyEnrolmentLink(token: unknown, secret: TokenSecret, now: number): EnrolmentLinkVerification {
  const verified = verifyToken(SIGNING_CONTEXT, token, secret, MAX_TOKEN_LENGTH);
  if (!verified.ok) return verified;
  const claims = claimsOf(verified.payload);
  if (claims === undefined) return { ok: false, reason: 'malformed' };
  if (!(now < claims.expiresAt)) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

export function enrolmentLinkUrl(publicUrl: string, claims: EnrolmentLinkClaims, secret: TokenSecret): string {
  return `${publicUrl.replace(/\/+$/, '')}${ENROLMENT_LINK_PATH}?token=${encodeURIComponent(signEnrolmentLink(claims, secret))}`;
}
