// Tokens in the links this service emails: base64url(JSON payload) "." base64url(HMAC-SHA256),
// signed with APPROVAL_SECRET under a context string per kind of link, so a token of one kind
// (an approval link) is never accepted as another (an enrolment link).
import { createHmac, timingSafeEqual } from 'node:crypto';

/** APPROVAL_SECRET: text or bytes, never empty. */
export type TokenSecret = string | Uint8Array;

export type SignedTokenRefusal = 'malformed' | 'bad_signature';

const SIGNATURE_BYTES = 32;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function assertSecret(secret: TokenSecret): void {
  if (secret.length === 0) throw new Error('APPROVAL_SECRET is empty; links signed with it could be forged');
}

function sign(context: string, payloadPart: string, secret: TokenSecret): Buffer {
  return createHmac('sha256', secret).update(context).update(payloadPart).digest();
}

/** Bytes of canonical unpadded base64url text, or undefined for anything else. */
function fromBase64url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  // Node's decoder ignores stray bits; one token must have exactly one spelling.
  return bytes.toString('base64url') === text ? bytes : undefined;
}

/** `context` names the kind of token and its version, e.g. `mes.approval-link.v1\n`. */
export function signToken(context: string, payload: object, secret: TokenSecret): string {
  assertSecret(secret);
  const payloadPart = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${payloadPart}.${sign(context, payloadPart, secret).toString('base64url')}`;
}

/**
 * The payload of a token signed under `context`, or why it is refused. Never throws on what a
 * client sends (only on an empty secret): the signature is checked in constant time before the
 * payload is parsed. The caller checks the payload's shape and expiry.
 */
export function verifyToken(
  context: string,
  token: unknown,
  secret: TokenSecret,
  maxLength: number,
): { ok: true; payload: unknown } | { ok: false; reason: SignedTokenRefusal } {
  assertSecret(secret);
  if (typeof token !== 'string' || token.length === 0 || token.length > maxLength) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 2) return { ok: false, reason: 'malformed' };
  const [payloadPart = '', signaturePart = ''] = parts;
  const payloadBytes = fromBase64url(payloadPart);
  const signature = fromBase64url(signaturePart);
  if (payloadBytes === undefined || signature === undefined || signature.length !== SIGNATURE_BYTES) return { ok: false, reason: 'malformed' };
  if (!timingSafeEqual(signature, sign(context, payloadPart, secret))) return { ok: false, reason: 'bad_signature' };
  try {
    return { ok: true, payload: JSON.parse(payloadBytes.toString('utf8')) };
  } catch {
    return { ok: false, reason: 'malformed' };
  }
}
