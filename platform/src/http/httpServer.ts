// The HTTP server shared by the services of one process: security headers, form bodies, /health,
// and bearer-token protection for everything under /api (CONTRACT §5).
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { HealthRegistry } from './health.js';

export interface HttpServerOptions {
  logger: Logger;
  health: HealthRegistry;
  /** Bearer token that /api requires. */
  apiToken: string;
  /** Trust X-Forwarded-For (only behind a reverse proxy; otherwise any client could forge its address). */
  trustProxy?: boolean;
}

function tokenMatches(request: FastifyRequest, expected: Buffer): boolean {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice('Bearer '.length).trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function createHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Fastify's per-request logs carry the URL, and approval links carry tokens in theirs.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: options.trustProxy ?? false,
    bodyLimit: 64 * 1024,
  });
  await app.register(helmet, {
    contentSecurityPolicy: {
      // No upgrade-insecure-requests: on a plain-http PUBLIC_URL it would send form posts to https.
      directives: { defaultSrc: ["'self'"], formAction: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], upgradeInsecureRequests: null },
    },
  });
  await app.register(formbody);

  const expected = Buffer.from(options.apiToken);
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/api/') && request.url !== '/api') return;
    if (!tokenMatches(request, expected)) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'send Authorization: Bearer <API_TOKEN>' });
    }
  });

  app.get('/health', async (_request, reply) => {
    const report = await options.health.run();
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });

  app.setErrorHandler(async (error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    // The route pattern, not the URL: query strings can hold tokens.
    if (status === 500) request.log.error({ err: error, route: request.routeOptions.url, method: request.method }, 'request failed');
    return reply.code(status).send({ error: error.code ?? (status === 500 ? 'internal_error' : 'bad_request'), message: status === 500 ? 'internal error; see the server log' : error.message });
  });
  return app;
}
