// The web console at / (CONTRACT §5), as a service of the process's HTTP server:
//   GET  /                    the sign-in when signed out; else the shell the browser code renders into
//   POST /console/sign-in     checks the API token, sets the session cookie, back to /
//   POST /console/sign-out    clears it
//   GET  /console/assets/...  the built browser code and styles (public: they hold no data)
//   GET  /api/console/session who is signed in (protected like all of /api)
// The data comes from the API under /api, which accepts the session cookie as a credential besides
// the bearer token. Signed out, nothing but the sign-in and the static assets answers.
import rateLimit from '@fastify/rate-limit';
import { addAuthenticator, ApiCredentials, DEFAULT_TOKEN_HOLDER, sendProblem, type RunningService, type ServiceDeps } from '@mes/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { loadConsoleAssets, type ConsoleAssets } from './consoleAssets.js';
import { CONSOLE_CONTENT_SECURITY_POLICY, consoleNotBuiltPage, consoleShellPage, signInPage } from './consolePages.js';
import { cookieValue, SESSION_COOKIE, SESSION_TTL_MS, sessionCookie, SessionSigner, type ConsoleSession } from './consoleSession.js';

export interface ConsoleOptions {
  /** Sign-in attempts per client address and minute. Default 20. */
  signInsPerMinute?: number;
  /** Where the built assets are (default: console/dist/web). */
  assetsDirectory?: string;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A browser sends the session cookie with a cross-site request only if SameSite fails it; a
 * request that changes something must also come from this origin by what the browser says.
 */
function fromThisOrigin(request: FastifyRequest): boolean {
  if (SAFE_METHODS.has(request.method)) return true;
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin';
  const origin = request.headers.origin;
  if (typeof origin !== 'string') return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

export function createConsoleService(options: ConsoleOptions = {}) {
  return (deps: ServiceDeps) => startConsole(deps, options);
}

export async function startConsole(deps: ServiceDeps, options: ConsoleOptions = {}): Promise<RunningService> {
  const { http, logger } = deps;
  const tokens = [{ name: DEFAULT_TOKEN_HOLDER, token: deps.secrets.apiToken }, ...deps.config.apiTokens];
  const credentials = new ApiCredentials(tokens);
  const signer = new SessionSigner(deps.secrets.approvalSecret, tokens);
  const secure = new URL(deps.config.publicUrl).protocol === 'https:';

  let assets: ConsoleAssets | undefined;
  let notBuilt: string | undefined;
  try {
    assets = loadConsoleAssets(options.assetsDirectory);
  } catch (err) {
    notBuilt = (err as Error).message;
    logger.error({ err }, 'web console assets missing; / says how to build them');
  }

  const sessionOf = (request: FastifyRequest): ConsoleSession | undefined => signer.verify(cookieValue(request.headers.cookie, SESSION_COOKIE), Date.now());
  addAuthenticator(http, (request) => {
    const session = sessionOf(request);
    return session !== undefined && fromThisOrigin(request) ? { name: session.name, via: 'session' } : undefined;
  });

  const html = (reply: FastifyReply, status: number, body: string) =>
    reply.code(status).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').header('content-security-policy', CONSOLE_CONTENT_SECURITY_POLICY).send(body);
  const mailbox = () => deps.config.smtpUrl === undefined && deps.config.mesEnv !== 'production';
  const signIn = (reply: FastifyReply, status: number, problem?: string) =>
    html(reply, status, signInPage({ styles: assets?.styles ?? [], mailbox: mailbox(), ...(problem === undefined ? {} : { problem }) }));

  http.get('/', async (request, reply) => {
    if (assets === undefined) return html(reply, 503, consoleNotBuiltPage(notBuilt ?? 'the web console is not built'));
    if (sessionOf(request) === undefined) return signIn(reply, 200);
    return html(reply, 200, consoleShellPage(assets));
  });

  // Spelled out (it is ASSETS_PATH) so deploy's route table check finds it.
  http.get<{ Params: { file: string } }>('/console/assets/:file', async (request, reply) => {
    const asset = assets?.files.get(request.params.file);
    if (asset === undefined) return sendProblem(reply, 404, 'NOT_FOUND', `no console asset ${request.params.file}`);
    // Names carry a hash of the content, so a cached copy is never stale.
    return reply.header('content-type', asset.contentType).header('cache-control', 'public, max-age=31536000, immutable').send(asset.body);
  });

  await http.register(async (scope) => {
    await scope.register(rateLimit, { global: false });
    const limit = scope.rateLimit({ max: options.signInsPerMinute ?? 20, timeWindow: 60_000 });
    scope.post<{ Body: { token?: unknown } | undefined }>('/console/sign-in', { onRequest: limit }, async (request, reply) => {
      // Another site's form must not sign a visitor in (into someone else's session).
      if (!fromThisOrigin(request)) return signIn(reply, 403, 'Sign in from this console\'s own page.');
      const token = typeof request.body?.token === 'string' ? request.body.token.trim() : '';
      const caller = token === '' ? undefined : credentials.identify(`Bearer ${token}`);
      if (caller === undefined) {
        logger.info({ client: request.ip }, 'console sign-in refused: not a known API token');
        return signIn(reply, 401, 'That is not a valid API token.');
      }
      logger.info({ caller: caller.name }, 'console sign-in');
      return reply.code(303).header('set-cookie', sessionCookie(signer.sign(caller.name, Date.now()), { secure, maxAgeMs: SESSION_TTL_MS })).header('location', '/').header('cache-control', 'no-store').send();
    });
  });

  http.post('/console/sign-out', async (request, reply) =>
    !fromThisOrigin(request) ? signIn(reply, 403, 'Sign out from this console\'s own page.') : reply.code(303).header('set-cookie', sessionCookie(undefined, { secure })).header('location', '/').header('cache-control', 'no-store').send(),
  );

  http.get('/api/console/session', async (request, reply) => {
    const session = sessionOf(request);
    return reply.header('cache-control', 'no-store').send({ name: request.apiCaller?.name ?? null, via: request.apiCaller?.via ?? null, expiresAt: session === undefined ? null : new Date(session.expiresAt).toISOString() });
  });

  deps.announce('Web console: {httpUrl}/  (sign in with the API token)');
  return { stop: async () => undefined };
}
