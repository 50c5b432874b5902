// Signed Approve / Reject links of approval emails (CONTRACT §4). A token binds one approval
// request, one approver, one decision and an expiry, signed with HMAC-SHA256 under APPROVAL_SECRET.
// It also names the plant and order, so the link's page finds the approval's stream without an index.
//
// A token proves the link is ours and unchanged, not that it is unused: single use is enforced by
// the approval aggregate, which refuses a second decision (APPROVAL_ALREADY_DECIDED), so links need
// no server-side state and a mail scanner's GET cannot use one up.
import { EmailSchema, IDENTIFIER_PATTERN } from '@mes/contracts';
import { signToken, verifyToken, type TokenSecret } from './signedTokens.js';

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
export type ApprovalLinkSecret = TokenSecret;

/** Above any token we sign (at most about 1,100 characters, with 64-character ids and a 256-character email); longer input is refused before decoding. */
export const MAX_APPROVAL_TOKEN_LENGTH = 2048;

const TOKEN_VERSION = 1;
/** Keeps these signatures apart from anything else that might ever be signed with the same secret. */
const SIGNING_CONTEXT = 'mes.approval-link.v1\n';

/** The decision an approval link records, in the words of ApprovalDecided. */
export function approvalDecisionOf(decision: ApprovalLinkDecision): 'approved' | 'rejected' {
  return decision === 'approve' ? 'approved' : 'rejected';
}

/** Where the link points, below PUBLIC_URL: GET shows the confirmation page, POST decides. */
export function approvalLinkPath(approvalId: string, decision: ApprovalLinkDecision): string {
  return `/approvals/${encodeURIComponent(approvalId)}/${decision}`;
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
  return signToken(SIGNING_CONTEXT, payload, secret);
}

const MALFORMED: ApprovalLinkVerification = { ok: false, reason: 'malformed' };

/**
 * Checks a token from a link. Never throws on what a client sends (only on an empty secret): the
 * signature is checked in constant time before the payload is parsed, and the expiry last.
 * The caller must still check that the claims match the request (approval id and decision in the
 * URL) and let the aggregate refuse a second decision.
 */
export function verifyApprovalLink(token: unknown, secret: ApprovalLinkSecret, now: number): ApprovalLinkVerification {
  const verified = verifyToken(SIGNING_CONTEXT, token, secret, MAX_APPROVAL_TOKEN_LENGTH);
  if (!verified.ok) return verified;
  const claims = claimsOf(verified.payload);
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
