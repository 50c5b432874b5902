// The console's session: a stateless cookie signed with HMAC-SHA256, so any copy of the service
// that shares the secrets accepts it and nothing is stored on the server. It names the holder of the
// API token that signed in, expires, and stops working when that holder's token changes (each
// session carries a fingerprint of the token it was opened with).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { ApiCredential } from '@mes/platform';

export const SESSION_COOKIE = 'mes_console';
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export interface ConsoleSession {
  /** The token's holder, e.g. `api` or `maria`. */
  name: string;
  expiresAt: number;
}

interface SessionPayload {
  v: 1;
  /** Holder. */
  n: string;
  /** Expiry, epoch ms. */
  e: number;
  /** Fingerprint of the holder's token when the session was opened. */
  f: string;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

export class SessionSigner {
  private readonly key: Buffer;
  private readonly fingerprints = new Map<string, string>();

  /** `secret`: APPROVAL_SECRET (shared by every copy); `credentials`: the API tokens and their holders. */
  constructor(secret: string, credentials: readonly ApiCredential[]) {
    this.key = createHmac('sha256', secret).update('mes console session v1').digest();
    for (const { name, token } of credentials) this.fingerprints.set(name, this.fingerprint(token));
  }

  private fingerprint(token: string): string {
    return createHmac('sha256', this.key).update(createHash('sha256').update(token).digest()).digest('base64url').slice(0, 22);
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.key).update(payload).digest();
  }

  /** The cookie value of a new session for `name`, which must be a token holder. */
  sign(name: string, nowMs: number, ttlMs = SESSION_TTL_MS): string {
    const fingerprint = this.fingerprints.get(name);
    if (fingerprint === undefined) throw new Error(`no API token is held by ${JSON.stringify(name)}`);
    const payload = base64url(JSON.stringify({ v: 1, n: name, e: nowMs + ttlMs, f: fingerprint } satisfies SessionPayload));
    return `${payload}.${this.mac(payload).toString('base64url')}`;
  }

  /** The session a cookie value stands for, or undefined when it is forged, altered, expired or of a changed token. */
  verify(value: string | undefined, nowMs: number): ConsoleSession | undefined {
    if (value === undefined || value.length > 1024) return undefined;
    const [payload, mac, ...rest] = value.split('.');
    if (payload === undefined || mac === undefined || rest.length > 0) return undefined;
    const given = Buffer.from(mac, 'base64url');
    const expected = this.mac(payload);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let parsed: Partial<SessionPayload>;
    try {
      parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<SessionPayload>;
    } catch {
      return undefined;
    }
    if (parsed.v !== 1 || typeof parsed.n !== 'string' || typeof parsed.e !== 'number' || parsed.e <= nowMs) return undefined;
    if (this.fingerprints.get(parsed.n) !== parsed.f) return undefined;
    return { name: parsed.n, expiresAt: parsed.e };
  }
}

/** The value of one cookie in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator === -1) continue;
    if (part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return undefined;
}

/** Set-Cookie for a session (`value`), or one that clears it (undefined). */
export function sessionCookie(value: string | undefined, options: { secure: boolean; maxAgeMs?: number }): string {
  const attributes = ['Path=/', 'HttpOnly', 'SameSite=Strict', ...(options.secure ? ['Secure'] : [])];
  if (value === undefined) return [`${SESSION_COOKIE}=`, 'Max-Age=0', ...attributes].join('; ');
  return [`${SESSION_COOKIE}=${value}`, `Max-Age=${Math.floor((options.maxAgeMs ?? SESSION_TTL_MS) / 1000)}`, ...attributes].join('; ');
}
