import type { RunningService, ServiceDeps } from '@mes/platform';

/** Starts the resources service on shared dependencies; `npm start` runs every service in one process this way. */
export async function start(deps: ServiceDeps): Promise<RunningService> {
  deps.logger.warn('the resources service is a shell so far: it handles no messages yet');
  return { stop: async () => undefined };
}
