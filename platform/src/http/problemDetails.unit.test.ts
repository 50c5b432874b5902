import { describe, expect, it } from 'vitest';
import { codeOfStatus, problemDetails } from './problemDetails.js';

describe('problem details', () => {
  it('carry the RFC 9457 members and the stable code', () => {
    expect(problemDetails(409, 'ORDER_CLOSED', 'order MO_1 is Completed', { orderId: 'MO_1' })).toEqual({
      type: 'urn:mes:problem:order-closed',
      title: 'The order has ended',
      status: 409,
      detail: 'order MO_1 is Completed',
      code: 'ORDER_CLOSED',
      orderId: 'MO_1',
    });
  });

  it('take the status phrase as the title of a code without one, and never let an extension replace a member', () => {
    expect(problemDetails(409, 'RESOURCE_HELD', 'x', { code: 'OTHER', status: 200 })).toMatchObject({ title: 'Conflict', status: 409, code: 'RESOURCE_HELD' });
  });

  it('name framework errors by their status', () => {
    expect([400, 401, 404, 413, 415, 429, 500, 503, 418].map(codeOfStatus)).toEqual([
      'INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'TOO_MANY_REQUESTS', 'INTERNAL_ERROR', 'UNAVAILABLE', 'HTTP_418',
    ]);
  });
});
