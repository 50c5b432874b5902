import { describe, expect, it } from 'vitest';
import { signApprovalLink } from './approvalLinks.js';
import { enrolmentLinkUrl, signEnrolmentLink, verifyEnrolmentLink, type EnrolmentLinkClaims } from './enrolmentLinks.js';

const SECRET = 'enrolment-test-secret-0123456789abcdefghij';
const NOW = Date.parse('2026-11-29T21:00:00.000Z');
const claims: EnrolmentLinkClaims = { email: 'alice@plant1.example', nonce: 'n0nce-0123456789abcdef', expiresAt: NOW + 60_000 };

describe('an enrolment link', () => {
  it('carries the approver, the nonce and the expiry, signed', () => {
    expect(verifyEnrolmentLink(signEnrolmentLink(claims, SECRET), SECRET, NOW)).toEqual({ ok: true, claims });
  });

  it('is refused once expired', () => {
    expect(verifyEnrolmentLink(signEnrolmentLink(claims, SECRET), SECRET, claims.expiresAt)).toEqual({ ok: false, reason: 'expired' });
  });

  it('is refused when signed with another secret or changed', () => {
    const token = signEnrolmentLink(claims, SECRET);
    expect(verifyEnrolmentLink(token, `${SECRET}x`, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    const [payload = '', signature = ''] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ v: 1, email: 'mallory@elsewhere.example', nonce: claims.nonce, expiresAt: claims.expiresAt })).toString('base64url');
    expect(verifyEnrolmentLink(`${forged}.${signature}`, SECRET, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyEnrolmentLink(`${payload}.${signature}x`, SECRET, NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  it.each([undefined, '', 'a.b.c', 42, 'x'.repeat(5000)])('is refused when malformed: %j', (token) => {
    expect(verifyEnrolmentLink(token, SECRET, NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('is never an approval link, and no approval link is one', () => {
    const approvalToken = signApprovalLink({ approvalId: 'AP_1', plantId: 'P1', orderId: 'MO_1', approver: 'alice@plant1.example', decision: 'approve', expiresAt: NOW + 60_000 }, SECRET);
    expect(verifyEnrolmentLink(approvalToken, SECRET, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses to sign claims it could not verify', () => {
    expect(() => signEnrolmentLink({ ...claims, email: 'Alice@plant1.example' }, SECRET)).toThrow(/lower-case email/);
    expect(() => signEnrolmentLink({ ...claims, nonce: 'short' }, SECRET)).toThrow(/nonce/);
  });

  it('points below PUBLIC_URL, with its path', () => {
    const url = new URL(enrolmentLinkUrl('https://mes.plant1.example/base/', claims, SECRET));
    expect(`${url.origin}${url.pathname}`).toBe('https://mes.plant1.example/base/approvals/enrol');
    expect(verifyEnrolmentLink(url.searchParams.get('token'), SECRET, NOW)).toEqual({ ok: true, claims });
  });
});
