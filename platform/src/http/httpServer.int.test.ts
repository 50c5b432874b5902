// The API's protection follows the route a request reaches, however its path is spelled
// (CONTRACT §5): tried over real sockets, with the spellings an attacker would.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../runtime/logger.js';
import { pathSpellings, rawRequest } from '../testing/pathSpellings.js';
import { ApiCredentials } from './apiCredentials.js';
import { HealthRegistry } from './health.js';
import { addAuthenticator, createHttpServer, registeredRoutes } from './httpServer.js';

const TOKEN = 'http-test-token-0123456789';
const SECRET = 'the-protected-data-7f3a';

let http: FastifyInstance;
let baseUrl: string;
const changes: string[] = [];

beforeAll(async () => {
  http = await createHttpServer({
    logger: createLogger({ service: 'http-test', level: 'silent' }),
    health: new HealthRegistry(),
    credentials: new ApiCredentials([{ name: 'api', token: TOKEN }]),
  });
  addAuthenticator(http, (request) => (request.headers.cookie === 'session=signed-in' ? { name: 'maria', via: 'session' } : undefined));
  http.get('/api/dead-letters', async (request) => ({ secret: SECRET, caller: request.apiCaller }));
  http.post<{ Params: { orderId: string } }>('/api/orders/:orderId/cancel', async (request) => {
    changes.push(request.params.orderId);
    return { changed: true, secret: SECRET };
  });
  http.get('/metrics', async () => SECRET);
  http.get('/console/data', { config: { protected: true } }, async () => ({ secret: SECRET }));
  // Routes a plugin registers in its own scope, under a prefix, are protected the same way.
  await http.register(async (scope) => {
    scope.get('/projections/status', async () => ({ secret: SECRET }));
  }, { prefix: '/api' });
  http.get('/public', async () => ({ open: true }));
  baseUrl = await http.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await http?.close();
});

const concretePath = (url: string) => url.replace(':orderId', 'MO_1');

describe('protected routes', () => {
  it('are every route under /api, /metrics, and those marked protected; nothing else', () => {
    const protectedUrls = new Set(registeredRoutes(http).filter((r) => r.protected).map((r) => r.url));
    expect([...protectedUrls].sort()).toEqual(['/api/dead-letters', '/api/orders/:orderId/cancel', '/api/projections/status', '/console/data', '/metrics']);
    expect(registeredRoutes(http).find((r) => r.url === '/public')?.protected).toBe(false);
    expect(registeredRoutes(http).find((r) => r.url === '/health')?.protected).toBe(false);
  });

  it('answer no spelling of their path without a credential', async () => {
    const routes = registeredRoutes(http).filter((r) => r.protected);
    let tried = 0;
    for (const route of routes) {
      for (const spelling of pathSpellings(concretePath(route.url))) {
        for (const authorization of [undefined, `Bearer ${TOKEN.slice(0, -1)}x`, `Bearer ${TOKEN}x`]) {
          const response = await rawRequest(baseUrl, route.method, spelling, authorization === undefined ? {} : { authorization });
          tried++;
          expect([400, 401, 404, 405], `${route.method} ${spelling} (${authorization ?? 'no token'}) answered ${response.status}`).toContain(response.status);
          expect(response.body, `${route.method} ${spelling}`).not.toContain(SECRET);
        }
      }
    }
    expect(tried).toBeGreaterThan(100);
    expect(changes).toEqual([]);
  });

  it('reach the route through an encoded spelling once the token is sent: the router decodes what a URL check would not', async () => {
    const encoded = await rawRequest(baseUrl, 'GET', '/%61pi/dead-letters', { authorization: `Bearer ${TOKEN}` });
    expect(encoded.status).toBe(200);
    expect(JSON.parse(encoded.body)).toEqual({ secret: SECRET, caller: { name: 'api', via: 'token' } });
    const cancelled = await rawRequest(baseUrl, 'POST', '/api/orders/MO_2/%63ancel', { authorization: `Bearer ${TOKEN}` });
    expect(cancelled.status).toBe(200);
    expect(changes).toEqual(['MO_2']);
    changes.length = 0;
  });

  it('accept another authenticator\'s credential, and name its caller', async () => {
    const response = await rawRequest(baseUrl, 'GET', '/api/dead-letters', { cookie: 'session=signed-in' });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ caller: { name: 'maria', via: 'session' } });
  });

  it('leave public routes open', async () => {
    expect((await rawRequest(baseUrl, 'GET', '/public')).status).toBe(200);
    expect((await rawRequest(baseUrl, 'GET', '/health')).status).toBe(200);
  });
});

describe('the client address (TRUST_PROXY)', () => {
  const servers: FastifyInstance[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  async function addressSeenWith(trustProxy: false | number | string[], forwardedFor: string): Promise<string> {
    const server = await createHttpServer({
      logger: createLogger({ service: 'http-test', level: 'silent' }),
      health: new HealthRegistry(),
      credentials: new ApiCredentials([{ name: 'api', token: TOKEN }]),
      trustProxy,
    });
    servers.push(server);
    server.get('/whoami', async (request) => ({ ip: request.ip }));
    const url = await server.listen({ port: 0, host: '127.0.0.1' });
    const response = await rawRequest(url, 'GET', '/whoami', { 'x-forwarded-for': forwardedFor });
    return (JSON.parse(response.body) as { ip: string }).ip;
  }

  // The client wrote 6.6.6.6 itself; the one proxy in front appended the address it saw, 192.0.2.9.
  const FORGED = '6.6.6.6, 192.0.2.9';

  it('is the socket\'s address when no proxy is trusted', async () => {
    expect(await addressSeenWith(false, FORGED)).toBe('127.0.0.1');
  });

  it('is the entry the trusted proxy appended, never the one the client wrote, with a hop count', async () => {
    expect(await addressSeenWith(1, FORGED)).toBe('192.0.2.9');
  });

  it('is the entry the trusted proxy appended, never the one the client wrote, with the proxy\'s address', async () => {
    expect(await addressSeenWith(['127.0.0.1'], FORGED)).toBe('192.0.2.9');
  });

  it('is the socket\'s address when the proxy\'s address is not trusted', async () => {
    expect(await addressSeenWith(['10.0.0.1'], FORGED)).toBe('127.0.0.1');
  });
});
