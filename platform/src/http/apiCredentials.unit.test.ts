import { describe, expect, it } from 'vitest';
import { actorOfCaller, ApiCredentials } from './apiCredentials.js';

const TOKEN = 'right-token-0123456789abcdef';

describe('ApiCredentials', () => {
  const credentials = new ApiCredentials([
    { name: 'api', token: TOKEN },
    { name: 'erp', token: 'erp-token-zyxwvutsrqponm' },
  ]);

  it('names the holder of each known token', () => {
    expect(credentials.identify(`Bearer ${TOKEN}`)).toEqual({ name: 'api', via: 'token' });
    expect(credentials.identify('Bearer erp-token-zyxwvutsrqponm')).toEqual({ name: 'erp', via: 'token' });
    expect(credentials.identify(`bearer ${TOKEN}`)).toEqual({ name: 'api', via: 'token' });
  });

  it.each([
    ['the right first characters and a wrong ending', `Bearer ${TOKEN.slice(0, -1)}X`],
    ['the token without its last character', `Bearer ${TOKEN.slice(0, -1)}`],
    ['the token and one character more', `Bearer ${TOKEN}x`],
    ['the token twice', `Bearer ${TOKEN}${TOKEN}`],
    ['the token in another case', `Bearer ${TOKEN.toUpperCase()}`],
    ['only a prefix of the token', `Bearer ${TOKEN.slice(0, 4)}`],
    ['another scheme', `Basic ${TOKEN}`],
    ['no scheme', TOKEN],
    ['two tokens', `Bearer ${TOKEN} ${TOKEN}`],
    ['an empty token', 'Bearer '],
  ])('refuses %s', (_what, header) => {
    expect(credentials.identify(header)).toBeUndefined();
  });

  it('refuses a request without the header', () => {
    expect(credentials.identify(undefined)).toBeUndefined();
  });

  it('needs at least one token', () => {
    expect(() => new ApiCredentials([])).toThrow(/at least one API token/);
  });
});

describe('actorOfCaller', () => {
  it('records a token holder as an API client and a console session as a person', () => {
    expect(actorOfCaller({ name: 'erp', via: 'token' })).toEqual({ kind: 'client', id: 'erp' });
    expect(actorOfCaller({ name: 'maria@plant1.example', via: 'session' })).toEqual({ kind: 'person', id: 'maria@plant1.example' });
  });
});
