// The projections service: migrates the reporting tables (CONTRACT §2) in SQL_URL, keeps them up
// to date from the event log and the telemetry stream (per served plant, or all plants when PLANTS
// is unset), and serves the audit trail and its own status over HTTP.
import { OrderIndex, openSqlSink, type RunningService, type ServiceDeps, type SqlOp, type SqlSink } from '@mes/platform';
import { ChangeFeed, followDeadLetters, registerChangeStream } from '../adapters/changeStream.js';
import { projectionsStatus, registerProjectionRoutes } from '../adapters/projectionRoutes.js';
import { registerReportingRoutes } from '../adapters/reportingRoutes.js';
import { changeNoticesOf } from './changeNotices.js';
import { approvalsWaitingPerPlant } from './reportingQueries.js';
import { followTelemetry } from '../adapters/telemetryFollower.js';
import { followEventLog, type ProjectionSource } from './projectionSources.js';
import { LIVE_TABLES, REPORTING_MIGRATIONS } from './reportingSchema.js';

/** Writes failing this long make GET /health report the SQL database as down. */
const FAILING_HEALTH_MS = 15_000;

export interface ProjectionsOptions {
  /** Items per transaction. Default 1000. */
  batchSize?: number;
  /** Longest an item waits for its batch to fill. Default 20 ms. */
  flushMs?: number;
}

export function createProjectionsService(options: ProjectionsOptions = {}) {
  return (deps: ServiceDeps) => startProjections(deps, options);
}

/** Starts the projections service on shared dependencies; `npm start` runs every service in one process this way. */
export async function start(deps: ServiceDeps): Promise<RunningService> {
  return startProjections(deps, {});
}

async function startProjections(deps: ServiceDeps, options: ProjectionsOptions): Promise<RunningService> {
  const { logger } = deps;
  const sink: SqlSink = await openSqlSink(deps.config.sqlUrl);
  const sources: ProjectionSource[] = [];
  const feed = new ChangeFeed(logger);
  try {
    const applied = await sink.migrate(REPORTING_MIGRATIONS);
    logger.info({ sql: sink.location, migrationsApplied: applied }, 'reporting tables ready');
    const scopes = deps.config.plants ?? [undefined];
    const follow = { sink, tables: LIVE_TABLES, logger, batchSize: options.batchSize, flushMs: options.flushMs, onCommitted: (ops: readonly SqlOp[]) => {
        // The notices are worked out only when a console listens.
        if (feed.clientCount > 0) feed.publish(changeNoticesOf(ops));
      },
    };
    for (const plantId of scopes) {
      sources.push(await followEventLog(deps.eventStore, { ...follow, plantId }));
      sources.push(await followTelemetry(deps.nc, { ...follow, plantId }));
    }
  } catch (err) {
    await Promise.all(sources.map((source) => source.stop()));
    await sink.close();
    feed.close();
    throw err;
  }

  deps.health.register('sql', async () => {
    await sink.ping();
    const failing = sources.map((s) => s.status()).find((s) => s.stats.failingSince !== null && Date.now() - Date.parse(s.stats.failingSince) > FAILING_HEALTH_MS);
    if (failing) throw new Error(`${sink.location}: writing ${failing.source} fails since ${failing.stats.failingSince}: ${failing.stats.lastError}`);
  });
  const orderIndex = new OrderIndex(deps.nc);
  const statusDeps = { nc: deps.nc, sink, sources, eventStore: deps.eventStore };
  registerProjectionRoutes({ http: deps.http, orderIndex, ...statusDeps });
  registerReportingRoutes(deps.http, { sink, eventStore: deps.eventStore, orderIndex });
  registerChangeStream(deps.http, feed);
  const deadLetters = await followDeadLetters(deps.nc, feed, logger);
  deps.metrics.approvalsWaiting.readFrom(async () => [...(await approvalsWaitingPerPlant({ sink }))].map(([plant, value]) => ({ labels: { plant }, value })));
  deps.metrics.projectionBehind.readFrom(async () =>
    (await projectionsStatus(statusDeps)).sources.filter((source) => source.behind !== null).map((source) => ({ labels: { source: source.source }, value: source.behind! })),
  );
  deps.announce(`Reporting tables: ${sink.location}  (status: {httpUrl}/api/projections/status)`);

  return {
    async stop() {
      deadLetters.stop();
      feed.close();
      await Promise.all(sources.map((source) => source.stop()));
      await sink.close();
    },
  };
}
