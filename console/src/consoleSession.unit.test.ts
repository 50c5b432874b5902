import { describe, expect, it } from 'vitest';
import { cookieValue, sessionCookie, SessionSigner } from './consoleSession.js';

const SECRET = 'approval-secret-0123456789abcdef0123456789';
const tokens = [{ name: 'api', token: 'token-of-api-0123456789' }, { name: 'maria', token: 'token-of-maria-0123456789' }];
const NOW = Date.parse('2026-11-25T10:00:00Z');

describe('console sessions', () => {
  const signer = new SessionSigner(SECRET, tokens);

  it('name the token holder until they expire', () => {
    const value = signer.sign('maria', NOW, 60_000);
    expect(signer.verify(value, NOW + 59_999)).toEqual({ name: 'maria', expiresAt: NOW + 60_000 });
    expect(signer.verify(value, NOW + 60_000)).toBeUndefined();
  });

  it('are accepted by another copy with the same secrets (nothing is stored)', () => {
    expect(new SessionSigner(SECRET, tokens).verify(signer.sign('api', NOW), NOW)).toMatchObject({ name: 'api' });
  });

  it('refuse a cookie that was altered, forged with another secret, or cut', () => {
    const value = signer.sign('maria', NOW);
    const [payload, mac] = value.split('.') as [string, string];
    const claimsApi = Buffer.from(Buffer.from(payload, 'base64url').toString().replace('"maria"', '"api"')).toString('base64url');
    expect(signer.verify(`${claimsApi}.${mac}`, NOW)).toBeUndefined();
    expect(signer.verify(`${payload}.${mac.slice(0, -2)}AA`, NOW)).toBeUndefined();
    expect(new SessionSigner('another-secret-0123456789abcdef0123456789', tokens).verify(value, NOW)).toBeUndefined();
    expect(signer.verify(payload, NOW)).toBeUndefined();
    expect(signer.verify(undefined, NOW)).toBeUndefined();
    expect(signer.verify('', NOW)).toBeUndefined();
  });

  it('end when the holder\'s token changes, and keep the others', () => {
    const maria = signer.sign('maria', NOW);
    const api = signer.sign('api', NOW);
    const rotated = new SessionSigner(SECRET, [tokens[0]!, { name: 'maria', token: 'a-new-token-of-maria-0123' }]);
    expect(rotated.verify(maria, NOW)).toBeUndefined();
    expect(rotated.verify(api, NOW)).toMatchObject({ name: 'api' });
  });

  it('are only signed for a token holder', () => {
    expect(() => signer.sign('mallory', NOW)).toThrow(/no API token is held by "mallory"/);
  });

  it('travel in an HttpOnly, SameSite=Strict cookie, Secure on https, and are cleared by an expired one', () => {
    expect(sessionCookie('abc.def', { secure: false, maxAgeMs: 3_600_000 })).toBe('mes_console=abc.def; Max-Age=3600; Path=/; HttpOnly; SameSite=Strict');
    expect(sessionCookie('abc.def', { secure: true })).toContain('; Secure');
    expect(sessionCookie(undefined, { secure: false })).toBe('mes_console=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict');
    expect(cookieValue('a=1; mes_console=abc.def; b=2', 'mes_console')).toBe('abc.def');
    expect(cookieValue('a=1', 'mes_console')).toBeUndefined();
  });
});
