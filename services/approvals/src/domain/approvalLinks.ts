// Signed Approve / Reject links of approval emails (CONTRACT §4). A token binds one approval
// request, one approver, one decision and an expiry, signed with HMAC-SHA256 under APPROVAL_SECRET.
// It also names the plant and order, so the link's page finds the approval's stream without an index.
//
// A token proves the link is ours and unchanged, not that it is unused: single use is enforced by
// the approval aggregate, which refuses a second decision (APPROVAL_ALREADY_DECIDED), so links need
// no server-side state and a mail scanner's GET cannot use one up.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { EmailSchema, IDENTIFIER_PATTERN } from '@mes/contracts';

export const APPROVAL_LINK_DECISIONS = ['approve', 'reject'] as const;
export type ApprovalLinkDecision = (typeof APPROVAL_LINK_DECISIONS)[number];

export interface ApprovalLinkClaims {
  approvalId: string;
  /** With `orderId`, names the approval's stream: `streamName(plantId, 'approval', orderId)`. */
  plantId: string;
  orderId: string;
  /** The approver's email, as requested. */
  approver: string;
  decision: ApprovalLinkDecision;
  /** Epoch milliseconds after which the link is refused. */
  expiresAt: number;
}

export type ApprovalLinkRefusal = 'malformed' | 'bad_signature' | 'expired';

export type ApprovalLinkVerification = { ok: true; claims: ApprovalLinkClaims } | { ok: false; reason: ApprovalLinkRefusal };

/** APPROVAL_SECRET: text or bytes, never empty. */
export type ApprovalLinkSecret = string | Uint8Array;

/** Above any token we sign (at most about 1,100 characters, with 64-character ids and a 256-character email); longer input is refused before decoding. */
export const MAX_APPROVAL_TOKEN_LENGTH = 2048;

const TOKEN_VERSION = 1;
/** Keeps these signatures apart from anything else that might ever be signed with the same secret. */
const SIGNING_CONTEXT = 'mes.approval-link.v1\n';
const SIGNATURE_BYTES = 32;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The decision an approval link records, in the words of ApprovalDecided. */
export function approvalDecisionOf(decision: ApprovalLinkDecision): 'approved' | 'rejected' {
  return decision === 'approve' ? 'approved' : 'rejected';
}

/** Where the link points, below PUBLIC_URL: GET shows the confirmation page, POST decides. */
export function approvalLinkPath(approvalId: string, decision: ApprovalLinkDecision): string {
  return `/approvals/${encodeURIComponent(approvalId)}/${decision}`;
}

function assertSecret(secret: ApprovalLinkSecret): void {
  if (secret.length === 0) throw new Error('APPROVAL_SECRET is empty; approval links signed with it could be forged');
}

function sign(payloadPart: string, secret: ApprovalLinkSecret): Buffer {
  return createHmac('sha256', secret).update(SIGNING_CONTEXT).update(payloadPart).digest();
}

/** The claims in a decoded payload, or undefined when any is missing or out of shape. */
function claimsOf(payload: unknown): ApprovalLinkClaims | undefined {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const { v, approvalId, plantId, orderId, approver, decision, expiresAt } = payload as Record<string, unknown>;
  if (v !== TOKEN_VERSION) return undefined;
  if (typeof approvalId !== 'string' || !IDENTIFIER_PATTERN.test(approvalId)) return undefined;
  if (typeof plantId !== 'string' || !IDENTIFIER_PATTERN.test(plantId)) return undefined;
  if (typeof orderId !== 'string' || !IDENTIFIER_PATTERN.test(orderId)) return undefined;
  if (typeof approver !== 'string' || !EmailSchema.safeParse(approver).success) return undefined;
  if (decision !== 'approve' && decision !== 'reject') return undefined;
  if (typeof expiresAt !== 'number' || !Number.isSafeInteger(expiresAt) || expiresAt <= 0) return undefined;
  return { approvalId, plantId, orderId, approver, decision, expiresAt };
}

/** Token for one link: base64url(JSON claims) "." base64url(HMAC-SHA256). Throws on claims we could not verify later. */
export function signApprovalLink(claims: ApprovalLinkClaims, secret: ApprovalLinkSecret): string {
  assertSecret(secret);
  const payload = {
    v: TOKEN_VERSION,
    approvalId: claims.approvalId,
    plantId: claims.plantId,
    orderId: claims.orderId,
    approver: claims.approver,
    decision: claims.decision,
    expiresAt: claims.expiresAt,
  };
  if (claimsOf(payload) === undefined) {
    throw new Error(
      `cannot sign an approval link for ${JSON.stringify(claims)}: approvalId, plantId and orderId must be 1 to 64 of A-Z a-z 0-9 _ -, approver an email, decision approve or reject, expiresAt epoch milliseconds`,
    );
  }
  const payloadPart = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${payloadPart}.${sign(payloadPart, secret).toString('base64url')}`;
}

/** Bytes of canonical unpadded base64url text, or undefined for anything else. */
function fromBase64url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  // Node's decoder ignores stray bits; one token must have exactly one spelling.
  return bytes.toString('base64url') === text ? bytes : undefined;
}

const MALFORMED: ApprovalLinkVerification = { ok: false, reason: 'malformed' };

/**
 * Checks a token from a link. Never throws on what a client sends (only on an empty secret): the
 * signature is checked in constant time before the payload is parsed, and the expiry last.
 * The caller must still check that the claims match the request (approval id and decision in the
 * URL) and let the aggregate refuse a second decision.
 */
export function verifyApprovalLink(token: unknown, secret: ApprovalLinkSecret, now: number): ApprovalLinkVerification {
  assertSecret(secret);
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_APPROVAL_TOKEN_LENGTH) return MALFORMED;
  const parts = token.split('.');
  if (parts.length !== 2) return MALFORMED;
  const [payloadPart = '', signaturePart = ''] = parts;
  const payloadBytes = fromBase64url(payloadPart);
  const signature = fromBase64url(signaturePart);
  if (payloadBytes === undefined || signature === undefined || signature.length !== SIGNATURE_BYTES) return MALFORMED;
  if (!timingSafeEqual(signature, sign(payloadPart, secret))) return { ok: false, reason: 'bad_signature' };
  let payload: unknown;
  try {
    payload = JSON.parse(payloadBytes.toString('utf8'));
  } catch {
    return MALFORMED;
  }
  const claims = claimsOf(payload);
  if (claims === undefined) return MALFORMED;
  // `!(now < expiresAt)` also refuses when `now` is not a number.
  if (!(now < claims.expiresAt)) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

export interface ApprovalLinkUrls {
  approveUrl: string;
  rejectUrl: string;
}

/** Both links of one approval email, under PUBLIC_URL (which may have a path of its own). */
export function approvalLinkUrls(
  publicUrl: string,
  claims: Omit<ApprovalLinkClaims, 'decision'>,
  secret: ApprovalLinkSecret,
): ApprovalLinkUrls {
  const base = publicUrl.replace(/\/+$/, '');
  const url = (decision: ApprovalLinkDecision) =>
    `${base}${approvalLinkPath(claims.approvalId, decision)}?token=${encodeURIComponent(signApprovalLink({ ...claims, decision }, secret))}`;
  return { approveUrl: url('approve'), rejectUrl: url('reject') };
}
