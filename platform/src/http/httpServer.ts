// The HTTP server shared by the services of one process: security headers, form bodies, /health,
// and the API's protection (CONTRACT §5). Protection is decided by the route a request matched,
// never by the raw URL: the router decodes `/%61pi/...` to `/api/...`, so a check on the URL text
// can be walked around, while a check attached to the route runs whatever spelling reached it.
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type onRequestHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { ApiCaller, ApiCredentials } from './apiCredentials.js';
import type { MesMetrics } from '../metrics/metrics.js';
import type { HealthRegistry } from './health.js';
import { codeOfStatus, sendProblem } from './problemDetails.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who called a protected route; set before its handler runs. */
    apiCaller?: ApiCaller;
  }
  interface FastifyContextConfig {
    /** Requires the API token (or another authenticator's credential) although the path is not under /api. */
    protected?: boolean;
  }
}

/** How the server decides the client's address from X-Forwarded-For (see TRUST_PROXY in the README). */
export type TrustProxy = false | number | string[];

export interface HttpServerOptions {
  logger: Logger;
  health: HealthRegistry;
  /** Bearer tokens that protected routes accept. */
  credentials: ApiCredentials;
  /** Proxies in front: a hop count or their addresses; false (default) takes the socket's address. */
  trustProxy?: TrustProxy;
  /** Counts and times every answered request when given. */
  metrics?: MesMetrics;
}

/** Identifies the caller of a protected route by something other than a bearer token (e.g. a console session). */
export type Authenticator = (request: FastifyRequest) => ApiCaller | undefined;

export interface RegisteredRoute {
  method: string;
  /** The route's pattern, e.g. `/api/orders/:orderId/cancel`. */
  url: string;
  protected: boolean;
}

interface ServerState {
  routes: RegisteredRoute[];
  authenticators: Authenticator[];
}

const serverStates = new WeakMap<FastifyInstance, ServerState>();

function stateOf(http: FastifyInstance): ServerState {
  const state = serverStates.get(http);
  if (!state) throw new Error('this Fastify instance was not made by createHttpServer');
  return state;
}

/** Every route registered so far, with whether it needs a credential (tests enumerate them). */
export function registeredRoutes(http: FastifyInstance): readonly RegisteredRoute[] {
  return stateOf(http).routes;
}

/** Adds a way to identify callers of protected routes besides the bearer token. */
export function addAuthenticator(http: FastifyInstance, authenticator: Authenticator): void {
  stateOf(http).authenticators.push(authenticator);
}

/** `/api` and everything below it, `/metrics`, and routes registered with `config: { protected: true }`. */
export function isProtectedRoute(url: string, config: { protected?: boolean } | undefined): boolean {
  return url === '/api' || url.startsWith('/api/') || url === '/metrics' || config?.protected === true;
}

export async function createHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Fastify's per-request logs carry the URL, and approval links carry tokens in theirs.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: fastifyTrustProxy(options.trustProxy ?? false),
    bodyLimit: 64 * 1024,
  });
  const state: ServerState = { routes: [], authenticators: [] };
  serverStates.set(app, state);

  const requireCaller: onRequestHookHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    const caller = options.credentials.identify(request.headers.authorization) ?? firstCaller(state.authenticators, request);
    if (caller === undefined) {
      reply.header('www-authenticate', 'Bearer');
      return sendProblem(reply, 401, 'UNAUTHORIZED', 'send Authorization: Bearer <API_TOKEN> (or sign in to the web console)');
    }
    request.apiCaller = caller;
  };

  // Registered before any route, so it sees every one, in every plugin scope.
  app.addHook('onRoute', (route) => {
    const isProtected = isProtectedRoute(route.url, route.config as { protected?: boolean } | undefined);
    for (const method of [route.method].flat()) state.routes.push({ method, url: route.url, protected: isProtected });
    if (!isProtected) return;
    const own = route.onRequest === undefined ? [] : [route.onRequest].flat();
    route.onRequest = [requireCaller, ...own];
  });

  const { metrics } = options;
  if (metrics !== undefined) {
    app.addHook('onResponse', async (request, reply) => {
      // The route pattern keeps the label set small; a request no route took counts as `unmatched`.
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
      metrics.httpRequestSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    });
  }

  await app.register(helmet, {
    contentSecurityPolicy: {
      // No upgrade-insecure-requests: on a plain-http PUBLIC_URL it would send form posts to https.
      directives: { defaultSrc: ["'self'"], formAction: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], upgradeInsecureRequests: null },
    },
  });
  await app.register(formbody);

  app.get('/health', async (_request, reply) => {
    const report = await options.health.run();
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });

  // Every error the framework or a handler throws, as problem details (status codes unchanged).
  app.setErrorHandler(async (error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    // The route pattern, not the URL: query strings can hold tokens.
    if (status === 500) request.log.error({ err: error, route: request.routeOptions.url, method: request.method }, 'request failed');
    return sendProblem(reply, status, codeOfStatus(status), status === 500 ? 'internal error; see the server log' : error.message);
  });
  app.setNotFoundHandler(async (request, reply) => {
    // The path without its query string, which can hold a token.
    const path = request.url.split('?')[0] ?? '';
    return sendProblem(reply, 404, 'NOT_FOUND', `no route answers ${request.method} ${path}`);
  });
  return app;
}

/** A hop count as the function proxy-addr makes of one: the nearest `hops` addresses are proxies. */
function fastifyTrustProxy(trust: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return trust === 0 ? false : (_address: string, hop: number) => hop < trust;
  return trust;
}

function firstCaller(authenticators: readonly Authenticator[], request: FastifyRequest): ApiCaller | undefined {
  for (const authenticate of authenticators) {
    const caller = authenticate(request);
    if (caller !== undefined) return caller;
  }
  return undefined;
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 addresses. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return v4.startsWith('127.') || address === '::1';
}
