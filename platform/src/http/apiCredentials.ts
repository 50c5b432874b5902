// Bearer tokens of the HTTP API, each naming its holder (API_TOKEN is the holder `api`; API_TOKENS
// adds `name:token` pairs), so what a caller does is recorded under a name, not as "the API".
import type { Actor } from '@mes/contracts';
import { createHash, timingSafeEqual } from 'node:crypto';

/** Who called a protected route: the holder of the token, or a signed-in person of the console. */
export interface ApiCaller {
  name: string;
  via: 'token' | 'session';
}

export interface ApiCredential {
  /** The holder, e.g. `erp` or `maria@plant1.example`. */
  name: string;
  token: string;
}

/** The holder name of the single API_TOKEN. */
export const DEFAULT_TOKEN_HOLDER = 'api';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export class ApiCredentials {
  private readonly known: { name: string; digest: Buffer }[];

  constructor(credentials: readonly ApiCredential[]) {
    if (credentials.length === 0) throw new Error('at least one API token is needed');
    this.known = credentials.map(({ name, token }) => ({ name, digest: digest(token) }));
  }

  /**
   * The holder of the token in an `Authorization: Bearer <token>` header, or undefined. Compares
   * digests of equal length in constant time against every known token, so neither a token's
   * length nor how many of its first characters are right shows in the time taken.
   */
  identify(authorization: string | undefined): ApiCaller | undefined {
    if (typeof authorization !== 'string') return undefined;
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!match?.[1]) return undefined;
    const given = digest(match[1]);
    let holder: string | undefined;
    for (const { name, digest: expected } of this.known) {
      if (timingSafeEqual(given, expected) && holder === undefined) holder = name;
    }
    return holder === undefined ? undefined : { name: holder, via: 'token' };
  }
}

/** How an API caller stands in the event log: a token's holder is a client, a console session a person. */
export function actorOfCaller(caller: ApiCaller): Actor {
  return caller.via === 'session' ? { kind: 'person', id: caller.name } : { kind: 'client', id: caller.name };
}
