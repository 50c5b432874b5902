// A tiny "service" that adds the web console (GET /) to the process's HTTP server. Started before
// the other services, it sees the routes they register and lists the API's.
import type { RunningService, ServiceDeps } from '@mes/platform';
import { CONSOLE_CONTENT_SECURITY_POLICY, consolePage } from './consolePage.js';

/** "METHOD /api/..." routes, by path, then method. */
function apiRoutes(routes: Set<string>): string[] {
  const path = (route: string) => route.slice(route.indexOf(' ') + 1);
  return [...routes].filter((route) => path(route).startsWith('/api/')).sort((a, b) => path(a).localeCompare(path(b)) || a.localeCompare(b));
}

export async function startConsole(deps: ServiceDeps): Promise<RunningService> {
  const routes = new Set<string>();
  deps.http.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.add(`${method} ${route.url}`);
  });
  deps.http.get('/', async (_request, reply) =>
    reply
      .code(200)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', CONSOLE_CONTENT_SECURITY_POLICY)
      .send(consolePage({ mailbox: routes.has('GET /dev/mailbox'), apiRoutes: apiRoutes(routes) })),
  );
  deps.announce('Web console: {httpUrl}/');
  return { stop: async () => undefined };
}
