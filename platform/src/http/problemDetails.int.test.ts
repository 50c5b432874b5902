// Every error of the API has one shape, RFC 9457 problem details with a stable code, whoever
// produced it: the protection hook, the router, the body parser, a handler, or a crash.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../domain/decider.js';
import { createLogger } from '../runtime/logger.js';
import { ApiCredentials } from './apiCredentials.js';
import { HealthRegistry } from './health.js';
import { createHttpServer } from './httpServer.js';
import { sendProblem } from './problemDetails.js';

const TOKEN = 'problem-test-token-0123456789';
let http: FastifyInstance;
let baseUrl: string;

beforeAll(async () => {
  http = await createHttpServer({
    logger: createLogger({ service: 'problem-test', level: 'silent' }),
    health: new HealthRegistry(),
    credentials: new ApiCredentials([{ name: 'api', token: TOKEN }]),
  });
  http.post('/api/orders/:orderId/cancel', async (request, reply) => {
    const body = request.body as { reason?: unknown };
    if (typeof body.reason !== 'string') return sendProblem(reply, 400, 'INVALID_REQUEST', 'send a reason');
    const refusal = new DomainError('ORDER_CLOSED', 'order MO_1 is Completed');
    return sendProblem(reply, 409, refusal.code, refusal.message, { orderId: 'MO_1' });
  });
  http.get('/api/crash', async () => {
    throw new Error('database password is hunter2');
  });
  baseUrl = await http.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await http?.close();
});

const withToken = { authorization: `Bearer ${TOKEN}` };

async function problemOf(response: Response) {
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await response.json()) as Record<string, unknown>;
}

describe('errors of the API', () => {
  it('401 without a credential', async () => {
    const response = await fetch(`${baseUrl}/api/orders/MO_1/cancel`, { method: 'POST' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(await problemOf(response)).toMatchObject({ type: 'urn:mes:problem:unauthorized', status: 401, code: 'UNAUTHORIZED', title: 'A credential is needed', detail: expect.stringContaining('Authorization: Bearer') });
  });

  it('404 for a route that does not exist, without echoing the query string', async () => {
    const response = await fetch(`${baseUrl}/api/nothing-here?token=secret-value`, { headers: withToken });
    expect(response.status).toBe(404);
    const problem = await problemOf(response);
    expect(problem).toMatchObject({ status: 404, code: 'NOT_FOUND', detail: 'no route answers GET /api/nothing-here' });
    expect(JSON.stringify(problem)).not.toContain('secret-value');
  });

  it('400 for a body that is not JSON, from the framework', async () => {
    const response = await fetch(`${baseUrl}/api/orders/MO_1/cancel`, { method: 'POST', headers: { ...withToken, 'content-type': 'application/json' }, body: '{not json' });
    expect(response.status).toBe(400);
    expect(await problemOf(response)).toMatchObject({ status: 400, code: 'INVALID_REQUEST', title: 'The request is not valid' });
  });

  it('400 for a validation error of a handler, and 409 with the domain code for a refusal', async () => {
    const invalid = await fetch(`${baseUrl}/api/orders/MO_1/cancel`, { method: 'POST', headers: { ...withToken, 'content-type': 'application/json' }, body: '{}' });
    expect(invalid.status).toBe(400);
    expect(await problemOf(invalid)).toMatchObject({ code: 'INVALID_REQUEST', detail: 'send a reason' });
    const refused = await fetch(`${baseUrl}/api/orders/MO_1/cancel`, { method: 'POST', headers: { ...withToken, 'content-type': 'application/json' }, body: '{"reason":"x"}' });
    expect(refused.status).toBe(409);
    expect(await problemOf(refused)).toEqual({ type: 'urn:mes:problem:order-closed', title: 'The order has ended', status: 409, detail: 'order MO_1 is Completed', code: 'ORDER_CLOSED', orderId: 'MO_1' });
  });

  it('500 without the error\'s message', async () => {
    const response = await fetch(`${baseUrl}/api/crash`, { headers: withToken });
    expect(response.status).toBe(500);
    const problem = await problemOf(response);
    expect(problem).toMatchObject({ code: 'INTERNAL_ERROR', detail: 'internal error; see the server log' });
    expect(JSON.stringify(problem)).not.toContain('hunter2');
  });
});
