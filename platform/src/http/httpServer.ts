// The HTTP server shared by the services of one process: security headers, form bodies, /health,
// and bearer-token protection for everything under /api (CONTRACT §5).
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { HealthRegistry } from './health.js';

export interface HttpServerOptions {
  logger: Logger;
  health: HealthRegistry;
  /** Bearer token that /api requires. */
  apiToken: string;
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
    disableRequestLogging: true,
    trustProxy: true,
    bodyLimit: 64 * 1024,
  });
  await app.register(helmet, {
    contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], formAction: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"] } },
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
    if (status === 500) request.log.error({ err: error, url: request.url }, 'request failed');
    return reply.code(status).send({ error: error.code ?? (status === 500 ? 'internal_error' : 'bad_request'), message: status === 500 ? 'internal error; see the server log' : error.message });
  });
  return app;
}
