import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MAX_APPROVAL_TOKEN_LENGTH,
  approvalDecisionOf,
  approvalLinkPath,
  approvalLinkUrls,
  signApprovalLink,
  verifyApprovalLink,
  type ApprovalLinkClaims,
} from './approvalLinks.js';

const SECRET = 'test-approval-secret-0123456789abcdef';
const NOW = Date.parse('2026-11-25T10:00:00.000Z');
const IN_A_DAY = NOW + 24 * 60 * 60 * 1000;

const claims: ApprovalLinkClaims = { approvalId: 'AP_MO_1_0', plantId: 'P1', orderId: 'MO_1', approver: 'alice@plant1.example', decision: 'approve', expiresAt: IN_A_DAY };

function encode(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url');
}

/** A token signed the way the module signs, over any payload text: to reach the checks behind the signature. */
function signedToken(payloadPart: string, secret = SECRET): string {
  const signature = createHmac('sha256', secret).update('mes.approval-link.v1\n').update(payloadPart).digest('base64url');
  return `${payloadPart}.${signature}`;
}

function payloadOf(token: string): Record<string, unknown> {
  const [payloadPart = ''] = token.split('.');
  return JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function withPayload(token: string, change: Record<string, unknown>): string {
  const [, signature = ''] = token.split('.');
  return `${encode({ ...payloadOf(token), ...change })}.${signature}`;
}

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The same bytes spelled differently: 32 bytes leave 2 unused bits in the last of 43 characters. */
function withStrayBit(signature: string): string {
  const last = BASE64URL_ALPHABET.indexOf(signature.at(-1) ?? '');
  return signature.slice(0, -1) + (BASE64URL_ALPHABET[last ^ 1] ?? '');
}

describe('approval links', () => {
  describe('a token we signed', () => {
    it('verifies, giving back its claims', () => {
      expect(verifyApprovalLink(signApprovalLink(claims, SECRET), SECRET, NOW)).toStrictEqual({ ok: true, claims });
    });

    it('verifies under a secret given as bytes', () => {
      const bytes = Buffer.from(SECRET);
      expect(verifyApprovalLink(signApprovalLink(claims, bytes), bytes, NOW)).toStrictEqual({ ok: true, claims });
    });

    it('is made of two base64url parts', () => {
      expect(signApprovalLink(claims, SECRET)).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    });

    it('differs between approve and reject', () => {
      expect(signApprovalLink(claims, SECRET)).not.toBe(signApprovalLink({ ...claims, decision: 'reject' }, SECRET));
    });

    it('is refused as expired at and after its expiry', () => {
      const token = signApprovalLink(claims, SECRET);
      expect(verifyApprovalLink(token, SECRET, IN_A_DAY - 1)).toMatchObject({ ok: true });
      expect(verifyApprovalLink(token, SECRET, IN_A_DAY)).toStrictEqual({ ok: false, reason: 'expired' });
      expect(verifyApprovalLink(token, SECRET, IN_A_DAY + 1)).toStrictEqual({ ok: false, reason: 'expired' });
      expect(verifyApprovalLink(token, SECRET, Number.NaN)).toStrictEqual({ ok: false, reason: 'expired' });
    });

    it('fits under the length limit with the longest ids and email', () => {
      const id = 'X'.repeat(64);
      const longest: ApprovalLinkClaims = { ...claims, approvalId: id, plantId: id, orderId: id, approver: `${'a'.repeat(64)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.example` };
      const token = signApprovalLink(longest, SECRET);
      expect(token.length).toBeLessThan(MAX_APPROVAL_TOKEN_LENGTH);
      expect(verifyApprovalLink(token, SECRET, NOW)).toStrictEqual({ ok: true, claims: longest });
    });

    it('is refused under another secret', () => {
      expect(verifyApprovalLink(signApprovalLink(claims, 'another-secret'), SECRET, NOW)).toStrictEqual({ ok: false, reason: 'bad_signature' });
    });
  });

  describe('a tampered token', () => {
    const token = signApprovalLink(claims, SECRET);

    it.each([
      ['the decision', { decision: 'reject' }],
      ['the approver', { approver: 'mallory@plant1.example' }],
      ['the expiry', { expiresAt: IN_A_DAY * 2 }],
      ['the approval', { approvalId: 'AP_MO_2_0' }],
      ['the plant', { plantId: 'P2' }],
      ['the order', { orderId: 'MO_2' }],
      ['an extra claim', { admin: true }],
    ])('is refused with a bad signature when %s changes', (_what, change) => {
      expect(verifyApprovalLink(withPayload(token, change), SECRET, NOW)).toStrictEqual({ ok: false, reason: 'bad_signature' });
    });

    it('is refused with a bad signature when one signature character changes', () => {
      const last = token.at(-2) === 'A' ? 'B' : 'A';
      expect(verifyApprovalLink(`${token.slice(0, -2)}${last}${token.slice(-1)}`, SECRET, NOW)).toStrictEqual({ ok: false, reason: 'bad_signature' });
    });

    it('is refused for approver B when signed for approver A', () => {
      const forA = signApprovalLink(claims, SECRET);
      const forB = signApprovalLink({ ...claims, approver: 'bob@plant1.example' }, SECRET);
      expect(forA).not.toBe(forB);
      const verified = verifyApprovalLink(forA, SECRET, NOW);
      expect(verified.ok && verified.claims.approver).toBe('alice@plant1.example');
      const swapped = `${forB.split('.')[0] ?? ''}.${forA.split('.')[1] ?? ''}`;
      expect(verifyApprovalLink(swapped, SECRET, NOW)).toStrictEqual({ ok: false, reason: 'bad_signature' });
    });
  });

  describe('malformed input', () => {
    const token = signApprovalLink(claims, SECRET);
    const [payloadPart = '', signaturePart = ''] = token.split('.');

    it.each<[string, unknown]>([
      ['an empty string', ''],
      ['no dot', payloadPart + signaturePart],
      ['three parts', `${token}.${signaturePart}`],
      ['an empty payload', `.${signaturePart}`],
      ['an empty signature', `${payloadPart}.`],
      ['characters outside base64url', `${payloadPart}+/=.${signaturePart}`],
      ['padding', `${payloadPart}.${signaturePart}=`],
      ['a signature too short', `${payloadPart}.${signaturePart.slice(0, 20)}`],
      ['a signature too long', `${payloadPart}.${signaturePart}AAAA`],
      ['a signature spelled with stray bits', `${payloadPart}.${withStrayBit(signaturePart)}`],
      ['a huge input', `${'A'.repeat(10_000_000)}.${signaturePart}`],
      ['one character over the limit', 'A'.repeat(MAX_APPROVAL_TOKEN_LENGTH + 1)],
      ['whitespace', ` ${token}`],
      ['not a string', 42],
      ['undefined', undefined],
      ['an array', [token]],
    ])('is refused as malformed: %s', (_what, input) => {
      expect(verifyApprovalLink(input, SECRET, NOW)).toStrictEqual({ ok: false, reason: 'malformed' });
    });

    it.each<[string, string]>([
      ['text that is not JSON', encode('not json')],
      ['invalid UTF-8', Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url')],
      ['JSON that is an array', encode([1, 2])],
      ['JSON that is a string', encode('"a string"')],
      ['JSON null', encode('null')],
      ['another version', encode({ ...payloadOf(token), v: 2 })],
      ['an unknown decision', encode({ ...payloadOf(token), decision: 'approved' })],
      ['an approval id that is not an identifier', encode({ ...payloadOf(token), approvalId: 'AP 1' })],
      ['a plant id that is not an identifier', encode({ ...payloadOf(token), plantId: 'P.1' })],
      ['an order id that is not an identifier', encode({ ...payloadOf(token), orderId: 'MO>' })],
      ['a missing plant', encode({ ...payloadOf(token), plantId: undefined })],
      ['an approver that is not an email', encode({ ...payloadOf(token), approver: 'alice' })],
      ['an expiry that is not a number', encode({ ...payloadOf(token), expiresAt: '2026-11-26T10:00:00Z' })],
      ['a missing claim', encode({ v: 1, approvalId: 'AP_1', plantId: 'P1', orderId: 'MO_1', decision: 'approve', expiresAt: IN_A_DAY })],
    ])('is refused as malformed even when signed: %s', (_what, payload) => {
      expect(verifyApprovalLink(signedToken(payload), SECRET, NOW)).toStrictEqual({ ok: false, reason: 'malformed' });
    });

    it('decodes a signature spelled with stray bits to the same bytes, so only the spelling check refuses it', () => {
      expect(Buffer.from(withStrayBit(signaturePart), 'base64url')).toStrictEqual(Buffer.from(signaturePart, 'base64url'));
    });

    it('checks the signature before reading the payload', () => {
      expect(verifyApprovalLink(`${encode('not json')}.${signaturePart}`, SECRET, NOW)).toStrictEqual({ ok: false, reason: 'bad_signature' });
    });
  });

  describe('signing', () => {
    it.each<[string, ApprovalLinkClaims]>([
      ['an approval id that is not an identifier', { ...claims, approvalId: 'AP.1' }],
      ['a plant id that is not an identifier', { ...claims, plantId: 'P 1' }],
      ['an order id that is not an identifier', { ...claims, orderId: '' }],
      ['an approver that is not an email', { ...claims, approver: 'alice' }],
      ['an expiry that is not epoch milliseconds', { ...claims, expiresAt: 1.5 }],
    ])('refuses %s', (_what, bad) => {
      expect(() => signApprovalLink(bad, SECRET)).toThrow(/cannot sign an approval link/);
    });

    it('refuses an empty secret, which would let anyone forge links', () => {
      expect(() => signApprovalLink(claims, '')).toThrow(/APPROVAL_SECRET is empty/);
      expect(() => verifyApprovalLink('x.y', new Uint8Array(), NOW)).toThrow(/APPROVAL_SECRET is empty/);
    });
  });

  describe('link URLs', () => {
    const linkClaims = { approvalId: claims.approvalId, plantId: claims.plantId, orderId: claims.orderId, approver: claims.approver, expiresAt: claims.expiresAt };

    it('point to the approve and reject pages of the request, each with its own token', () => {
      const { approveUrl, rejectUrl } = approvalLinkUrls('http://127.0.0.1:3000', linkClaims, SECRET);
      const approve = new URL(approveUrl);
      const reject = new URL(rejectUrl);
      expect(approve.origin + approve.pathname).toBe('http://127.0.0.1:3000/approvals/AP_MO_1_0/approve');
      expect(reject.origin + reject.pathname).toBe('http://127.0.0.1:3000/approvals/AP_MO_1_0/reject');
      expect(verifyApprovalLink(approve.searchParams.get('token'), SECRET, NOW)).toStrictEqual({ ok: true, claims: { ...linkClaims, decision: 'approve' } });
      expect(verifyApprovalLink(reject.searchParams.get('token'), SECRET, NOW)).toStrictEqual({ ok: true, claims: { ...linkClaims, decision: 'reject' } });
    });

    it('keep a path of PUBLIC_URL and drop its trailing slash', () => {
      const { approveUrl } = approvalLinkUrls('https://mes.plant1.example/mes/', linkClaims, SECRET);
      expect(approveUrl.startsWith('https://mes.plant1.example/mes/approvals/AP_MO_1_0/approve?token=')).toBe(true);
    });

    it('share the path with the HTTP routes', () => {
      expect(approvalLinkPath('AP_1', 'reject')).toBe('/approvals/AP_1/reject');
    });

    it('name the decision as ApprovalDecided does', () => {
      expect(approvalDecisionOf('approve')).toBe('approved');
      expect(approvalDecisionOf('reject')).toBe('rejected');
    });
  });
});
