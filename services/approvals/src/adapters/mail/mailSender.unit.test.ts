import { describe, expect, it } from 'vitest';
import { isPermanentRecipientRefusal } from './mailSender.js';

describe('isPermanentRecipientRefusal', () => {
  it('is true for a 5xx reply to RCPT TO', () => {
    expect(isPermanentRecipientRefusal({ code: 'EENVELOPE', permanent: true, responseCode: 550, command: 'RCPT TO' })).toBe(true);
  });

  it.each([
    ['a 4xx reply to RCPT TO', { code: 'EENVELOPE', permanent: false, responseCode: 450, command: 'RCPT TO' }],
    ['a refused sender', { code: 'EENVELOPE', permanent: true, responseCode: 550, command: 'MAIL FROM' }],
    ['a refused message', { code: 'EMESSAGE', permanent: true, responseCode: 552, command: 'DATA' }],
    ['a connection failure', { code: 'ESOCKET' }],
    ['failed credentials', { code: 'EAUTH', responseCode: 535, permanent: true, command: 'AUTH PLAIN' }],
    ['not an error object', 'boom'],
  ])('is false for %s', (_what, err) => {
    expect(isPermanentRecipientRefusal(err)).toBe(false);
  });
});
